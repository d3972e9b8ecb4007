// Thin SPI helpers; every PostgreSQL call inside goes through pg_call (the exit guard).
#pragma once
#include "pg/pg_headers.hpp"

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

void spi_connect();
void spi_finish();

// Runs one statement (callers never pass multi-statement text built from user input)
// and returns SPI_processed. Result rows stay in SPI_tuptable until the next call.
uint64 spi_exec(const std::string& sql, const std::vector<SpiArg>& args = {}, bool read_only = false,
                long max_rows = 0);

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
