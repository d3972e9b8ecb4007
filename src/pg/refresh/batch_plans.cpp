#include "pg/refresh/batch_plans.hpp"

#include "pg/citus/citus.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/plan_cache.hpp"

namespace incview::pg {

namespace {

// Plans of statements of stages that were dropped or changed stay until the cache is full,
// then all are freed together (at a moment when none runs) and made again as needed.
// Generic: planning per execution is what this saves (a custom plan is made per call).
PlanCache plans(64, CURSOR_OPT_GENERIC_PLAN);

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
  std::vector<Oid> types = spi_arg_types(args);
  SPIPlanPtr plan = batch_plan(sql, types);
  if (!plan) return spi_exec(sql, args);
  PlanCache::InUse guard(plans);
  return spi_exec_plan(plan, args, sql);
}

}  // namespace incview::pg
