// Engine `delta` (issue 13): which GROUP BY queries can be maintained by folding per-group
// partial aggregates, and the SQL that captures and folds those partials. Pure text: the
// description of the query comes from src/pg/query/delta_query.cpp (the analyzed tree,
// expressions deparsed), the decision and the statements are made here.
//
// Names the engine owns (documented in docs/engines.md):
//   target table hidden columns  __incview_count       count(*) of the group
//                                __incview_n_<pos>     count of non-NULL arguments behind
//                                                      sum/avg at output position <pos>
//                                __incview_sum_<pos>   the sum behind avg at <pos>
//                                __incview_folded      (float sum/avg only) a fold wrote the
//                                                      group since it was last derived from
//                                                      the source: it may have drifted
//   queue columns                the group columns, __incview_dcount, __incview_dn_<pos>,
//                                __incview_ds_<pos>, __incview_ins_<pos>, __incview_del_<pos>,
//                                __incview_dscale_<pos>
#pragma once
#include "core/no_postgres.hpp"

#include <string>
#include <vector>

namespace incview {

enum class DeltaAgg { GroupKey, CountStar, Count, Sum, Avg, Min, Max };

// One output column of the query, as the extractor saw it.
struct DeltaOutput {
  std::string name;        // output column name
  std::string text;        // the whole expression, deparsed (e.g. "sum(v)", "tag")
  std::string type;        // format_type of the output column
  bool group_key = false;  // the expression is one of the GROUP BY expressions
  bool aggregate = false;  // the expression is one aggregate call (nothing around it)
  // aggregate only:
  std::string function;          // e.g. "sum"
  bool builtin = false;          // the function is pg_catalog's own
  bool star = false;             // count(*)
  std::string arg;               // its one argument, deparsed
  std::string arg_type;          // format_type of the function's declared argument type
  bool arg_fixed_scale = false;  // numeric argument with a declared scale (numeric(p,s))
  bool distinct = false, filter = false, ordered = false;
};

// A query over several relations (UNION ALL branches, inner joins): one "map" query per
// occurrence of a source, the stage's FROM/WHERE with that source read from a transition
// table. Its output columns are the group keys ("__incview_g_<pos>") and the aggregates'
// arguments ("__incview_a_<pos>"), so capture aggregates them like a single table's rows.
struct DeltaMap {
  std::string source;   // the relation, schema-qualified and quoted
  std::string new_sql;  // the map with the source read from incview_new
  std::string old_sql;  // ... from incview_old
};

// What the extractor found in the analyzed query.
struct DeltaQueryDescription {
  std::vector<std::string> problems;  // shapes found that disqualify (already worded)
  int relations = 0;                  // relations the query reads
  std::string source;                 // the one relation, schema-qualified and quoted
  bool has_group_by = false;
  std::string where;                  // deparsed WHERE, empty when none
  std::string having;                 // deparsed HAVING, empty when none
  std::vector<std::string> group_by;  // deparsed GROUP BY expressions
  std::vector<DeltaOutput> outputs;
  // Several relations (UNION ALL or inner joins): the expressions are not deparsed one by
  // one (text, arg, where, having, group_by stay empty); capture reads `maps`, and the table
  // query is the analyzed query with the hidden aggregates appended (set_table_query).
  bool multi = false;
  bool join = false;                 // multi: an inner join (a side's delta reads the others)
  std::vector<std::string> sources;  // every relation read, quoted (multi and single)
  std::vector<DeltaMap> maps;
};

struct DeltaColumn {
  DeltaOutput out;
  DeltaAgg agg = DeltaAgg::GroupKey;
  int pos = 0;               // 1-based output position
  std::string partial_type;  // type of the queue's sum partial (sum, avg)
  // sum/avg over numeric of no declared scale: the result's display scale is the largest
  // scale among the group's values, which a delete can lower; the queue keeps the largest
  // deleted scale and the group is re-derived when it may have been the largest.
  bool tracks_scale = false;
};

// A query that qualifies, with everything the statements need.
class DeltaPlan {
 public:
  // Throws Error(0A000) naming the first part of the query that disqualifies it.
  static DeltaPlan qualify(const DeltaQueryDescription& d);

  const std::vector<DeltaColumn>& columns() const { return columns_; }
  bool has_having() const { return !d_.having.empty(); }
  bool has_extremes() const;  // min or max
  // sum or avg over real/double precision: folds add and subtract floats, whose rounding
  // drifts; such a plan keeps __incview_folded and can re-derive folded groups (rederive()).
  bool has_float_sums() const;

  // Hidden columns of the target (name, type), in order.
  std::vector<std::pair<std::string, std::string>> hidden_columns() const;
  std::vector<std::string> hidden_names() const;
  // The query the engine builds the target from: the user's columns, then the hidden ones.
  std::string table_query() const;
  // Multi-relation queries: the hidden columns' aggregates, each argument written $<pos>
  // (the argument of the aggregate at output position <pos>), for the PostgreSQL side to
  // append to the analyzed query; and the query it deparsed.
  std::vector<std::pair<std::string, std::string>> hidden_aggregates() const;
  void set_table_query(const std::string& sql) { multi_table_query_ = sql; }
  bool multi() const { return d_.multi; }
  bool has_where() const { return !d_.where.empty(); }
  bool joins() const { return d_.join; }
  const std::vector<std::string>& sources() const { return d_.sources; }
  // The capture statements of one source (multi-relation queries; single-table ones have
  // the one source of capture()).
  std::string capture_source(const std::string& queue, const std::string& source, bool with_old, bool with_new) const;
  // CREATE TABLE for the queue (queue: quoted qualified name).
  std::string create_queue(const std::string& queue) const;
  // Capture: the statement's partials into the queue, one row per touched group. with_old /
  // with_new: which transition tables (incview_old, incview_new) the event has.
  std::string capture(const std::string& queue, bool with_old, bool with_new) const;
  // Refresh: consume the queue and fold it into `target` in one statement (one snapshot).
  // Returns one row: (deleted, inserted, updated, groups).
  std::string fold(const std::string& target, const std::string& queue) const;
  // The fold, and in the same statement (same snapshot) a re-derive from the source of at
  // most $1 (bigint) groups a fold wrote since they were derived (__incview_folded): float
  // drift repaired without blocking writers (the queue is consumed as by any fold, never
  // locked). Returns one row: (deleted, inserted, updated, groups, re-derived groups).
  // Only for plans with has_float_sums().
  std::string rederive(const std::string& target, const std::string& queue) const;
  // The fold of the usual case, for plans whose groups never need re-deriving (no HAVING,
  // min/max or numeric scale; empty otherwise): consumes the queue and, in the same
  // statement, UPDATEs every group that exists and keeps a count above zero, and puts the
  // combined partials of every other group (new, vanishing, unchanged) back into the queue
  // for fold() to apply. One UPDATE instead of fold()'s lookup, DELETE, UPDATE and INSERT:
  // a third of the plan nodes to start for a one-row change. Returns one row:
  // (updated groups, groups put back).
  std::string fold_fast(const std::string& target, const std::string& queue) const;
  // The fold of one queued row (issue 13's one-row target), for the plans fold_fast serves
  // (empty otherwise): fold_fast's UPDATE of the group, its partials given as parameters $1..
  // in the queue's column order (queue_columns()). Updates one row or none (a group that is
  // new, vanishes or would not change: fold() applies it). The caller consumes the queued
  // row in the same transaction when it updated one.
  std::string fold_one(const std::string& target) const;
  // The queue's columns, quoted, in create_queue's order.
  std::vector<std::string> queue_columns() const;

 private:
  // fold_fast's UPDATE of a group from its row t and its combined partials a.
  struct FastUpdate {
    std::string new_count;
    std::vector<std::string> cols, vals, sets, old_vals, match;
  };
  FastUpdate fast_update() const;
  std::string fold_sql(const std::string& target, const std::string& queue, bool forced) const;
  // What one side of a statement is read from: FROM text, WHERE, and each output's text.
  struct Input {
    std::string from, where;
    bool mapped = false;  // a map query: columns __incview_g_<pos> / __incview_a_<pos> of m
  };
  std::string partials_select(const Input& in, bool old_side) const;
  std::string key_of(const Input& in, const DeltaColumn& c) const;
  std::string arg_of(const Input& in, const DeltaColumn& c) const;
  std::string insert_partials(const std::string& queue, const std::vector<std::string>& parts, bool combine) const;
  DeltaQueryDescription d_;
  std::string multi_table_query_;
  std::vector<DeltaColumn> columns_;
  std::vector<std::string> group_names_;
};

// The type a sum of `arg_type` has (sum) and the type the engine keeps behind avg; empty
// when the type has no exact or documented algebraic sum here.
std::string delta_sum_type(const std::string& arg_type);
std::string delta_avg_sum_type(const std::string& arg_type);

}  // namespace incview
