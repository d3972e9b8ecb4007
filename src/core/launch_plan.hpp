// The launcher's decisions about databases (issue 20), as plain data: when a database
// needs a scheduler, and which of the waiting ones get one of the budget's free places.
// Times are microseconds on one clock (PostgreSQL's TimestampTz); kNever is "no time".
#pragma once
#include "core/no_postgres.hpp"

#include <cstdint>
#include <limits>
#include <vector>

namespace incview {

inline constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

struct DatabaseDemandFacts {
  bool work_pending = false;                // a commit queued keys of a continuous stage
  bool dirtied = false;                     // a commit queued keys of any stage since the last look
  std::int64_t dirtied_at = 0;              // when dirtied was first set
  std::int64_t next_due = kNever;           // left by the last scheduler: due then regardless
  std::int64_t next_due_if_dirty = kNever;  // due then if dirtied
  std::int64_t min_max_lag_us = 0;          // ... or this long after dirtied_at (0: none)
};

// When the database needs a scheduler: now-or-earlier when work is pending.
std::int64_t due_time(const DatabaseDemandFacts& d);

struct WaitingDatabase {
  std::uint32_t id;
  std::int64_t waiting_since;
};

// Indexes into `waiting` of the databases to start, oldest waiting first (ties by id), at
// most `free_places` of them.
std::vector<std::size_t> launch_order(const std::vector<WaitingDatabase>& waiting, int free_places);

}  // namespace incview
