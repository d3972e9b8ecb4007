// Thin SPI helpers; every PostgreSQL call inside goes through pg_call (the exit guard).
#pragma once
#include "pg/support/pg_headers.hpp"

namespace incview::pg {

struct SpiArg {
  Oid type;
  Datum value;
  bool isnull;
};

SpiArg text_arg(const std::string& value);
SpiArg int4_arg(int32 value);
SpiArg int8_arg(int64 value);
SpiArg oid_arg(Oid value);
SpiArg null_arg(Oid type);

// While one of these lives with on = true (pg_incview's own catalog and queue work, see
// as_extension_owner), spi_exec keeps the prepared plans of its SELECT / INSERT / UPDATE /
// DELETE / WITH statements for the life of the backend instead of parsing and planning them
// on every call (PostgreSQL's plan cache replans them when a table, the role or the search
// path they depend on changes). Statements with a stage's SQL are not kept here (on = false in
// as_stage_owner): only the scoped statements of small batches are, by the refresher, keyed
// by role and search path too (refresh/batch_plans.hpp).
class CatalogPlans {
 public:
  explicit CatalogPlans(bool on = true);
  ~CatalogPlans();
  CatalogPlans(const CatalogPlans&) = delete;
  CatalogPlans& operator=(const CatalogPlans&) = delete;

 private:
  bool saved_;
};

void spi_connect();
void spi_finish();

// Runs one statement (callers never pass multi-statement text built from user input)
// and returns SPI_processed. Result rows stay in SPI_tuptable until the next call.
uint64 spi_exec(const std::string& sql, const std::vector<SpiArg>& args = {}, bool read_only = false,
                long max_rows = 0);

// spi_exec with the statement's plan kept for the life of the backend whatever the scope:
// for statements pg_incview generated once and stored, without parameters, whose plan does
// not depend on a batch (the delta engine's fold, delta_engine.cpp). The caller chooses the
// role and search path as for spi_exec; the plan cache replans when a table, the role's row
// security or the search path the plan depends on changes, and privileges are checked on
// every execution.
uint64 spi_exec_kept(const std::string& sql);
// The same with parameters (the plan kept per statement and parameter types): the delta
// engine's fold of one queued row (DeltaPlan::fold_one).
uint64 spi_exec_kept(const std::string& sql, const std::vector<SpiArg>& args);

// SPI_execute_plan of a plan prepared with the types of `args` (read-write, all rows);
// returns SPI_processed, throws naming `sql` on an SPI error code. The caller keeps the plan
// marked in use while it runs (PlanCache::InUse).
uint64 spi_exec_plan(SPIPlanPtr plan, const std::vector<SpiArg>& args, const std::string& sql);

// The parameter types of `args`, in order (what a plan is prepared with).
std::vector<Oid> spi_arg_types(const std::vector<SpiArg>& args);

// Values of the current SPI_tuptable (0-based row, 1-based column as in SPI).
std::optional<std::string> spi_text(uint64 row, int col);
std::string spi_text_or(uint64 row, int col, const std::string& fallback);
int64 spi_int8(uint64 row, int col);  // NULL reads as 0
bool spi_bool(uint64 row, int col);   // NULL reads as false
Datum spi_datum(uint64 row, int col, bool* isnull);
Oid spi_column_type(int col);

// Runs the statement and returns the first column of the first row as text (nullopt if
// no row or NULL).
std::optional<std::string> spi_scalar(const std::string& sql, const std::vector<SpiArg>& args = {});

}  // namespace incview::pg
