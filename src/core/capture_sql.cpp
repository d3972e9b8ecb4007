#include "core/capture_sql.hpp"

#include "core/error.hpp"
#include "core/sql_text.hpp"

namespace incview {

namespace {

constexpr const char* kOld = "incview_old";
constexpr const char* kNew = "incview_new";

// Queues the keys of CTE `keys`, or one marker if there are more than $2 of them.
std::string queue_from_keys(const std::string& keys_cte) {
  return "WITH keys AS (" + keys_cte +
         "), n AS (SELECT pg_catalog.count(*) AS c FROM keys) "
         "INSERT INTO incview.dirty_scope (stage_id, key) "
         "SELECT $1::pg_catalog.int4, k.key FROM keys k, n WHERE n.c OPERATOR(pg_catalog.<=) $2::pg_catalog.int8 "
         "UNION ALL SELECT $1::pg_catalog.int4, NULL FROM n WHERE n.c OPERATOR(pg_catalog.>) $2::pg_catalog.int8";
}

std::string changed_rows(CaptureEvent event) {
  switch (event) {
    case CaptureEvent::Insert: return std::string("SELECT * FROM ") + kNew;
    case CaptureEvent::Delete: return std::string("SELECT * FROM ") + kOld;
    case CaptureEvent::Update: return std::string("SELECT * FROM ") + kOld + " UNION ALL SELECT * FROM " + kNew;
    case CaptureEvent::Truncate: break;
  }
  throw Error(sqlstate::kInternalError, "no changed rows for TRUNCATE");
}

}  // namespace

MappingKind mapping_kind_from(const std::string& text) {
  if (text == "same") return MappingKind::Same;
  if (text == "lookup") return MappingKind::Lookup;
  return MappingKind::All;
}

namespace {

// SELECT ... AS key: one jsonb key per distinct scope value of the changed rows.
// Deduplicate the raw scope values first and build one jsonb key per distinct value:
// hashing an int is much cheaper than building and hashing a jsonb array per row
// (a 500k-row INSERT over 2,000 patients: capture 0.40 s -> 0.10 s).
// An UPDATE's UNION of old and new values deduplicates already; one row needs nothing.
std::string same_keys(const CaptureSpec& spec, CaptureEvent event, CaptureSize size) {
  const std::string distinct = size != CaptureSize::One && event != CaptureEvent::Update ? "DISTINCT " : "";
  auto values_of = [&](const char* table, const char* alias) {
    return "SELECT " + distinct + column_list(spec.scope, alias) + " FROM " + table + " " + alias;
  };
  std::string rows;
  if (event != CaptureEvent::Delete) rows = values_of(kNew, "n");
  if (event != CaptureEvent::Insert) rows += (rows.empty() ? "" : " UNION ") + values_of(kOld, "o");
  std::vector<std::string> cols;
  for (size_t i = 0; i < spec.scope.size(); ++i) cols.push_back("c" + std::to_string(i + 1));
  return "SELECT pg_catalog.jsonb_build_array(" + join(cols, ", ") + ") AS key FROM (" + rows + ") AS d(" +
         join(cols, ", ") + ")";
}

}  // namespace

std::string capture_statement(const CaptureSpec& spec, CaptureEvent event, CaptureSize size) {
  const std::string marker = "INSERT INTO incview.dirty_scope (stage_id, key) VALUES ($1::pg_catalog.int4, NULL)";
  if (event == CaptureEvent::Truncate) return marker;
  if (spec.kind == MappingKind::All) {
    std::string any;
    if (event != CaptureEvent::Delete) any += std::string("EXISTS (SELECT 1 FROM ") + kNew + ")";
    if (event != CaptureEvent::Insert)
      any += std::string(any.empty() ? "" : " OR ") + "EXISTS (SELECT 1 FROM " + kOld + ")";
    return "INSERT INTO incview.dirty_scope (stage_id, key) SELECT $1::pg_catalog.int4, NULL WHERE " + any;
  }
  if (spec.kind == MappingKind::Lookup) throw Error(sqlstate::kInternalError, "lookup mappings run in two phases");
  const std::string keys = same_keys(spec, event, size);
  if (size == CaptureSize::Many) return queue_from_keys(keys);
  // $2 stays referenced so every variant takes the same parameters.
  return "INSERT INTO incview.dirty_scope (stage_id, key) SELECT $1::pg_catalog.int4, k.key FROM (" + keys +
         ") AS k WHERE $2::pg_catalog.int8 IS NOT NULL";
}

std::string lookup_keys_statement(const CaptureSpec& spec, CaptureEvent event) {
  std::vector<std::string> names;
  for (size_t i = 0; i < spec.scope.size(); ++i) names.push_back("k" + std::to_string(i + 1));
  return "SELECT pg_catalog.array_agg(DISTINCT r.key), pg_catalog.count(*) FROM (SELECT "
         "pg_catalog.jsonb_build_array(" +
         join(names, ", m.").insert(0, "m.") + ") AS key FROM (" + changed_rows(event) + ") AS changed, LATERAL (\n" +
         spec.mapping + "\n) AS m(" + join(names, ", ") + ") LIMIT $1::pg_catalog.int8) AS r";
}

std::string owner_keys_statement(const CaptureSpec& spec, CaptureEvent event) {
  if (spec.kind != MappingKind::Same || event == CaptureEvent::Truncate)
    throw Error(sqlstate::kInternalError, "owner-side keys are for same-column captures of rows");
  return "SELECT pg_catalog.array_agg(k.key), pg_catalog.count(*) FROM (" + same_keys(spec, event, CaptureSize::Many) +
         ") AS k WHERE $1::pg_catalog.int8 IS NOT NULL";
}

std::string table_keys_statement(const CaptureSpec& spec, const std::string& table) {
  std::vector<std::string> cols;
  for (size_t i = 0; i < spec.scope.size(); ++i) cols.push_back("c" + std::to_string(i + 1));
  if (spec.kind == MappingKind::Same)
    return "SELECT pg_catalog.array_agg(k.key), pg_catalog.count(*) FROM (SELECT pg_catalog.jsonb_build_array(" +
           join(cols, ", ") + ") AS key FROM (SELECT DISTINCT " + column_list(spec.scope, "t") + " FROM " + table +
           " t LIMIT $1::pg_catalog.int8) AS d(" + join(cols, ", ") + ")) AS k";
  if (spec.kind == MappingKind::Lookup)
    return "SELECT pg_catalog.array_agg(DISTINCT r.key), pg_catalog.count(*) FROM (SELECT "
           "pg_catalog.jsonb_build_array(" +
           join(cols, ", m.").insert(0, "m.") + ") AS key FROM (SELECT * FROM " + table + ") AS changed, LATERAL (\n" +
           spec.mapping + "\n) AS m(" + join(cols, ", ") + ") LIMIT $1::pg_catalog.int8) AS r";
  throw Error(sqlstate::kInternalError, "table keys are for same or lookup mappings");
}

std::string queue_keys_statement() {
  return queue_from_keys("SELECT pg_catalog.unnest($3::pg_catalog.jsonb[]) AS key");
}

std::string lookup_check_statement(const CaptureSpec& spec, const std::string& source) {
  std::vector<std::string> names;
  for (size_t i = 0; i < spec.scope.size(); ++i) names.push_back("k" + std::to_string(i + 1));
  return "SELECT m.* FROM (SELECT * FROM " + source + " LIMIT 0) AS changed, LATERAL (\n" + spec.mapping + "\n) AS m(" +
         join(names, ", ") + ")";
}

std::string renamed_same_mapping(const std::vector<std::string>& scope, const std::string& from,
                                 const std::string& to) {
  std::vector<std::string> cols;
  for (const auto& c : scope) cols.push_back("changed." + quote_ident(c == from ? to : c) + " AS " + quote_ident(c));
  return "SELECT " + join(cols, ", ");
}

}  // namespace incview
