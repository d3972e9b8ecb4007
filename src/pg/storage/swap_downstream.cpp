#include "pg/storage/swap_downstream.hpp"

#include "core/swap_diff_sql.hpp"
#include "core/sql_text.hpp"
#include "pg/catalog/queue_markers.hpp"
#include "pg/catalog/source_rows.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/settings.hpp"
#include "pg/support/spi.hpp"
#include "pg/support/subxact.hpp"

extern "C" {
#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "lib/stringinfo.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/rls.h"
#include "utils/ruleutils.h"
}

namespace incview::pg {

namespace {

// The threshold capture uses for one statement (capture.cpp's marker_threshold), and the
// bound partition_scopes.cpp puts on a stage too small for one: above it, one marker.
constexpr int64 kSmallStageKeyCap = 100000;
int64 key_cap(int64 scopes) {
  return scopes < 100 ? kSmallStageKeyCap : static_cast<int64>(settings.capture_all_ratio * static_cast<double>(scopes));
}

void debug(const std::string& msg) {
  const char* m = msg.c_str();
  pg_call([&] { ereport(DEBUG1, (errmsg("%s", m))); });
}

// The equality of a plain, valid, immediate unique btree index of `table`, one clause per
// key column (o."col" op n."col", the operator schema-qualified); empty when there is none.
// Unique: no two rows of either side share a non-NULL key, so a FULL JOIN on it pairs each
// row with at most one (rows with a NULL in the key: core/swap_diff_sql.hpp).
struct UniqueKey {
  std::vector<std::string> columns;
  std::vector<std::string> equalities;
};

UniqueKey unique_key_of(Oid table) {
  UniqueKey key;
  std::vector<std::string>& clauses = key.equalities;
  pg_call([&] {
    Relation rel = table_open(table, AccessShareLock);
    List* indexes = RelationGetIndexList(rel);
    ListCell* lc;
    foreach (lc, indexes) {
      Relation idx = index_open(lfirst_oid(lc), AccessShareLock);
      Form_pg_index form = idx->rd_index;
      const bool plain = form->indisunique && form->indimmediate && form->indisvalid &&
                         idx->rd_rel->relam == BTREE_AM_OID && RelationGetIndexExpressions(idx) == NIL &&
                         RelationGetIndexPredicate(idx) == NIL;
      if (plain && clauses.empty()) {
        for (int i = 0; i < form->indnkeyatts; ++i) {
          const AttrNumber att = form->indkey.values[i];
          const Oid type = TupleDescAttr(RelationGetDescr(rel), att - 1)->atttypid;
          const Oid op = get_opfamily_member(idx->rd_opfamily[i], idx->rd_opcintype[i], idx->rd_opcintype[i],
                                             BTEqualStrategyNumber);
          if (!OidIsValid(op)) {
            clauses.clear();
            key.columns.clear();
            break;
          }
          const char* name = NameStr(TupleDescAttr(RelationGetDescr(rel), att - 1)->attname);
          key.columns.emplace_back(name);
          const char* col = quote_identifier(name);
          const std::string left = std::string("o.") + col;
          const std::string right = std::string("n.") + col;
          StringInfoData buf;
          initStringInfo(&buf);
          generate_operator_clause(&buf, left.c_str(), type, op, right.c_str(), type);
          clauses.emplace_back(buf.data);
          pfree(buf.data);
        }
      }
      index_close(idx, AccessShareLock);
    }
    list_free(indexes);
    table_close(rel, AccessShareLock);
  });
  return key;
}

// Why a reader gets a marker rather than its keys ("" when the diff can serve it).
std::string refusal(const PartitionReader& r, const std::optional<StageRecord>& reader, Oid table) {
  if (r.kind != "same") return "its mapping of the table is '" + r.kind + "'";
  if (!reader) return "it is gone";
  std::string why;
  pg_call([&] {
    if (pg_class_aclcheck(table, reader->owner, ACL_SELECT) != ACLCHECK_OK) {
      why = "its owner may not read the table";
      return;
    }
    if (check_enable_rls(table, reader->owner, true) == RLS_ENABLED) {
      why = "row level security filters its owner's rows";
      return;
    }
    Relation rel = table_open(table, AccessShareLock);
    TupleDesc desc = RelationGetDescr(rel);
    for (const auto& scope : reader->shape.scope) {
      Oid type = InvalidOid;
      for (int i = 0; i < desc->natts; ++i) {
        Form_pg_attribute a = TupleDescAttr(desc, i);
        if (!a->attisdropped && scope.name == NameStr(a->attname)) type = a->atttypid;
      }
      // Built-in types only (through domains): their jsonb conversion is no one's code.
      if (type == InvalidOid || getBaseType(type) >= FirstNormalObjectId) {
        why = "its scope column \"" + scope.name + "\" is not a built-in-typed column of the table";
        break;
      }
    }
    table_close(rel, AccessShareLock);
  });
  return why;
}

}  // namespace

std::vector<DownstreamScopes> changed_downstream_scopes(const StageRecord& stage, const std::string& new_heap) {
  std::vector<DownstreamScopes> out;
  std::vector<size_t> diffed;  // indexes into `out` of the readers the diff serves
  SwapDiffSpec spec;
  for (const auto& r : readers_of(stage.target)) {
    DownstreamScopes d;
    d.stage_id = r.stage_id;
    d.cap = key_cap(r.scopes);
    const std::optional<StageRecord> reader = find_stage(r.stage);
    const std::string why = refusal(r, reader, stage.target);
    if (!why.empty()) {
      d.every_scope = true;
      debug("stage \"" + r.stage + "\" gets every scope after the storage swap of \"" + stage.name + "\": " + why);
    } else {
      std::vector<std::string> scope;
      for (const auto& c : reader->shape.scope) scope.push_back(c.name);
      spec.readers.push_back(scope);
      diffed.push_back(out.size());
    }
    out.push_back(d);
  }
  if (diffed.empty()) return out;
  UniqueKey key = unique_key_of(stage.target);
  spec.key_columns = std::move(key.columns);
  spec.key_equalities = std::move(key.equalities);
  auto every_scope = [&](const std::string& why) {
    for (size_t i : diffed) out[i].every_scope = true;
    debug("the readers of stage \"" + stage.name + "\" get every scope after its storage swap: " + why);
  };
  if (spec.key_equalities.empty()) {
    every_scope("its table has no plain unique index to compare the old and new rows by");
    return out;
  }
  spec.old_table = stage.shape.target;
  spec.new_heap = new_heap;
  const std::string sql = swap_diff_keys_statement(spec);
  // Any failure costs only precision: every reader the diff was for gets a marker.
  auto error = in_subtransaction([&] {
    const uint64 n = spi_exec(sql, {}, true);
    for (uint64 row = 0; row < n; ++row) {
      DownstreamScopes& d = out[diffed.at(static_cast<size_t>(spi_int8(row, 1)))];
      d.count = spi_int8(row, 3);
      if (d.count > d.cap)
        d.every_scope = true;
      else
        d.keys = spi_text(row, 2);
    }
  });
  if (error) {
    every_scope(error->message);
    return out;
  }
  for (size_t i : diffed)
    debug("stage " + std::to_string(out[i].stage_id) + " after the storage swap of \"" + stage.name +
          "\": " + std::to_string(out[i].count) + " changed scope(s)" +
          (out[i].every_scope ? ", above " + std::to_string(out[i].cap) + ": every scope" : ""));
  return out;
}

void queue_downstream_scopes(const std::vector<DownstreamScopes>& scopes) {
  for (const auto& d : scopes) {
    if (d.every_scope)
      queue_every_scope(d.stage_id);
    else if (d.keys)
      queue_keys(d.stage_id, d.cap, *d.keys);
  }
}

}  // namespace incview::pg
