#include "pg/storage/partitions.hpp"

#include "core/sql_text.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/role.hpp"
#include "pg/catalog/queue_markers.hpp"
#include "pg/catalog/stage_definition.hpp"

namespace incview::pg {

namespace {

std::string partition_key_type(const StageRecord& stage) {
  return column_type(stage.target, stage.partition.column).value_or("text");
}

// Months in the range bucket width ("1 month" -> 1, "1 year" -> 12), 0 for day/time widths.
int64 bucket_months(const std::string& width) {
  spi_exec(
      "SELECT (extract(year FROM $1::interval) * 12 + extract(month FROM $1::interval))::bigint, "
      "       extract(day FROM $1::interval) = 0 AND extract(epoch FROM $1::interval - "
      "         make_interval(months => (extract(year FROM $1::interval) * 12 + extract(month FROM "
      "$1::interval))::int)) = 0",
      {text_arg(width)});
  const int64 months = spi_int8(0, 1);
  if (months > 0 && !spi_bool(0, 2))
    throw Error(sqlstate::kInvalidParameterValue, "a range bucket width mixes months with days or time: " + width, "",
                "use a whole number of months ('1 month', '1 year') or of days/hours ('7 days')");
  return months;
}

// SQL for the lower bound of the bucket holding x.col.
std::string bucket_lower(const StageRecord& stage, const std::string& col) {
  const auto& p = stage.partition;
  if (p.numeric_range) return "floor(" + col + " / " + p.interval + "::numeric) * " + p.interval;
  const int64 months = bucket_months(p.interval);
  if (months > 0) {
    // Aligned to whole multiples of the width since year 0: 3-month buckets are quarters.
    const std::string m = "(extract(year FROM " + col + ")::int * 12 + extract(month FROM " + col + ")::int - 1)";
    return "date_trunc('month', " + col + ") - make_interval(months => " + m + " % " + std::to_string(months) + ")";
  }
  return "date_bin(" + quote_literal(p.interval) + "::interval, " + col + ", timestamp '2000-01-01')";
}

// Partition DDL fires no row or statement triggers: stages reading this table get an
// "every scope" marker instead.
void dirty_downstream_everywhere(const StageRecord& stage) { queue_every_scope_for_readers_of(stage.target); }

void create_partition(const StageRecord& stage, const std::string& suffix, const std::string& bound) {
  const std::string name = quote_qualified(stage.target_schema, partition_name(stage.target_table, suffix));
  if (spi_scalar("SELECT pg_catalog.to_regclass($1)::text", {text_arg(name)})) return;
  spi_exec("CREATE TABLE " + name + " PARTITION OF " + stage.shape.target + " " + bound);
}

}  // namespace

void check_range_width(const std::string& width) {
  if (spi_scalar("SELECT $1::interval <= interval '0'", {text_arg(width)}) == std::optional<std::string>("t"))
    throw Error(sqlstate::kInvalidParameterValue, "a range bucket width must be positive: " + width);
  (void)bucket_months(width);
}

void create_hash_partitions(const StageRecord& stage) {
  for (int i = 0; i < stage.partition.modulus; ++i)
    create_partition(stage, std::to_string(i),
                     "FOR VALUES WITH (MODULUS " + std::to_string(stage.partition.modulus) + ", REMAINDER " +
                         std::to_string(i) + ")");
}

void ensure_partitions(const StageRecord& stage, const std::string& rows_sql, const std::vector<SpiArg>& args) {
  const std::string col = "x." + quote_ident(stage.partition.column);
  std::vector<std::pair<std::string, std::string>> wanted;  // suffix, bound
  if (stage.partition.method == PartitionMethod::List) {
    // One partition per value, named by a hash of the value so the name is stable.
    const uint64 n = spi_exec("SELECT DISTINCT " + col + "::text, substr(md5(" + col + "::text), 1, 12) FROM (" +
                                  rows_sql + ") AS x",
                              args);
    for (uint64 i = 0; i < n; ++i) {
      auto value = spi_text(i, 1);
      if (!value)
        wanted.push_back({"null", "FOR VALUES IN (NULL)"});
      else
        wanted.push_back({spi_text_or(i, 2, ""), "FOR VALUES IN (" + quote_literal(*value) + ")"});
    }
  } else {
    const std::string lo = bucket_lower(stage, col);
    const std::string width = stage.partition.numeric_range ? stage.partition.interval
                                                            : quote_literal(stage.partition.interval) + "::interval";
    const std::string fmt =
        stage.partition.numeric_range ? "replace(b.lo::text, '-', 'm')" : "to_char(b.lo, 'YYYYMMDD\"_\"HH24MISS')";
    const uint64 n = spi_exec("SELECT b.lo::text, (b.lo + " + width + ")::text, " + fmt + " FROM (SELECT DISTINCT " +
                                  lo + " AS lo FROM (" + rows_sql + ") AS x WHERE " + col + " IS NOT NULL) AS b",
                              args);
    for (uint64 i = 0; i < n; ++i)
      wanted.push_back({spi_text_or(i, 3, ""), "FOR VALUES FROM (" + quote_literal(spi_text_or(i, 1, "")) + ") TO (" +
                                                   quote_literal(spi_text_or(i, 2, "")) + ")"});
  }
  for (const auto& [suffix, bound] : wanted) create_partition(stage, suffix, bound);
}

int64 drop_expired_partitions(const StageRecord& stage) {
  if (stage.partition.method != PartitionMethod::Range || stage.partition.column != stage.shape.retention_column ||
      stage.partition.numeric_range)
    return 0;
  // A partition whose upper bound is at or before the cutoff holds only expired rows.
  const uint64 n = spi_exec(
      "SELECT format('%I.%I', ns.nspname, c.relname) "
      "FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid "
      "JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace "
      "WHERE i.inhparent = $1 AND substring(pg_catalog.pg_get_expr(c.relpartbound, c.oid) FROM 'TO \\(''([^'']*)''\\)')"
      "      ::timestamptz <= now() - $2::interval",
      {oid_arg(stage.target), text_arg(stage.shape.retention_keep)});
  std::vector<std::string> parts;
  for (uint64 i = 0; i < n; ++i) parts.push_back(spi_text_or(i, 1, ""));
  int64 rows = 0;
  for (const auto& p : parts) {
    rows += std::stoll(spi_scalar("SELECT count(*) FROM " + p).value_or("0"));
    spi_exec("DROP TABLE " + p);
  }
  if (!parts.empty()) dirty_downstream_everywhere(stage);
  return rows;
}

int64 rebuild_list_partition(const StageRecord& stage, const std::string& value) {
  if (stage.partition.method != PartitionMethod::List)
    throw Error(sqlstate::kFeatureNotSupported, "stage \"" + stage.name + "\" is not list-partitioned",
                "only a list partition (one value of the context key) can be rebuilt alone");
  const std::string type = partition_key_type(stage);
  const std::string suffix = *spi_scalar("SELECT substr(md5($1::" + type + "::text), 1, 12)", {text_arg(value)});
  const std::string name = partition_name(stage.target_table, suffix);
  const std::string qualified = quote_qualified(stage.target_schema, name);
  const std::string staging = quote_qualified(stage.target_schema, partition_name(stage.target_table, "new_" + suffix));
  const StageSql sql(stage.shape);
  const std::string col = quote_ident(stage.partition.column);

  // Build beside: readers of the table, this partition included, are not disturbed.
  if (spi_scalar("SELECT pg_catalog.to_regclass($1)::text", {text_arg(staging)})) spi_exec("DROP TABLE " + staging);
  spi_exec("CREATE TABLE " + staging + " (LIKE " + stage.shape.target + " INCLUDING DEFAULTS)");
  int64 rows = 0;
  with_session_settings(stage.search_path, [&] {
    rows = static_cast<int64>(spi_exec("INSERT INTO " + staging + " (" + column_list(stage.shape.columns) +
                                           ") SELECT " + column_list(stage.shape.columns, "s") + " FROM " +
                                           sql.wrap_query("s") + " WHERE s." + col + " = $1::" + type,
                                       {text_arg(value)}));
  });
  // Swap: a brief exclusive lock on the parent while the partitions trade places. (Our own
  // DDL on the stage's partitions: nothing for the stage DDL event triggers to follow.)
  OwnStageDdl own;
  if (spi_scalar("SELECT pg_catalog.to_regclass($1)::text", {text_arg(qualified)})) {
    spi_exec("ALTER TABLE " + stage.shape.target + " DETACH PARTITION " + qualified);
    spi_exec("DROP TABLE " + qualified);
  }
  spi_exec("ALTER TABLE " + staging + " RENAME TO " + quote_ident(name));
  spi_exec("ALTER TABLE " + stage.shape.target + " ATTACH PARTITION " + qualified + " FOR VALUES IN (" +
           quote_literal(value) + ")");
  dirty_downstream_everywhere(stage);
  return rows;
}

}  // namespace incview::pg
