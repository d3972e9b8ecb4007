#include "core/delta_direct.hpp"

namespace incview {

namespace {

constexpr const char* kKinds[] = {"key", "count", "n", "sum", "scale", "ins", "del"};
constexpr int kNumKinds = 7;

bool storable(const std::string& s) { return s.find('\t') == std::string::npos && s.find('\n') == std::string::npos; }

}  // namespace

bool plain_identifier(const std::string& t) {
  if (t.empty() || !storable(t)) return false;
  if (t.front() == '"') {
    if (t.size() < 3 || t.back() != '"') return false;
    // inside: any character, a quote only doubled
    for (size_t i = 1; i + 1 < t.size(); ++i) {
      if (t[i] != '"') continue;
      if (i + 2 >= t.size() || t[i + 1] != '"') return false;
      ++i;
    }
    return true;
  }
  const auto lower = [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; };
  if (!lower(t.front())) return false;
  for (char c : t)
    if (!lower(c) && !(c >= '0' && c <= '9') && c != '$') return false;
  return true;
}

std::vector<DirectPart> direct_parts(const DeltaPlan& plan) {
  if (plan.multi() || plan.has_where()) return {};
  std::vector<DirectPart> parts;
  const auto column = [&](DirectKind kind, const std::string& text) {
    DirectPart p;
    p.kind = kind;
    p.text = text;
    parts.push_back(p);
    return plain_identifier(text);
  };
  for (const auto& c : plan.columns())
    if (c.agg == DeltaAgg::GroupKey && !column(DirectKind::Key, c.out.text)) return {};
  parts.push_back(DirectPart{});  // count
  for (const auto& c : plan.columns()) {
    bool ok = true;
    switch (c.agg) {
      case DeltaAgg::Count: ok = column(DirectKind::N, c.out.arg); break;
      case DeltaAgg::Sum:
      case DeltaAgg::Avg:
        ok = column(DirectKind::N, c.out.arg) && column(DirectKind::Sum, c.out.arg);
        parts.back().arg_type = c.out.arg_type;
        parts.back().partial_type = c.partial_type;
        if (ok && c.tracks_scale) ok = column(DirectKind::Scale, c.out.arg);
        break;
      case DeltaAgg::Min:
      case DeltaAgg::Max: ok = column(DirectKind::Ins, c.out.arg) && column(DirectKind::Del, c.out.arg); break;
      default: break;
    }
    if (!ok) return {};
  }
  for (const auto& p : parts)
    if (!storable(p.arg_type) || !storable(p.partial_type)) return {};
  return parts;
}

UpdateRows update_rows(const std::vector<KeyChange>& keys) {
  bool same = true;
  for (const auto& k : keys) {
    if (k.identical) continue;
    if (!k.equality_is_identity) return UpdateRows::Statement;  // 1.0 and 1.00: one group or two?
    same = false;
  }
  return same ? UpdateRows::One : UpdateRows::Two;
}

bool same_group_queued(const std::vector<DirectPart>& parts, const std::vector<bool>& nonzero) {
  for (size_t i = 0; i < parts.size(); ++i) switch (parts[i].kind) {
      case DirectKind::Scale:
      case DirectKind::Ins:
      case DirectKind::Del: return true;
      case DirectKind::Count:
      case DirectKind::N:
      case DirectKind::Sum:
        if (i < nonzero.size() && nonzero[i]) return true;
        break;
      case DirectKind::Key: break;
    }
  return false;
}

std::string format_direct(const std::vector<DirectPart>& parts) {
  std::string out;
  for (const auto& p : parts)
    out += std::string(kKinds[static_cast<int>(p.kind)]) + "\t" + p.arg_type + "\t" + p.partial_type + "\t" + p.text +
           "\n";
  return out;
}

std::vector<DirectPart> parse_direct(const std::string& text) {
  std::vector<DirectPart> parts;
  size_t at = 0;
  while (at < text.size()) {
    const size_t end = text.find('\n', at);
    if (end == std::string::npos) return {};
    const std::string line = text.substr(at, end - at);
    at = end + 1;
    std::string field[4];
    size_t from = 0;
    for (int f = 0; f < 3; ++f) {
      const size_t tab = line.find('\t', from);
      if (tab == std::string::npos) return {};
      field[f] = line.substr(from, tab - from);
      from = tab + 1;
    }
    field[3] = line.substr(from);
    DirectPart p;
    int k = 0;
    while (k < kNumKinds && field[0] != kKinds[k]) ++k;
    if (k == kNumKinds) return {};
    p.kind = static_cast<DirectKind>(k);
    p.arg_type = field[1];
    p.partial_type = field[2];
    p.text = field[3];
    if (p.kind != DirectKind::Count && !plain_identifier(p.text)) return {};
    if (p.kind == DirectKind::Sum && (p.arg_type.empty() || p.partial_type.empty())) return {};
    parts.push_back(p);
  }
  return parts;
}

}  // namespace incview
