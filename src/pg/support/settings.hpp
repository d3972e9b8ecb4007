// incview.* settings (GUCs), defined in _PG_init.
#pragma once
#include "core/refresh_planner.hpp"

namespace incview::pg {

struct Settings {
  bool enabled = true;                                   // background refresh on/off
  int batch_size = 1000;                                 // scope keys per refresh batch
  double full_refresh_ratio = kDefaultFullRefreshRatio;  // auto: rebuild above this dirty share
  double capture_all_ratio = 0.5;                        // capture: one "every scope" marker above this share
  bool delta_capture_direct = true;                      // delta: one-row statements' rows built in C
  int max_workers = 2;                                   // parallel refresh workers per database
  int naptime_ms = 1000;                                 // scheduler wake-up when nothing signals it
  char* databases = nullptr;
  char* default_policy = nullptr;  // policy of stages created from now on (this session)
  int retry_base_ms = 1000;        // first back-off after a failed refresh
  int retry_max_ms = 300000;  // back-off cap       // optional explicit list; empty = every database with the extension
  // Background processes under one budget (worker_budget.hpp):
  int worker_budget = 3;        // schedulers + refresh workers at once, cluster-wide (launcher not counted)
  int idle_timeout_ms = 30000;  // a scheduler with nothing due exits after this
  // synchronous_commit of the background processes' own transactions (worker_common.hpp):
  // an index of kWorkerCommitModes (kWorkerCommitInherit: the configured synchronous_commit).
  int worker_synchronous_commit = 5;
};

extern Settings settings;

// The values of incview.worker_synchronous_commit, as synchronous_commit spells them, and
// "inherit" (the default): whatever synchronous_commit the process got from the server's,
// database's and role's settings.
inline constexpr const char* kWorkerCommitModes[] = {"off", "local", "remote_write", "on", "remote_apply", "inherit"};
inline constexpr int kWorkerCommitInherit = 5;

void define_settings();

}  // namespace incview::pg
