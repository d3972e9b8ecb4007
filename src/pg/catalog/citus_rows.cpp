#include "pg/catalog/citus_rows.hpp"

#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

bool citus_source_registered(Oid source) {
  bool registered = false;
  as_extension_owner([&] {
    registered = spi_scalar("SELECT 1 FROM incview.citus_source WHERE source OPERATOR(pg_catalog.=) $1::pg_catalog.oid",
                            {oid_arg(source)})
                     .has_value();
  });
  return registered;
}

void save_distributed_citus_source(Oid source, const std::string& queue, const std::string& key_column) {
  as_extension_owner([&] {
    spi_exec(
        "INSERT INTO incview.citus_source (source, kind, queue, key_column) "
        "VALUES ($1::pg_catalog.oid, 'distributed', $2::pg_catalog.regclass, $3)",
        {oid_arg(source), text_arg(queue), text_arg(key_column)});
  });
}

void save_reference_citus_source(Oid source) {
  as_extension_owner([&] {
    spi_exec(
        "INSERT INTO incview.citus_source (source, kind) VALUES ($1::pg_catalog.oid, 'reference') "
        "ON CONFLICT (source) DO NOTHING",
        {oid_arg(source)});
  });
}

std::vector<std::string> forget_unread_citus_sources() {
  std::vector<std::string> queues;
  as_extension_owner([&] {
    const uint64 n = spi_exec(
        "DELETE FROM incview.citus_source c WHERE NOT EXISTS "
        "(SELECT 1 FROM incview.stage_source ss WHERE ss.source OPERATOR(pg_catalog.=) c.source) "
        "RETURNING c.queue::pg_catalog.text");
    for (uint64 i = 0; i < n; ++i)
      if (auto q = spi_text(i, 1)) queues.push_back(*q);
  });
  return queues;
}

std::vector<std::pair<Oid, std::string>> citus_key_queues() {
  std::vector<std::pair<Oid, std::string>> queues;
  as_extension_owner([&] {
    const uint64 n = spi_exec(
        "SELECT source::pg_catalog.oid::pg_catalog.text, queue::pg_catalog.text FROM incview.citus_source "
        "WHERE kind OPERATOR(pg_catalog.=) 'distributed' AND queue IS NOT NULL ORDER BY source",
        {}, true);
    for (uint64 i = 0; i < n; ++i)
      queues.push_back({static_cast<Oid>(std::stoul(spi_text_or(i, 1, "0"))), spi_text_or(i, 2, "")});
  });
  return queues;
}

}  // namespace incview::pg
