#include "pg/catalog/queue_markers.hpp"

#include "core/capture_sql.hpp"
#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

void queue_every_scope(int32 stage_id) {
  as_extension_owner(
      [&] { spi_exec("INSERT INTO incview.dirty_scope (stage_id, key) VALUES ($1, NULL)", {int4_arg(stage_id)}); });
}

void queue_every_scope_for_readers_of(const std::vector<Oid>& rels) {
  if (rels.empty()) return;
  std::string oids = "{";
  for (size_t i = 0; i < rels.size(); ++i) oids += (i ? "," : "") + std::to_string(rels[i]);
  oids += "}";
  as_extension_owner([&] {
    spi_exec(
        "INSERT INTO incview.dirty_scope (stage_id, key) "
        "SELECT DISTINCT ss.stage_id, NULL::jsonb FROM incview.stage_source ss "
        "WHERE ss.source IN (SELECT a.anc FROM unnest($1::oid[]) AS r(rel), "
        "                    LATERAL pg_catalog.pg_partition_ancestors(r.rel) AS a(anc))",
        {text_arg(oids)});
  });
}

void queue_every_scope_for_readers_of(Oid table) {
  as_extension_owner([&] {
    spi_exec(
        "INSERT INTO incview.dirty_scope (stage_id, key) "
        "SELECT DISTINCT ss.stage_id, NULL::jsonb FROM incview.stage_source ss WHERE ss.source = $1",
        {oid_arg(table)});
  });
}

void queue_every_scope_once_for_readers_of(Oid source) {
  as_extension_owner([&] {
    spi_exec(
        "INSERT INTO incview.dirty_scope (stage_id, key) "
        "SELECT ss.stage_id, NULL FROM incview.stage_source ss WHERE ss.source OPERATOR(pg_catalog.=) "
        "$1::pg_catalog.oid "
        "AND NOT EXISTS (SELECT 1 FROM incview.dirty_scope q WHERE q.stage_id OPERATOR(pg_catalog.=) ss.stage_id "
        "                AND q.key IS NULL)",
        {oid_arg(source)});
  });
}

void queue_keys(int32 stage_id, int64 cap, const std::string& keys) {
  as_extension_owner([&] { spi_exec(queue_keys_statement(), {int4_arg(stage_id), int8_arg(cap), text_arg(keys)}); });
}

int64 queue_keys_for_readers_of(Oid source, const std::string& keys) {
  int64 queued = 0;
  as_extension_owner([&] {
    queued =
        static_cast<int64>(spi_exec("INSERT INTO incview.dirty_scope (stage_id, key) "
                                    "SELECT ss.stage_id, e.k FROM incview.stage_source ss, "
                                    "pg_catalog.jsonb_array_elements($2::pg_catalog.jsonb) e(k) "
                                    "WHERE ss.source OPERATOR(pg_catalog.=) $1::pg_catalog.oid",
                                    {oid_arg(source), text_arg(keys)}));
  });
  return queued;
}

}  // namespace incview::pg
