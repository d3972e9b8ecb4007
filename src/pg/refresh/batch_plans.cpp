#include "pg/refresh/batch_plans.hpp"

#include "core/error.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/plan_cache.hpp"

extern "C" {
#include "commands/extension.h"
}

namespace incview::pg {

namespace {

// Plans of statements of stages that were dropped or changed stay until the cache is full,
// then all are freed together (at a moment when none runs) and made again as needed.
// Generic: planning per execution is what this saves (a custom plan is made per call).
PlanCache plans(64, CURSOR_OPT_GENERIC_PLAN);

bool citus_installed() {
  bool installed = false;
  pg_call([&] { installed = OidIsValid(get_extension_oid("citus", true)); });
  return installed;
}

// The lookup key: everything the plan's meaning depends on that its text does not say.
std::string plan_key(const std::string& sql, const std::vector<Oid>& types) {
  Oid user = InvalidOid;
  std::string path;
  pg_call([&] {
    user = GetUserId();
    path = namespace_search_path ? namespace_search_path : "";
  });
  std::string key = std::to_string(user) + '\0' + path + '\0';
  for (Oid t : types) key += std::to_string(t) + ",";
  key += '\0';
  key += sql;
  return key;
}

// The kept plan, prepared now if needed; nullptr when none can be kept at this moment.
SPIPlanPtr batch_plan(const std::string& sql, std::vector<Oid>& types) {
  return plans.get(plan_key(sql, types), sql, types);
}

}  // namespace

uint64 spi_exec_batch(const std::string& sql, const std::vector<SpiArg>& args, int64 keys) {
  if (keys > kKeptPlanMaxKeys || citus_installed()) return spi_exec(sql, args);
  std::vector<Oid> types;
  std::vector<Datum> values;
  std::vector<char> nulls;
  for (const auto& a : args) {
    types.push_back(a.type);
    values.push_back(a.value);
    nulls.push_back(a.isnull ? 'n' : ' ');
  }
  SPIPlanPtr plan = batch_plan(sql, types);
  if (!plan) return spi_exec(sql, args);
  PlanCache::InUse guard(plans);
  int rc = 0;
  uint64 processed = 0;
  Datum* v = values.data();
  char* n = nulls.data();
  pg_call([&] {
    rc = SPI_execute_plan(plan, v, n, false, 0);
    processed = SPI_processed;
  });
  if (rc < 0)
    throw Error(sqlstate::kInternalError,
                std::string("pg_incview: SPI failed (") + SPI_result_code_string(rc) + ") running: " + sql);
  return processed;
}

}  // namespace incview::pg
