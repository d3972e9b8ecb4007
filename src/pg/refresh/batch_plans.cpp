#include "pg/refresh/batch_plans.hpp"

#include <unordered_map>

#include "core/error.hpp"
#include "pg/support/guard.hpp"

extern "C" {
#include "commands/extension.h"
}

namespace incview::pg {

namespace {

// Plans of statements of stages that were dropped or changed stay until the map is full,
// then all are freed together (at a moment when none runs) and made again as needed.
constexpr size_t kMaxPlans = 64;
std::unordered_map<std::string, SPIPlanPtr> plans;
int running = 0;  // batch statements executing (a nested refresh may run inside one)

struct Running {
  Running() { ++running; }
  ~Running() { --running; }
};

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
  std::string key = plan_key(sql, types);
  auto it = plans.find(key);
  if (it != plans.end()) return it->second;
  if (plans.size() >= kMaxPlans) {
    if (running > 0) return nullptr;  // one of them may be running
    for (auto& kv : plans) {
      SPIPlanPtr p = kv.second;
      pg_call([&] { SPI_freeplan(p); });
    }
    plans.clear();
  }
  SPIPlanPtr plan = nullptr;
  const char* text = sql.c_str();
  const int nargs = static_cast<int>(types.size());
  Oid* t = types.data();
  pg_call([&] {
    // Generic: planning per execution is what this saves (a custom plan is made per call).
    plan = SPI_prepare_cursor(text, nargs, t, CURSOR_OPT_GENERIC_PLAN);
    if (plan) SPI_keepplan(plan);
  });
  if (plan) plans.emplace(std::move(key), plan);
  return plan;
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
  Running guard;
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
