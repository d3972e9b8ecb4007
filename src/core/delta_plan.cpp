#include "core/delta_plan.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/sql_text.hpp"

namespace incview {

namespace {

constexpr const char* kHiddenPrefix = "__incview";
constexpr const char* kFoldedColumn = "__incview_folded";

[[noreturn]] void refuse(const std::string& part, const std::string& hint = {}) {
  throw Error(sqlstate::kFeatureNotSupported, "the delta engine cannot maintain this query: " + part,
              "engine delta folds per-group partial aggregates: one table, a UNION ALL of single-table branches or "
              "inner joins of distinct tables, GROUP BY, and count(*), count(x), sum, avg, min, max (optionally "
              "HAVING)",
              hint.empty() ? "use engine replace or diff for this stage" : hint);
}

std::string name_of(const std::string& prefix, int pos) { return quote_ident(prefix + "_" + std::to_string(pos)); }

std::string sign(bool old_side, const std::string& expr) { return old_side ? "-" + expr : expr; }

// How an error names an output column: with its expression where it was deparsed.
std::string column_label(const DeltaOutput& o) {
  return "output column \"" + o.name + "\"" + (o.text.empty() ? std::string() : " (" + o.text + ")");
}

}  // namespace

std::string delta_sum_type(const std::string& t) {
  if (t == "smallint" || t == "integer") return "bigint";
  if (t == "bigint" || t == "numeric") return "numeric";
  if (t == "real" || t == "double precision") return t;
  return "";
}

std::string delta_avg_sum_type(const std::string& t) {
  if (t == "smallint" || t == "integer") return "bigint";
  if (t == "bigint" || t == "numeric") return "numeric";
  if (t == "real" || t == "double precision") return "double precision";
  return "";
}

DeltaPlan DeltaPlan::qualify(const DeltaQueryDescription& d) {
  if (!d.problems.empty()) refuse(d.problems.front());
  if (!d.multi && d.relations != 1)
    refuse("it reads " + std::to_string(d.relations) +
           " relations (only a UNION ALL of single-table branches or inner joins of distinct tables)");
  if (d.multi && d.maps.empty()) refuse("it reads no table");
  if (!d.has_group_by) refuse("it has no GROUP BY");
  DeltaPlan p;
  p.d_ = d;
  int pos = 0;
  std::vector<std::string> group_texts;
  for (const auto& o : d.outputs) {
    ++pos;
    if (o.name.rfind(kHiddenPrefix, 0) == 0)
      refuse("output column \"" + o.name + "\" starts with __incview, a prefix the engine keeps for its own columns");
    DeltaColumn c;
    c.out = o;
    c.pos = pos;
    if (o.group_key) {
      c.agg = DeltaAgg::GroupKey;
      group_texts.push_back(o.text);
      p.group_names_.push_back(quote_ident(o.name));
    } else if (!o.aggregate) {
      refuse(column_label(o) + " is neither a GROUP BY expression nor one aggregate call",
             "compute it in a stage reading this one, or use engine replace");
    } else {
      const std::string call = column_label(o);
      if (!o.builtin) refuse(call + " calls an aggregate that is not one of PostgreSQL's built-in ones");
      if (o.distinct) refuse(call + " uses DISTINCT inside the aggregate");
      if (o.filter) refuse(call + " uses FILTER");
      if (o.ordered) refuse(call + " orders the aggregate's input");
      if (o.function == "count") {
        c.agg = o.star ? DeltaAgg::CountStar : DeltaAgg::Count;
      } else if (o.function == "sum" || o.function == "avg") {
        c.agg = o.function == "sum" ? DeltaAgg::Sum : DeltaAgg::Avg;
        c.partial_type = o.function == "sum" ? delta_sum_type(o.arg_type) : delta_avg_sum_type(o.arg_type);
        if (c.partial_type.empty())
          refuse(call + " sums values of type " + o.arg_type +
                 " (supported: smallint, integer, bigint, numeric, real, double precision)");
        c.tracks_scale = o.arg_type == "numeric" && !o.arg_fixed_scale;
      } else if (o.function == "min" || o.function == "max") {
        c.agg = o.function == "min" ? DeltaAgg::Min : DeltaAgg::Max;
      } else {
        refuse(call + " uses aggregate " + o.function + " (supported: count, sum, avg, min, max)");
      }
    }
    p.columns_.push_back(c);
  }
  if (p.group_names_.empty()) refuse("no output column is a GROUP BY expression");
  for (const auto& g : d.group_by)
    if (std::find(group_texts.begin(), group_texts.end(), g) == group_texts.end())
      refuse("GROUP BY expression " + g + " is not an output column (the engine finds each group by its key)");
  return p;
}

bool DeltaPlan::has_extremes() const {
  return std::any_of(columns_.begin(), columns_.end(),
                     [](const DeltaColumn& c) { return c.agg == DeltaAgg::Min || c.agg == DeltaAgg::Max; });
}

bool DeltaPlan::has_float_sums() const {
  return std::any_of(columns_.begin(), columns_.end(), [](const DeltaColumn& c) {
    return (c.agg == DeltaAgg::Sum || c.agg == DeltaAgg::Avg) &&
           (c.out.arg_type == "real" || c.out.arg_type == "double precision");
  });
}

std::vector<std::pair<std::string, std::string>> DeltaPlan::hidden_columns() const {
  std::vector<std::pair<std::string, std::string>> h{{"__incview_count", "bigint"}};
  for (const auto& c : columns_) {
    if (c.agg == DeltaAgg::Sum || c.agg == DeltaAgg::Avg)
      h.push_back({"__incview_n_" + std::to_string(c.pos), "bigint"});
    if (c.agg == DeltaAgg::Avg) h.push_back({"__incview_sum_" + std::to_string(c.pos), c.partial_type});
  }
  if (has_float_sums()) h.push_back({kFoldedColumn, "boolean"});
  return h;
}

std::vector<std::string> DeltaPlan::hidden_names() const {
  std::vector<std::string> names;
  for (const auto& h : hidden_columns()) names.push_back(h.first);
  return names;
}

std::vector<std::pair<std::string, std::string>> DeltaPlan::hidden_aggregates() const {
  std::vector<std::pair<std::string, std::string>> h{{"__incview_count", "pg_catalog.count(*)"}};
  for (const auto& c : columns_) {
    const std::string arg = "$" + std::to_string(c.pos);
    if (c.agg == DeltaAgg::Sum || c.agg == DeltaAgg::Avg)
      h.push_back({"__incview_n_" + std::to_string(c.pos), "pg_catalog.count(" + arg + ")"});
    if (c.agg == DeltaAgg::Avg)
      h.push_back({"__incview_sum_" + std::to_string(c.pos), "pg_catalog.sum((" + arg + ")::" + c.partial_type + ")"});
  }
  // Derived from the source: nothing folded into it yet (as table_query() says it).
  if (has_float_sums()) h.push_back({kFoldedColumn, "false"});
  return h;
}

std::string DeltaPlan::table_query() const {
  if (d_.multi) return multi_table_query_;
  std::vector<std::string> cols;
  for (const auto& c : columns_) cols.push_back(c.out.text + " AS " + quote_ident(c.out.name));
  cols.push_back("pg_catalog.count(*) AS \"__incview_count\"");
  for (const auto& c : columns_) {
    if (c.agg == DeltaAgg::Sum || c.agg == DeltaAgg::Avg)
      cols.push_back("pg_catalog.count(" + c.out.arg + ") AS " + name_of("__incview_n", c.pos));
    if (c.agg == DeltaAgg::Avg)
      cols.push_back("pg_catalog.sum((" + c.out.arg + ")::" + c.partial_type + ") AS " +
                     name_of("__incview_sum", c.pos));
  }
  // Derived from the source: nothing folded into it yet.
  if (has_float_sums()) cols.push_back("false AS " + quote_ident(kFoldedColumn));
  std::string sql = "SELECT " + join(cols, ", ") + "\nFROM " + d_.source;
  if (!d_.where.empty()) sql += "\nWHERE " + d_.where;
  sql += "\nGROUP BY " + join(d_.group_by, ", ");
  if (!d_.having.empty()) sql += "\nHAVING " + d_.having;
  return sql;
}

std::string DeltaPlan::create_queue(const std::string& queue) const {
  std::vector<std::string> cols;
  for (const auto& c : columns_)
    if (c.agg == DeltaAgg::GroupKey) cols.push_back(quote_ident(c.out.name) + " " + c.out.type);
  cols.push_back("\"__incview_dcount\" bigint NOT NULL");
  for (const auto& c : columns_) {
    switch (c.agg) {
      case DeltaAgg::Count: cols.push_back(name_of("__incview_dn", c.pos) + " bigint NOT NULL"); break;
      case DeltaAgg::Sum:
      case DeltaAgg::Avg:
        cols.push_back(name_of("__incview_dn", c.pos) + " bigint NOT NULL");
        cols.push_back(name_of("__incview_ds", c.pos) + " " + c.partial_type);
        if (c.tracks_scale) cols.push_back(name_of("__incview_dscale", c.pos) + " integer");
        break;
      case DeltaAgg::Min:
      case DeltaAgg::Max:
        cols.push_back(name_of("__incview_ins", c.pos) + " " + c.out.type);
        cols.push_back(name_of("__incview_del", c.pos) + " " + c.out.type);
        break;
      default: break;
    }
  }
  return "CREATE TABLE " + queue + " (" + join(cols, ", ") + ")";
}

std::string DeltaPlan::key_of(const Input& in, const DeltaColumn& c) const {
  return in.mapped ? "m." + name_of("__incview_g", c.pos) : c.out.text;
}

std::string DeltaPlan::arg_of(const Input& in, const DeltaColumn& c) const {
  return in.mapped ? "m." + name_of("__incview_a", c.pos) : c.out.arg;
}

// One side of a statement (new rows counted +, old rows -), grouped: the group columns
// first, then the partials in the queue's column order.
std::string DeltaPlan::partials_select(const Input& in, bool old_side) const {
  std::vector<std::string> cols;
  int k = 0;
  for (const auto& c : columns_)
    if (c.agg == DeltaAgg::GroupKey) {
      cols.push_back(key_of(in, c) + " AS " + quote_ident(c.out.name));
      ++k;
    }
  cols.push_back(sign(old_side, "pg_catalog.count(*)") + " AS \"__incview_dcount\"");
  for (const auto& c : columns_) {
    const std::string x = c.agg == DeltaAgg::GroupKey || c.agg == DeltaAgg::CountStar ? "" : arg_of(in, c);
    switch (c.agg) {
      case DeltaAgg::Count:
        cols.push_back(sign(old_side, "pg_catalog.count(" + x + ")") + " AS " + name_of("__incview_dn", c.pos));
        break;
      case DeltaAgg::Sum:
      case DeltaAgg::Avg: {
        cols.push_back(sign(old_side, "pg_catalog.count(" + x + ")") + " AS " + name_of("__incview_dn", c.pos));
        // sum over the statement's rows in the query's own sum type (int4 -> int8, int8 ->
        // numeric): the partial cannot overflow where the query's sum would not.
        const std::string s = "pg_catalog.sum((" + x + ")::" + c.partial_type + ")";
        cols.push_back("(" + sign(old_side, s) + ")::" + c.partial_type + " AS " + name_of("__incview_ds", c.pos));
        if (c.tracks_scale)
          cols.push_back((old_side ? "pg_catalog.max(pg_catalog.scale(" + x + "))" : std::string("NULL::integer")) +
                         " AS " + name_of("__incview_dscale", c.pos));
        break;
      }
      case DeltaAgg::Min:
      case DeltaAgg::Max: {
        const std::string ext = std::string(c.agg == DeltaAgg::Min ? "pg_catalog.min(" : "pg_catalog.max(") + x + ")";
        const std::string none = "NULL::" + c.out.type;
        cols.push_back((old_side ? none : ext) + " AS " + name_of("__incview_ins", c.pos));
        cols.push_back((old_side ? ext : none) + " AS " + name_of("__incview_del", c.pos));
        break;
      }
      default: break;
    }
  }
  std::vector<std::string> by;
  for (int i = 1; i <= k; ++i) by.push_back(std::to_string(i));
  std::string sql = "SELECT " + join(cols, ", ") + " FROM " + in.from;
  if (!in.where.empty()) sql += " WHERE " + in.where;
  return by.empty() ? sql : sql + " GROUP BY " + join(by, ", ");
}

namespace {
// The queue's partial columns of one DeltaColumn, with how two partials combine.
struct Partial {
  std::string name;     // quoted
  std::string combine;  // aggregate combining partials of the same group
  std::string type;
};

std::vector<Partial> partials_of(const DeltaColumn& c) {
  switch (c.agg) {
    case DeltaAgg::Count: return {{name_of("__incview_dn", c.pos), "pg_catalog.sum", "bigint"}};
    case DeltaAgg::Sum:
    case DeltaAgg::Avg:
      if (c.tracks_scale)
        return {{name_of("__incview_dn", c.pos), "pg_catalog.sum", "bigint"},
                {name_of("__incview_ds", c.pos), "pg_catalog.sum", c.partial_type},
                {name_of("__incview_dscale", c.pos), "pg_catalog.max", "integer"}};
      return {{name_of("__incview_dn", c.pos), "pg_catalog.sum", "bigint"},
              {name_of("__incview_ds", c.pos), "pg_catalog.sum", c.partial_type}};
    case DeltaAgg::Min:
      return {{name_of("__incview_ins", c.pos), "pg_catalog.min", c.out.type},
              {name_of("__incview_del", c.pos), "pg_catalog.min", c.out.type}};
    case DeltaAgg::Max:
      return {{name_of("__incview_ins", c.pos), "pg_catalog.max", c.out.type},
              {name_of("__incview_del", c.pos), "pg_catalog.max", c.out.type}};
    default: return {};
  }
}
}  // namespace

// INSERT of the statement's partials: one SELECT as is, or several (new and old rows, several
// maps of one source) combined per group, dropping groups whose partials cancel out.
std::string DeltaPlan::insert_partials(const std::string& queue, const std::vector<std::string>& parts,
                                       bool combine) const {
  std::vector<std::string> queue_cols = group_names_;
  std::vector<std::string> combined = group_names_;
  std::vector<std::string> changed;  // a group whose partials cancel out is not queued
  queue_cols.push_back("\"__incview_dcount\"");
  combined.push_back("pg_catalog.sum(d.\"__incview_dcount\")");
  changed.push_back("pg_catalog.sum(d.\"__incview_dcount\") <> 0");
  for (const auto& c : columns_)
    for (const auto& p : partials_of(c)) {
      queue_cols.push_back(p.name);
      combined.push_back(p.combine + "(d." + p.name + ")");
      changed.push_back(p.combine == "pg_catalog.sum" ? "pg_catalog.sum(d." + p.name + ") <> 0" : "true");
    }
  const std::string insert = "INSERT INTO " + queue + " (" + join(queue_cols, ", ") + ") ";
  if (parts.size() == 1 && !combine) return insert + parts.front();
  std::vector<std::string> by;
  for (const auto& g : group_names_) by.push_back("d." + g);
  std::string sql = insert + "SELECT " + join(combined, ", ") + " FROM (" + join(parts, " UNION ALL ") + ") AS d";
  if (!by.empty()) sql += " GROUP BY " + join(by, ", ");
  return sql + " HAVING " + join(changed, " OR ");
}

std::string DeltaPlan::capture(const std::string& queue, bool with_old, bool with_new) const {
  const auto side = [&](const char* table) { return Input{table, d_.where, false}; };
  std::vector<std::string> parts;
  if (with_new) parts.push_back(partials_select(side("incview_new"), false));
  if (with_old) parts.push_back(partials_select(side("incview_old"), true));
  return insert_partials(queue, parts, with_old && with_new);
}

std::string DeltaPlan::capture_source(const std::string& queue, const std::string& source, bool with_old,
                                      bool with_new) const {
  if (!d_.multi) return capture(queue, with_old, with_new);
  std::vector<std::string> parts;
  for (const auto& m : d_.maps) {
    if (m.source != source) continue;
    if (with_new) parts.push_back(partials_select(Input{"(" + m.new_sql + ") AS m", "", true}, false));
    if (with_old) parts.push_back(partials_select(Input{"(" + m.old_sql + ") AS m", "", true}, true));
  }
  if (parts.empty()) throw Error(sqlstate::kInternalError, "pg_incview: the delta engine has no map for " + source);
  return insert_partials(queue, parts, parts.size() > 1);
}

namespace {
// A deleted value of the largest scale in the group: the sum's scale may drop.
std::string scale_may_drop(const DeltaColumn& c, const std::string& current_sum) {
  const std::string d = "j." + name_of("__incview_dscale", c.pos);
  return "(" + d + " IS NOT NULL AND " + "COALESCE(" + d + " OPERATOR(pg_catalog.>=) pg_catalog.scale(" + current_sum +
         "), true))";
}
}  // namespace

std::string DeltaPlan::fold(const std::string& target, const std::string& queue) const {
  return fold_sql(target, queue, false);
}

std::string DeltaPlan::rederive(const std::string& target, const std::string& queue) const {
  return fold_sql(target, queue, true);
}

DeltaPlan::FastUpdate DeltaPlan::fast_update() const {
  const auto col = [](const std::string& prefix, int pos) { return name_of(prefix, pos); };
  FastUpdate f;
  // The group's new values from its row t and its partials a: the expressions of fold_sql
  // for a group that exists (t's count and counters are never NULL then).
  f.new_count = "(t.\"__incview_count\" + a.\"__incview_dcount\")";
  std::vector<std::string>& cols = f.cols;
  std::vector<std::string>& vals = f.vals;
  for (const auto& c : columns_) {
    const std::string user = quote_ident(c.out.name);
    const std::string t = "t." + user;
    const std::string nn = "(t." + col("__incview_n", c.pos) + " + a." + col("__incview_dn", c.pos) + ")";
    const std::string ds = "COALESCE(a." + col("__incview_ds", c.pos) + ", 0)";
    switch (c.agg) {
      case DeltaAgg::GroupKey: continue;
      case DeltaAgg::CountStar:
        cols.push_back(user);
        vals.push_back(f.new_count);
        break;
      case DeltaAgg::Count:
        cols.push_back(user);
        vals.push_back("COALESCE(" + t + ", 0) + a." + col("__incview_dn", c.pos));
        break;
      case DeltaAgg::Sum:
        cols.push_back(user);
        vals.push_back("CASE WHEN " + nn + " = 0 THEN NULL ELSE (COALESCE(" + t + ", 0) + " + ds +
                       ")::" + c.partial_type + " END");
        break;
      case DeltaAgg::Avg: {
        const std::string s = "(COALESCE(t." + col("__incview_sum", c.pos) + ", 0) + " + ds + ")";
        const bool fl = c.partial_type == "double precision";
        cols.push_back(user);
        vals.push_back("CASE WHEN " + nn + " = 0 THEN NULL ELSE " +
                       (fl ? s + " / " + nn + "::double precision" : s + "::numeric / " + nn + "::numeric") + " END");
        break;
      }
      default: break;
    }
  }
  // hidden columns, in hidden_columns() order
  cols.push_back("\"__incview_count\"");
  vals.push_back(f.new_count);
  for (const auto& c : columns_) {
    if (c.agg != DeltaAgg::Sum && c.agg != DeltaAgg::Avg) continue;
    const std::string nn = "(t." + col("__incview_n", c.pos) + " + a." + col("__incview_dn", c.pos) + ")";
    cols.push_back(col("__incview_n", c.pos));
    vals.push_back(nn);
    if (c.agg == DeltaAgg::Avg) {
      const std::string s =
          "(COALESCE(t." + col("__incview_sum", c.pos) + ", 0) + COALESCE(a." + col("__incview_ds", c.pos) + ", 0))";
      cols.push_back(col("__incview_sum", c.pos));
      vals.push_back("CASE WHEN " + nn + " = 0 THEN NULL ELSE " + s + "::" + c.partial_type + " END");
    }
  }
  std::vector<std::string>& sets = f.sets;
  std::vector<std::string>& old_vals = f.old_vals;
  for (size_t i = 0; i < cols.size(); ++i) {
    sets.push_back(cols[i] + " = " + vals[i]);
    old_vals.push_back("t." + cols[i]);
  }
  if (has_float_sums()) sets.push_back(quote_ident(kFoldedColumn) + " = true");  // may have drifted
  std::vector<std::string>& match = f.match;
  for (const auto& g : group_names_)
    match.push_back("(t." + g + " = a." + g + " OR (t." + g + " IS NULL AND a." + g + " IS NULL))");
  return f;
}

std::string DeltaPlan::fold_fast(const std::string& target, const std::string& queue) const {
  if (has_having()) return "";
  for (const auto& c : columns_)
    if (c.agg == DeltaAgg::Min || c.agg == DeltaAgg::Max || c.tracks_scale) return "";
  // a: the queued partials combined per group, named and typed as the queue's columns (so
  // the groups not applied here go back into the queue as they are).
  std::vector<std::string> queue_cols = group_names_;
  std::vector<std::string> a_cols = group_names_;
  queue_cols.push_back("\"__incview_dcount\"");
  a_cols.push_back("pg_catalog.sum(q.\"__incview_dcount\")::bigint AS \"__incview_dcount\"");
  for (const auto& c : columns_)
    for (const auto& p : partials_of(c)) {
      queue_cols.push_back(p.name);
      a_cols.push_back(p.combine + "(q." + p.name + ")::" + p.type + " AS " + p.name);
    }
  const FastUpdate f = fast_update();
  const std::string& new_count = f.new_count;
  const std::vector<std::string>&sets = f.sets, &old_vals = f.old_vals, &vals = f.vals, &match = f.match;
  std::vector<std::string> a_queue;
  for (const auto& c : queue_cols) a_queue.push_back("a." + c);
  std::string sql = "WITH q AS (DELETE FROM " + queue + " RETURNING *),\n";
  // __incview_i numbers the groups: the UPDATE returns the numbers of those it wrote, and
  // the put-back is a hashed NOT IN over them (an anti-join on the group keys, NULLs
  // matching NULLs, could only be a nested loop: quadratic in the groups of a batch).
  sql += "a AS (SELECT " + join(a_cols, ", ") +
         ", pg_catalog.row_number() OVER () AS \"__incview_i\" FROM q GROUP BY " + join(group_names_, ", ") + "),\n";
  // A group whose values would not change is not written (as fold_sql): it goes back.
  sql += "u AS (UPDATE " + target + " AS t SET " + join(sets, ", ") + " FROM a WHERE " + join(match, " AND ") +
         " AND " + new_count + " > 0 AND ROW(" + join(old_vals, ", ") + ") IS DISTINCT FROM ROW(" + join(vals, ", ") +
         ") RETURNING a.\"__incview_i\"),\n";
  sql += "b AS (INSERT INTO " + queue + " (" + join(queue_cols, ", ") + ") SELECT " + join(a_queue, ", ") +
         " FROM a WHERE NOT (a.\"__incview_i\" OPERATOR(pg_catalog.=) ANY (SELECT u.\"__incview_i\" FROM u)) RETURNING "
         "1)\n";
  // one aggregate for both counts: each Agg node costs its start-up
  sql +=
      "SELECT pg_catalog.count(*) FILTER (WHERE x.k = 1), pg_catalog.count(*) FILTER (WHERE x.k = 2) "
      "FROM (SELECT 1 AS k FROM u UNION ALL SELECT 2 FROM b) AS x";
  return sql;
}

std::string DeltaPlan::fold_one(const std::string& target) const {
  if (fold_fast(target, "q").empty()) return "";  // the same cases as fold_fast
  const FastUpdate f = fast_update();
  // a: one queued row, its columns as parameters in the queue's column order ($1 the first
  // group column ... ): one row's partials are their own combination (every combine here
  // is a sum).
  std::vector<std::string> a_cols;
  const std::vector<std::string> names = queue_columns();
  for (size_t i = 0; i < names.size(); ++i) a_cols.push_back("$" + std::to_string(i + 1) + " AS " + names[i]);
  return "UPDATE " + target + " AS t SET " + join(f.sets, ", ") + " FROM (SELECT " + join(a_cols, ", ") +
         ") AS a WHERE " + join(f.match, " AND ") + " AND " + f.new_count + " > 0 AND ROW(" + join(f.old_vals, ", ") +
         ") IS DISTINCT FROM ROW(" + join(f.vals, ", ") + ")";
}

std::vector<std::string> DeltaPlan::queue_columns() const {
  // create_queue's order: the group columns, the count, each column's partials.
  std::vector<std::string> cols;
  for (const auto& c : columns_)
    if (c.agg == DeltaAgg::GroupKey) cols.push_back(quote_ident(c.out.name));
  cols.push_back("\"__incview_dcount\"");
  for (const auto& c : columns_)
    for (const auto& p : partials_of(c)) cols.push_back(p.name);
  return cols;
}

std::string DeltaPlan::fold_sql(const std::string& target, const std::string& queue, bool forced) const {
  const auto col = [](const std::string& prefix, int pos) { return name_of(prefix, pos); };
  const bool folded_flag = has_float_sums();
  const std::string folded = quote_ident(kFoldedColumn);
  // a: the queued partials combined per group. forced: with, for at most $1 groups the folds
  // wrote since they were derived, a row of empty partials that marks them for re-deriving.
  std::vector<std::string> a_cols = group_names_;
  a_cols.push_back("pg_catalog.sum(q.\"__incview_dcount\")::bigint AS \"__incview_dcount\"");
  for (const auto& c : columns_)
    for (const auto& p : partials_of(c))
      a_cols.push_back(p.combine + "(q." + p.name + ")::" + p.type + " AS " + p.name);
  if (forced) a_cols.push_back("pg_catalog.bool_or(q.\"__incview_force\") AS \"__incview_force\"");
  // j: with the group's current row (NULL group keys match NULL).
  // (A LATERAL lookup: each group finds its row through the index on the group columns,
  // an IS NULL arm included, instead of a join over the whole table.)
  std::vector<std::string> j_cols{"a.*", "t.ctid AS \"__incview_tid\"",
                                  "t.\"__incview_count\" AS \"__incview_tcount\""};
  std::vector<std::string> match;
  for (const auto& g : group_names_)
    match.push_back("(t." + g + " = a." + g + " OR (t." + g + " IS NULL AND a." + g + " IS NULL))");
  for (const auto& c : columns_) {
    if (c.agg == DeltaAgg::GroupKey) continue;
    j_cols.push_back("t." + quote_ident(c.out.name) + " AS " + col("__incview_t", c.pos));
    if (c.agg == DeltaAgg::Sum || c.agg == DeltaAgg::Avg)
      j_cols.push_back("t." + col("__incview_n", c.pos) + " AS " + col("__incview_tn", c.pos));
    if (c.agg == DeltaAgg::Avg)
      j_cols.push_back("t." + col("__incview_sum", c.pos) + " AS " + col("__incview_ts", c.pos));
  }
  // v: the group's new values; rederive: the partials cannot say (HAVING, a deleted extreme).
  std::vector<std::string> v_cols{"j.*",
                                  "COALESCE(j.\"__incview_tcount\", 0) + j.\"__incview_dcount\" AS "
                                  "\"__incview_new_count\""};
  std::vector<std::string> rederive;
  if (has_having()) rederive.push_back("true");
  if (forced) rederive.push_back("j.\"__incview_force\"");
  std::vector<std::string> user_vals;    // in output order, for the target's user columns
  std::vector<std::string> hidden_vals;  // in hidden_columns() order
  hidden_vals.push_back("v.\"__incview_new_count\"");
  std::vector<std::string> set_cols;
  for (const auto& c : columns_) {
    const std::string t = "j." + col("__incview_t", c.pos);
    const std::string nn = "(COALESCE(j." + col("__incview_tn", c.pos) + ", 0) + j." + col("__incview_dn", c.pos) + ")";
    const std::string ds = "COALESCE(j." + col("__incview_ds", c.pos) + ", 0)";
    std::string value;
    switch (c.agg) {
      case DeltaAgg::GroupKey: user_vals.push_back("v." + quote_ident(c.out.name)); continue;
      case DeltaAgg::CountStar: value = "COALESCE(j.\"__incview_tcount\", 0) + j.\"__incview_dcount\""; break;
      case DeltaAgg::Count: value = "COALESCE(" + t + ", 0) + j." + col("__incview_dn", c.pos); break;
      case DeltaAgg::Sum:
        // NULL when no non-NULL argument is left, as sum() says.
        value =
            "CASE WHEN " + nn + " = 0 THEN NULL ELSE (COALESCE(" + t + ", 0) + " + ds + ")::" + c.partial_type + " END";
        v_cols.push_back(nn + " AS " + col("__incview_nn", c.pos));
        hidden_vals.push_back("v." + col("__incview_nn", c.pos));
        if (c.tracks_scale) rederive.push_back(scale_may_drop(c, t));
        break;
      case DeltaAgg::Avg: {
        const std::string s = "(COALESCE(j." + col("__incview_ts", c.pos) + ", 0) + " + ds + ")";
        const bool fl = c.partial_type == "double precision";
        value = "CASE WHEN " + nn + " = 0 THEN NULL ELSE " +
                (fl ? s + " / " + nn + "::double precision" : s + "::numeric / " + nn + "::numeric") + " END";
        v_cols.push_back(nn + " AS " + col("__incview_nn", c.pos));
        v_cols.push_back("CASE WHEN " + nn + " = 0 THEN NULL ELSE " + s + "::" + c.partial_type + " END AS " +
                         col("__incview_ns", c.pos));
        hidden_vals.push_back("v." + col("__incview_nn", c.pos));
        hidden_vals.push_back("v." + col("__incview_ns", c.pos));
        if (c.tracks_scale) rederive.push_back(scale_may_drop(c, "j." + col("__incview_ts", c.pos)));
        break;
      }
      case DeltaAgg::Min:
      case DeltaAgg::Max: {
        const bool mn = c.agg == DeltaAgg::Min;
        const std::string best =
            std::string(mn ? "LEAST(" : "GREATEST(") + t + ", j." + col("__incview_ins", c.pos) + ")";
        value = best;
        // A deleted value at or beyond the best candidate may have been the extreme.
        const std::string del = "j." + col("__incview_del", c.pos);
        rederive.push_back("(" + del + " IS NOT NULL AND COALESCE(" + del +
                           (mn ? " OPERATOR(pg_catalog.<=) " : " OPERATOR(pg_catalog.>=) ") + best + ", true))");
        break;
      }
    }
    v_cols.push_back(value + " AS " + col("__incview_v", c.pos));
    user_vals.push_back("v." + col("__incview_v", c.pos));
  }
  v_cols.push_back((rederive.empty() ? std::string("false") : join(rederive, " OR ")) + " AS \"__incview_rederive\"");

  std::vector<std::string> user_cols;
  for (const auto& c : columns_) user_cols.push_back(quote_ident(c.out.name));
  std::vector<std::string> hidden;
  for (const auto& h : hidden_columns()) hidden.push_back(quote_ident(h.first));
  std::vector<std::string> all_cols = user_cols;
  all_cols.insert(all_cols.end(), hidden.begin(), hidden.end());
  if (folded_flag) hidden_vals.push_back("true");  // written by a fold: may have drifted
  std::vector<std::string> all_vals = user_vals;
  all_vals.insert(all_vals.end(), hidden_vals.begin(), hidden_vals.end());

  // fresh: re-derived groups, filtered so the planner pushes the keys down to the source.
  std::vector<std::string> fresh_filter;
  for (const auto& g : group_names_)
    fresh_filter.push_back(
        "(s." + g + " = ANY(ARRAY(SELECT v." + g + " FROM v WHERE v.\"__incview_rederive\")) OR (s." + g +
        " IS NULL AND EXISTS (SELECT 1 FROM v WHERE v.\"__incview_rederive\" AND v." + g + " IS NULL)))");
  if (group_names_.size() > 1) {
    std::vector<std::string> same;
    for (const auto& g : group_names_) same.push_back("v." + g + " IS NOT DISTINCT FROM s." + g);
    fresh_filter.push_back("EXISTS (SELECT 1 FROM v WHERE v.\"__incview_rederive\" AND " + join(same, " AND ") + ")");
  }
  std::vector<std::string> sets;
  std::vector<std::string> old_vals, new_vals;
  for (size_t i = 0; i < all_cols.size(); ++i) {
    if (i < columns_.size() && columns_[i].agg == DeltaAgg::GroupKey) continue;
    sets.push_back(all_cols[i] + " = " + all_vals[i]);
    if (all_cols[i] == folded) continue;  // a group whose values did not change is not written
    old_vals.push_back("t." + all_cols[i]);
    new_vals.push_back(all_vals[i]);
  }
  std::vector<std::string> f_cols;
  for (const auto& c : all_cols) f_cols.push_back("f." + c);
  const std::string fresh_cols = join(f_cols, ", ");
  const std::string live = "NOT v.\"__incview_rederive\" AND v.\"__incview_new_count\" > 0";
  std::string sql;
  if (forced) {
    // r: the folded groups to re-derive (group keys read from the table, as it is before
    // this statement); their partials are empty: only the mark counts.
    std::vector<std::string> empty;
    for (const auto& g : group_names_) empty.push_back("r." + g);
    empty.push_back("0::bigint");
    for (const auto& c : columns_)
      for (const auto& p : partials_of(c))
        empty.push_back(p.combine == "pg_catalog.sum" && p.type == "bigint" ? "0::bigint" : "NULL::" + p.type);
    empty.push_back("true");
    sql += "WITH qd AS (DELETE FROM " + queue + " RETURNING *),\n";
    sql += "r AS (SELECT " + join(group_names_, ", ") + " FROM " + target + " AS t WHERE t." + folded + " LIMIT $1),\n";
    sql +=
        "q AS (SELECT qd.*, false AS \"__incview_force\" FROM qd UNION ALL SELECT " + join(empty, ", ") + " FROM r),\n";
  } else {
    sql += "WITH q AS (DELETE FROM " + queue + " RETURNING *),\n";
  }
  sql += "a AS (SELECT " + join(a_cols, ", ") + " FROM q GROUP BY " + join(group_names_, ", ") + "),\n";
  sql += "j AS (SELECT " + join(j_cols, ", ") + " FROM a LEFT JOIN LATERAL (SELECT t.ctid, t.* FROM " + target +
         " AS t WHERE " + join(match, " AND ") + ") AS t ON true),\n";
  sql += "v AS (SELECT " + join(v_cols, ", ") + " FROM j),\n";
  // No group can need re-deriving (no HAVING, extreme, scale or forced re-derive): the fold
  // leaves the source query out. Planning it and starting its executor nodes was most of a
  // one-row fold's cost, for a branch that returns nothing (issue 12 item 4, bench/delta.md).
  const bool can_rederive = !rederive.empty();
  if (can_rederive)
    sql += "fresh AS (SELECT s.* FROM (\n" + table_query() + "\n) AS s WHERE " + join(fresh_filter, " AND ") + "),\n";
  sql += "del AS (DELETE FROM " + target +
         " AS t USING v WHERE t.ctid = v.\"__incview_tid\" AND (v.\"__incview_rederive\" "
         "OR v.\"__incview_new_count\" <= 0) RETURNING 1),\n";
  sql += "upd AS (UPDATE " + target + " AS t SET " + join(sets, ", ") +
         " FROM v WHERE t.ctid = v.\"__incview_tid\" AND " + live + " AND ROW(" + join(old_vals, ", ") +
         ") IS DISTINCT FROM ROW(" + join(new_vals, ", ") + ") RETURNING 1),\n";
  sql += "ins AS (INSERT INTO " + target + " (" + join(all_cols, ", ") + ") SELECT " + join(all_vals, ", ") +
         " FROM v WHERE v.\"__incview_tid\" IS NULL AND " + live +
         (can_rederive ? " UNION ALL SELECT " + fresh_cols + " FROM fresh AS f" : std::string()) + " RETURNING 1)\n";
  sql +=
      "SELECT (SELECT pg_catalog.count(*) FROM del), (SELECT pg_catalog.count(*) FROM ins), "
      "(SELECT pg_catalog.count(*) FROM upd), (SELECT pg_catalog.count(*) FROM a)";
  if (forced) sql += ", (SELECT pg_catalog.count(*) FROM r)";
  return sql;
}

}  // namespace incview
