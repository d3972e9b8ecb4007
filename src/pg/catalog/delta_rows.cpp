#include "pg/catalog/delta_rows.hpp"

#include "pg/support/role.hpp"

namespace incview::pg {

void save_rederive_every(int32 stage_id, const SpiArg& every) {
  as_extension_owner([&] {
    spi_exec("UPDATE incview.delta_stage SET rederive_every = $2 WHERE stage_id = $1", {int4_arg(stage_id), every});
  });
}

void save_delta_stage(int32 stage_id, const std::string& queue, const std::string& table_query,
                      const std::string& hidden_json, const std::string& fold, const SpiArg& rederive,
                      const SpiArg& fold_fast, const SpiArg& fold_one) {
  as_extension_owner([&] {
    spi_exec(
        "INSERT INTO incview.delta_stage (stage_id, queue, table_query, hidden_columns, fold, rederive, fold_fast, "
        "fold_one) VALUES ($1, $2::pg_catalog.regclass, $3, "
        "ARRAY(SELECT pg_catalog.jsonb_array_elements_text($4::pg_catalog.jsonb)), $5, $6, $7, $8)",
        {int4_arg(stage_id), text_arg(queue), text_arg(table_query), text_arg(hidden_json), text_arg(fold), rederive,
         fold_fast, fold_one});
  });
}

void save_delta_capture(int32 stage_id, const std::string& source, const std::string& capture_insert,
                        const std::string& capture_update, const std::string& capture_delete,
                        const std::string& pending_check_json, bool waits_for_writers, const std::string& direct) {
  as_extension_owner([&] {
    spi_exec(
        "INSERT INTO incview.delta_capture (stage_id, source, capture_insert, capture_update, capture_delete, "
        "pending_check, waits_for_writers, direct) VALUES ($1, $2::pg_catalog.regclass, $3, $4, $5, "
        "ARRAY(SELECT pg_catalog.jsonb_array_elements_text($6::pg_catalog.jsonb)::pg_catalog.regclass), "
        "$7::pg_catalog.bool, $8)",
        {int4_arg(stage_id), text_arg(source), text_arg(capture_insert), text_arg(capture_update),
         text_arg(capture_delete), text_arg(pending_check_json), text_arg(waits_for_writers ? "true" : "false"),
         direct.empty() ? null_arg(TEXTOID) : text_arg(direct)});
  });
}

void forget_delta_stage(int32 stage_id) {
  as_extension_owner([&] { spi_exec("DELETE FROM incview.delta_stage WHERE stage_id = $1", {int4_arg(stage_id)}); });
}

std::vector<std::string> all_delta_queues() {
  std::vector<std::string> queues;
  as_extension_owner([&] {
    if (!spi_scalar("SELECT pg_catalog.to_regclass('incview.delta_stage')::pg_catalog.text")) return;  // catalog 0.1
    const uint64 n = spi_exec("SELECT d.queue::pg_catalog.text FROM incview.delta_stage d ORDER BY d.stage_id");
    for (uint64 i = 0; i < n; ++i) queues.push_back(spi_text_or(i, 1, ""));
  });
  return queues;
}

namespace {

// The busiest of the sources a subquery ($1) lists, not counting stage $2.
DeltaLoad busiest_of(const std::string& sources_subquery, const std::vector<SpiArg>& args) {
  DeltaLoad load;
  as_extension_owner([&] {
    if (!spi_scalar("SELECT pg_catalog.to_regclass('incview.delta_capture')::pg_catalog.text")) return;  // 0.1
    const uint64 n = spi_exec(
        "SELECT c.source::pg_catalog.text, pg_catalog.count(*) FROM incview.delta_capture c "
        "WHERE c.source OPERATOR(pg_catalog.=) ANY (ARRAY(" +
            sources_subquery +
            ")) AND c.stage_id OPERATOR(pg_catalog.<>) $2 "
            "GROUP BY c.source ORDER BY 2 DESC, 1 LIMIT 1",
        args);
    if (n == 0) return;
    load.source = spi_text_or(0, 1, "");
    load.stages = spi_int8(0, 2);
  });
  return load;
}

}  // namespace

DeltaLoad busiest_delta_source(const std::string& sources_json, int32 except_stage) {
  return busiest_of("SELECT pg_catalog.jsonb_array_elements_text($1::pg_catalog.jsonb)::pg_catalog.regclass",
                    {text_arg(sources_json), int4_arg(except_stage)});
}

DeltaLoad busiest_delta_source_of(int32 stage_id) {
  // stage id 0 is never a stage (serial): every delta stage is counted
  return busiest_of("SELECT s.source FROM incview.stage_source s WHERE s.stage_id OPERATOR(pg_catalog.=) $1",
                    {int4_arg(stage_id), int4_arg(0)});
}

std::optional<std::string> rederive_sql(int32 stage_id) {
  std::optional<std::string> sql;
  as_extension_owner(
      [&] { sql = spi_scalar("SELECT rederive FROM incview.delta_stage WHERE stage_id = $1", {int4_arg(stage_id)}); });
  return sql;
}

void save_rederive_time(int32 stage_id) {
  as_extension_owner([&] {
    spi_exec("UPDATE incview.delta_stage SET last_rederive = now() WHERE stage_id = $1", {int4_arg(stage_id)});
  });
}

}  // namespace incview::pg
