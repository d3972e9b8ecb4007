#include "pg/citus/citus.hpp"

#include <algorithm>

#include "core/sql_text.hpp"
#include "pg/catalog/citus_rows.hpp"
#include "pg/catalog/queue_markers.hpp"
#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"

extern "C" {
#include "access/transam.h"
#include "commands/extension.h"
}

namespace incview::pg {

namespace {

constexpr const char* kTriggerNames[] = {"incview_capture_ins", "incview_capture_upd", "incview_capture_del",
                                         "incview_capture_trunc"};

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// Citus' metadata for one table; nullopt when it is not a Citus table.
std::optional<CitusTable> citus_table(Oid rel) {
  std::optional<CitusTable> out;
  as_extension_owner([&] {
    const uint64 n = spi_exec(
        "SELECT p.logicalrelid::pg_catalog.text, p.partmethod::pg_catalog.text, p.repmodel::pg_catalog.text, "
        "       p.colocationid::pg_catalog.int8, a.attname::pg_catalog.text, a.atttypid::pg_catalog.text "
        "FROM pg_catalog.pg_dist_partition p "
        "LEFT JOIN pg_catalog.pg_attribute a ON p.partmethod OPERATOR(pg_catalog.=) 'h' "
        "  AND a.attrelid OPERATOR(pg_catalog.=) p.logicalrelid "
        "  AND a.attname OPERATOR(pg_catalog.=) pg_catalog.column_to_column_name(p.logicalrelid, p.partkey) "
        "WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1::pg_catalog.oid",
        {oid_arg(rel)}, true);
    if (n == 0) return;
    CitusTable t;
    t.rel = rel;
    t.name = spi_text_or(0, 1, "?");
    const std::string partmethod = spi_text_or(0, 2, "");
    const std::string repmodel = spi_text_or(0, 3, "");
    t.colocation = spi_int8(0, 4);
    t.reference = partmethod == "n" && repmodel == "t";
    if (partmethod == "h") {
      t.method = "hash";
      t.dist_column = spi_text_or(0, 5, "");
      t.dist_type = static_cast<Oid>(std::stoul(spi_text_or(0, 6, "0")));
    } else if (t.reference) {
      t.method = "reference";
    } else if (partmethod == "n") {
      t.method = t.colocation == 0 ? "Citus local table" : "single-shard distributed table";
    } else {
      t.method = partmethod == "a" ? "append-distributed" : "range-distributed";
    }
    out = t;
  });
  return out;
}

Error refusal(const std::string& message, const std::string& detail, const std::string& hint) {
  return Error(sqlstate::kFeatureNotSupported, message, detail, hint);
}

}  // namespace

bool citus_present() {
  bool present = false;
  as_extension_owner([&] {
    present =
        spi_scalar("SELECT 1 WHERE pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL").has_value();
  });
  return present;
}

bool citus_installed() {
  bool installed = false;
  pg_call([&] { installed = OidIsValid(get_extension_oid("citus", true)); });
  return installed;
}

bool is_citus_table(Oid rel) { return citus_present() && citus_table(rel).has_value(); }

CitusStage plan_citus_stage(const std::vector<Oid>& query_tables, const std::vector<Oid>& citus,
                            const std::vector<Oid>& function_tables, const std::vector<std::string>& scope,
                            bool partitioned) {
  CitusStage out;
  if (citus.empty()) return out;
  for (Oid rel : function_tables)
    if (std::find(citus.begin(), citus.end(), rel) != citus.end() || is_citus_table(rel))
      throw refusal("the stage query reads Citus table " + citus_table(rel)->name + " inside a function",
                    "changes to it would be seen on its shards only; pg_incview captures the Citus tables the query "
                    "names itself",
                    "name the table in the stage query instead of reading it inside the function");
  for (Oid rel : citus) out.tables.push_back(*citus_table(rel));
  std::vector<std::string> local;
  for (Oid rel : query_tables)
    if (std::find(citus.begin(), citus.end(), rel) == citus.end()) {
      std::optional<std::string> name;
      as_extension_owner([&] {
        name = spi_scalar(
            "SELECT c.oid::pg_catalog.regclass::pg_catalog.text FROM pg_catalog.pg_class c "
            "WHERE c.oid OPERATOR(pg_catalog.=) $1 AND c.relkind IN ('r', 'p')",
            {oid_arg(rel)});
      });
      if (name) local.push_back(*name);
    }
  if (!local.empty())
    throw refusal("the stage query joins Citus tables with local table(s) " + join_names(local),
                  "a stage over Citus tables is refreshed on the shards, where the coordinator's local tables are "
                  "not",
                  "make them reference tables (SELECT create_reference_table('...')) or distribute them co-located "
                  "by the scope column");
  if (partitioned)
    throw refusal("partition_by is not supported for a stage over Citus tables",
                  "its table is a distributed (or reference) table, split into shards by Citus",
                  "leave partition_by out");
  for (const auto& t : out.tables) {
    if (t.reference) continue;
    if (t.method != "hash")
      throw refusal("Citus table " + t.name + " is a " + t.method + ", which pg_incview cannot capture",
                    "pg_incview captures hash-distributed tables (by the stage's scope column) and reference tables",
                    "distribute it with create_distributed_table('" + t.name +
                        "', '<scope column>'), or make it a "
                        "reference table");
    const std::string want = scope.size() == 1 ? scope[0] : "";
    if (scope.size() != 1 || t.dist_column != want)
      throw refusal("the scope of a stage over distributed table " + t.name + " must be its distribution column \"" +
                        t.dist_column + "\"",
                    "the scope is (" + join_names(scope) +
                        "): scopes are captured on the shards and refreshed shard by shard, so one scope's rows must "
                        "live on one shard",
                    "use scope => ARRAY['" + t.dist_column + "'], or distribute " + t.name +
                        " by the scope column (alter_distributed_table)");
    Oid base = InvalidOid;
    const Oid type = t.dist_type;
    pg_call([&] { base = getBaseType(type); });
    if (base >= FirstNormalObjectId)
      throw refusal("distribution column \"" + t.dist_column + "\" of " + t.name + " has a user-defined type",
                    "its values are queued by pg_incview's own trigger code, which runs no user code",
                    "distribute by a column of a built-in type");
  }
  const CitusTable* first = nullptr;
  for (const auto& t : out.tables)
    if (!t.reference) {
      if (!first)
        first = &t;
      else if (t.colocation != first->colocation)
        throw refusal("distributed tables " + first->name + " and " + t.name + " are not co-located",
                      "a scope's rows must live on one shard of every source for the refresh to run on the shards",
                      "distribute them with colocate_with => '" + first->name + "'");
    }
  if (first) out.colocate_with = first->name;
  return out;
}

void citus_sequential_for_transaction() {
  pg_call([&] {
    (void)set_config_option("citus.multi_shard_modify_mode", "sequential", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL,
                            true, 0, false);
  });
}

void distribute_stage_table(const CitusStage& stage, const std::string& target, const std::string& scope_column) {
  if (stage.colocate_with)
    spi_exec("SELECT pg_catalog.create_distributed_table($1::pg_catalog.regclass, $2, colocate_with => $3)",
             {text_arg(target), text_arg(scope_column), text_arg(*stage.colocate_with)});
  else
    spi_exec("SELECT pg_catalog.create_reference_table($1::pg_catalog.regclass)", {text_arg(target)});
}

void install_citus_capture(Oid source) {
  const std::optional<CitusTable> t = citus_table(source);
  if (!t)
    throw Error(sqlstate::kInternalError, "pg_incview: relation " + std::to_string(source) + " is not a Citus table");
  std::string queue_name = "q_" + std::to_string(source);
  std::string args = "('reference')";
  if (!t->reference) {
    args = "('distributed', " + quote_literal(queue_name) + ", " + quote_literal(t->dist_column) + ")";
    as_extension_owner([&] {
      if (citus_source_registered(source)) return;
      const std::string type = *spi_scalar("SELECT pg_catalog.format_type($1, NULL)", {oid_arg(t->dist_type)});
      const std::string queue = "incview_citus." + quote_ident(queue_name);
      // The queue holds keys, not rows: duplicates are fine (the drain deduplicates), so
      // no index and no constraint slow the writers down.
      spi_exec("CREATE TABLE " + queue + " (key " + type + " NOT NULL)");
      spi_exec("SELECT pg_catalog.create_distributed_table($1::pg_catalog.regclass, 'key', colocate_with => $2)",
               {text_arg(queue), text_arg(t->name)});
      save_distributed_citus_source(source, queue, t->dist_column);
    });
  } else {
    save_reference_citus_source(source);
  }
  static const char* const kClauses[] = {
      " AFTER INSERT ON %s REFERENCING NEW TABLE AS incview_new",
      " AFTER UPDATE ON %s REFERENCING OLD TABLE AS incview_old NEW TABLE AS incview_new",
      " AFTER DELETE ON %s REFERENCING OLD TABLE AS incview_old", " AFTER TRUNCATE ON %s"};
  with_citus_triggers([&] {
    for (int i = 0; i < 4; ++i) {
      if (spi_scalar("SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = $1 AND tgname = $2",
                     {oid_arg(source), text_arg(kTriggerNames[i])}))
        continue;
      std::string clause = kClauses[i];
      clause.replace(clause.find("%s"), 2, t->name);
      spi_exec("CREATE TRIGGER " + quote_ident(kTriggerNames[i]) + clause +
               " FOR EACH STATEMENT EXECUTE FUNCTION incview.capture_citus" + args);
    }
  });
}

void forget_unused_citus_sources() {
  if (!catalog_is_0_2() || !citus_present()) return;
  as_extension_owner([&] {
    for (const auto& q : forget_unread_citus_sources()) spi_exec("DROP TABLE IF EXISTS " + q);
  });
}

int64 drain_citus_queues() {
  // Without the citus extension in this database no source is distributed and no key waits
  // on a shard: a catalog lookup in C instead of a statement on every refresh call.
  bool citus = false;
  pg_call([&] { citus = OidIsValid(get_extension_oid("citus", true)); });
  if (!citus) return 0;
  if (!catalog_is_0_2()) return 0;
  int64 moved = 0;
  as_extension_owner([&] {
    for (const auto& [source, queue] : citus_key_queues()) {
      // One distributed statement per source: each shard's keys are deleted on its node, and
      // come back (as the stage's queue form, jsonb arrays) deduplicated.
      const auto keys = spi_scalar("WITH d AS (DELETE FROM " + queue +
                                   " RETURNING key) "
                                   "SELECT pg_catalog.jsonb_agg(DISTINCT pg_catalog.jsonb_build_array(d.key)) FROM d");
      if (!keys) continue;
      moved += queue_keys_for_readers_of(source, *keys);
    }
  });
  return moved;
}

}  // namespace incview::pg
