#include "pg/support/spi.hpp"

#include "pg/support/guard.hpp"
#include "pg/support/plan_cache.hpp"

#include <cctype>

namespace incview::pg {

namespace {

bool catalog_plans = false;  // a CatalogPlans(true) is the innermost scope
// Every spi_exec call counts as executing: a kept plan may be in use below it.
PlanCache kept_plans(256, 0);

bool plannable(const std::string& sql) {
  size_t i = 0;
  while (i < sql.size() && (std::isspace(static_cast<unsigned char>(sql[i])) || sql[i] == '(')) ++i;
  std::string word;
  while (i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i])))
    word += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i++])));
  return word == "SELECT" || word == "INSERT" || word == "UPDATE" || word == "DELETE" || word == "WITH";
}

// The kept plan for this statement, prepared now if needed; nullptr when it cannot be kept.
SPIPlanPtr kept_plan(const std::string& sql, std::vector<Oid>& types) {
  std::string key = sql;
  key.push_back('\0');
  for (Oid t : types) key += std::to_string(t) + ",";
  return kept_plans.get(key, sql, types);
}

}  // namespace

CatalogPlans::CatalogPlans(bool on) : saved_(catalog_plans) { catalog_plans = on; }
CatalogPlans::~CatalogPlans() { catalog_plans = saved_; }

SpiArg text_arg(const std::string& value) {
  Datum d = 0;
  const char* s = value.c_str();
  pg_call([&] { d = CStringGetTextDatum(s); });
  return {TEXTOID, d, false};
}
SpiArg int4_arg(int32 value) { return {INT4OID, Int32GetDatum(value), false}; }
SpiArg int8_arg(int64 value) { return {INT8OID, Int64GetDatum(value), false}; }
SpiArg oid_arg(Oid value) { return {OIDOID, ObjectIdGetDatum(value), false}; }
SpiArg null_arg(Oid type) { return {type, 0, true}; }

void spi_connect() {
  int rc = 0;
  pg_call([&] { rc = SPI_connect(); });
  if (rc != SPI_OK_CONNECT) throw Error(sqlstate::kInternalError, "pg_incview: SPI_connect failed");
}

void spi_finish() {
  pg_call([&] { SPI_finish(); });
}

uint64 spi_exec(const std::string& sql, const std::vector<SpiArg>& args, bool read_only, long max_rows) {
  std::vector<Oid> types;
  std::vector<Datum> values;
  std::vector<char> nulls;
  for (const auto& a : args) {
    types.push_back(a.type);
    values.push_back(a.value);
    nulls.push_back(a.isnull ? 'n' : ' ');
  }
  const char* text = sql.c_str();
  const int nargs = static_cast<int>(args.size());
  Oid* t = types.data();
  Datum* v = values.data();
  char* n = nulls.data();
  int rc = 0;
  uint64 processed = 0;
  // read_only would reuse the snapshot and skip the command-counter bump, hiding our own
  // earlier writes (a table created a moment ago); callers mix reads and writes freely.
  (void)read_only;
  SPIPlanPtr plan = catalog_plans && plannable(sql) ? kept_plan(sql, types) : nullptr;
  PlanCache::InUse running(kept_plans);
  pg_call([&] {
    rc = plan ? SPI_execute_plan(plan, v, n, false, max_rows)
              : SPI_execute_with_args(text, nargs, t, v, n, false, max_rows);
    processed = SPI_processed;
  });
  if (rc < 0) {
    throw Error(sqlstate::kInternalError,
                std::string("pg_incview: SPI failed (") + SPI_result_code_string(rc) + ") running: " + sql);
  }
  return processed;
}

uint64 spi_exec_kept(const std::string& sql) {
  std::vector<Oid> types;
  SPIPlanPtr plan = kept_plan(sql, types);
  if (!plan) return spi_exec(sql);  // the kept plans are being replaced: plan this once
  PlanCache::InUse running(kept_plans);
  return spi_exec_plan(plan, {}, sql);
}

uint64 spi_exec_kept(const std::string& sql, const std::vector<SpiArg>& args) {
  std::vector<Oid> types = spi_arg_types(args);
  SPIPlanPtr plan = kept_plan(sql, types);
  if (!plan) return spi_exec(sql, args);  // the kept plans are being replaced: plan this once
  PlanCache::InUse running(kept_plans);
  return spi_exec_plan(plan, args, sql);
}

std::vector<Oid> spi_arg_types(const std::vector<SpiArg>& args) {
  std::vector<Oid> types;
  for (const auto& a : args) types.push_back(a.type);
  return types;
}

uint64 spi_exec_plan(SPIPlanPtr plan, const std::vector<SpiArg>& args, const std::string& sql) {
  std::vector<Datum> values;
  std::vector<char> nulls;
  for (const auto& a : args) {
    values.push_back(a.value);
    nulls.push_back(a.isnull ? 'n' : ' ');
  }
  Datum* v = values.empty() ? nullptr : values.data();
  char* n = nulls.empty() ? nullptr : nulls.data();
  int rc = 0;
  uint64 processed = 0;
  pg_call([&] {
    rc = SPI_execute_plan(plan, v, n, false, 0);
    processed = SPI_processed;
  });
  if (rc < 0)
    throw Error(sqlstate::kInternalError,
                std::string("pg_incview: SPI failed (") + SPI_result_code_string(rc) + ") running: " + sql);
  return processed;
}

std::optional<std::string> spi_text(uint64 row, int col) {
  char* v = nullptr;
  pg_call([&] { v = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col); });
  if (!v) return std::nullopt;
  return std::string(v);
}

std::string spi_text_or(uint64 row, int col, const std::string& fallback) {
  auto v = spi_text(row, col);
  return v ? *v : fallback;
}

Datum spi_datum(uint64 row, int col, bool* isnull) {
  Datum d = 0;
  pg_call([&] { d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull); });
  return d;
}

int64 spi_int8(uint64 row, int col) {
  bool isnull = false;
  Datum d = spi_datum(row, col, &isnull);
  if (isnull) return 0;
  Oid type = spi_column_type(col);
  if (type == INT4OID) return DatumGetInt32(d);
  if (type == INT2OID) return DatumGetInt16(d);
  return DatumGetInt64(d);
}

bool spi_bool(uint64 row, int col) {
  bool isnull = false;
  Datum d = spi_datum(row, col, &isnull);
  return !isnull && DatumGetBool(d);
}

Oid spi_column_type(int col) {
  Oid t = InvalidOid;
  pg_call([&] { t = SPI_gettypeid(SPI_tuptable->tupdesc, col); });
  return t;
}

std::optional<std::string> spi_scalar(const std::string& sql, const std::vector<SpiArg>& args) {
  if (spi_exec(sql, args, false, 0) == 0) return std::nullopt;
  return spi_text(0, 1);
}

}  // namespace incview::pg
