// A stage's partitioning, from create_stage(..., partition_by => ...):
//   'list (season_competition_id)'   one partition per value, created on first use
//   'hash (patient_id) 16'           16 partitions created up front
//   'range (updated_at) 1 month'     one partition per interval bucket, created on first use
//   'range (id) 100000'              numeric buckets of that width
#pragma once
#include "core/no_postgres.hpp"

#include <string>

#include "core/stage_options.hpp"

namespace incview {

struct StagePartitioning {
  PartitionMethod method = PartitionMethod::None;
  std::string column;
  int modulus = 0;       // hash
  std::string interval;  // range: an interval literal ("1 month") or a number ("100000")
  bool numeric_range = false;

  bool partitioned() const { return method != PartitionMethod::None; }
  bool creates_on_demand() const { return method == PartitionMethod::List || method == PartitionMethod::Range; }
};

// Throws Error(22023) explaining the accepted forms.
StagePartitioning parse_partition_by(const std::string& text);

// "PARTITION BY LIST ("col")" etc.
std::string partition_clause(const StagePartitioning& spec);

// Name of the partition holding `suffix` (a value hash, a hash remainder, a bucket start):
// <target>_p_<suffix>, kept within PostgreSQL's 63-byte names.
std::string partition_name(const std::string& target_table, const std::string& suffix);

}  // namespace incview
