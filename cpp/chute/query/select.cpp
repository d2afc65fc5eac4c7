// A query's steps: WHERE (compiled or row by row), SAMPLE BY, ORDER BY, LIMIT/OFFSET and set
// operations.
#include "chute/query/detail/evaluator.h"

namespace chute::detail {

namespace {

// ORDER BY's order of keys, the same on both paths: nulls (rows without a value), then numbers
// with NaN after every other number, then text; DESC is the exact reverse (a stable sort keeps
// ties in row order either way). A strict weak order, as std::stable_sort needs: `<` alone puts
// NaN level with every number, and mixed numbers and text (json values) had no order at all.
int key_rank(const Value& v) {
  switch (v.kind) {
    case Value::Kind::Null:
      return 0;
    case Value::Kind::Num:
      return std::isnan(v.num) ? 2 : 1;
    default:
      return 3;  // text (the only other kind a key may be)
  }
}

bool number_key_less(double x, double y) {
  if (std::isnan(x)) return false;
  return std::isnan(y) || x < y;
}

bool key_less(const Value& x, const Value& y) {
  int rx = key_rank(x), ry = key_rank(y);
  if (rx != ry) return rx < ry;
  if (rx == 1) return x.num < y.num;
  if (rx == 3) return x.str < y.str;
  return false;
}

// SAMPLE BY with replacement makes LIMIT draws, one result row each: 2**32 of them (a 32 GB result)
// is more than any dataset chute reads needs, and a LIMIT near 2**64 must not reach the allocator.
constexpr uint64_t kMaxDraws = uint64_t{1} << 32;

// The number of rows LIMIT keeps of `n`, or the draws SAMPLE BY makes.
uint64_t limit_count(const tql::Select& s, size_t n) {
  if (!s.limit_percent) return s.limit;
  return static_cast<uint64_t>(std::floor(static_cast<double>(n) * s.percent / 100.0 + 1e-9));  // percent <= 100: <= n
}

}  // namespace

template <typename F>
void Evaluator::row_by_row(size_t n, F fn) {
  auto pool = get_shared_pool();
  size_t pieces = std::max<size_t>(1, std::min((pool->size() + 1) * 4, n / 256));
  size_t per = (n + pieces - 1) / pieces;
  pool->parallel_for(pieces, [&](size_t part) {
    Evaluator local(ds_, rows_, seed_, row_by_row_only_);
    for (size_t k = part * per, end = std::min(n, k + per); k < end; ++k) fn(local, k);
  });
}

std::vector<uint64_t> Evaluator::run(const tql::Query& q) {
  if (q.select) return run_select(*q.select);
  auto l = run(*q.left), r = run(*q.right);
  std::sort(l.begin(), l.end());
  l.erase(std::unique(l.begin(), l.end()), l.end());
  std::sort(r.begin(), r.end());
  r.erase(std::unique(r.begin(), r.end()), r.end());
  std::vector<uint64_t> out;
  if (q.set_op == "UNION")
    std::set_union(l.begin(), l.end(), r.begin(), r.end(), std::back_inserter(out));
  else if (q.set_op == "INTERSECT")
    std::set_intersection(l.begin(), l.end(), r.begin(), r.end(), std::back_inserter(out));
  else
    std::set_difference(l.begin(), l.end(), r.begin(), r.end(), std::back_inserter(out));
  return out;
}

std::vector<uint64_t> Evaluator::run_select(const tql::Select& s) {
  for (const auto& c : s.columns) check_columns(*c);
  for (const auto* e : {s.where.get(), s.order_by.get(), s.sample_expr.get()})
    if (e) check_columns(*e);
  for (const auto& w : s.weights) {
    check_columns(*w.condition);
    check_columns(*w.weight);
  }
  std::vector<size_t> pos;  // positions in rows_
  VNodePtr where = s.where ? compile_value(*s.where, rows_) : make_const(1);
  if (where) {
    pos = select_nonzero(*where, rows_.size());
  } else {
    pos = where_row_by_row(*s.where);
  }
  if (s.sample) pos = sample(s, pos);
  if (s.order_by && !order_compiled(s, pos)) {
    std::vector<std::pair<Value, size_t>> keyed(pos.size());
    row_by_row(pos.size(), [&](Evaluator& ev, size_t i) {
      Value k = scalar(*s.order_by, ev.eval(*s.order_by, pos[i]));
      if (k.kind != Value::Kind::Num && k.kind != Value::Kind::Str && k.kind != Value::Kind::Null)
        fail(*s.order_by, std::string("ORDER BY needs one number or text per row, got ") + kind_name(k.kind));
      k.names = nullptr;  // names live in the part's evaluator; keys compare numbers and text only
      keyed[i] = {std::move(k), pos[i]};
    });
    auto less = [&](const std::pair<Value, size_t>& a, const std::pair<Value, size_t>& b) {
      return s.descending ? key_less(b.first, a.first) : key_less(a.first, b.first);
    };
    std::stable_sort(keyed.begin(), keyed.end(), less);
    pos.clear();
    for (auto& k : keyed) pos.push_back(k.second);
  }
  // OFFSET past the end keeps no row, LIMIT past the end every row (both are whole numbers < 2**64).
  uint64_t off = std::min<uint64_t>(s.offset, pos.size());
  pos.erase(pos.begin(), pos.begin() + static_cast<std::ptrdiff_t>(off));
  if (s.has_limit && !s.sample) {
    uint64_t n = limit_count(s, pos.size());
    if (n < pos.size()) pos.resize(n);
  }
  std::vector<uint64_t> out;
  out.reserve(pos.size());
  for (size_t p : pos) out.push_back(rows_[p]);
  return out;
}

std::vector<size_t> Evaluator::where_row_by_row(const Expr& where) {
  std::vector<uint8_t> keep(rows_.size());
  row_by_row(rows_.size(), [&](Evaluator& ev, size_t p) { keep[p] = ev.truth(where, ev.eval(where, p)); });
  std::vector<size_t> pos;
  for (size_t p = 0; p < keep.size(); ++p)
    if (keep[p]) pos.push_back(p);
  return pos;
}

Rows Evaluator::rows_at(const std::vector<size_t>& pos, std::vector<uint64_t>& storage) {
  bool every = pos.size() == rows_.size();
  for (size_t k = 0; every && k < pos.size(); ++k) every = pos[k] == k;
  if (every) return rows_;
  storage.resize(pos.size());
  for (size_t k = 0; k < pos.size(); ++k) storage[k] = rows_[pos[k]];
  return Rows{storage.data(), storage.size()};
}

bool Evaluator::order_compiled(const tql::Select& s, std::vector<size_t>& pos) {
  std::vector<uint64_t> storage;
  VNodePtr key = compile_value(*s.order_by, rows_at(pos, storage));
  if (!key) return false;
  std::vector<double> k = evaluate_all(*key, pos.size());
  std::vector<size_t> order(pos.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (s.descending)
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return number_key_less(k[b], k[a]); });
  else
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return number_key_less(k[a], k[b]); });
  std::vector<size_t> sorted(pos.size());
  for (size_t i = 0; i < order.size(); ++i) sorted[i] = pos[order[i]];
  pos = std::move(sorted);
  return true;
}

bool Evaluator::weights_compiled(const tql::Select& s, const std::vector<size_t>& pos, std::vector<double>& w) {
  std::vector<uint64_t> storage;
  Rows sub = rows_at(pos, storage);
  if (s.sample_expr) {
    VNodePtr n = compile_value(*s.sample_expr, sub);
    if (!n) return false;
    w = evaluate_all(*n, pos.size());
    return true;
  }
  std::vector<std::pair<VNodePtr, VNodePtr>> clauses;
  for (const auto& c : s.weights) {
    VNodePtr cond = compile_value(*c.condition, sub), weight = compile_value(*c.weight, sub);
    if (!cond || !weight) return false;
    clauses.emplace_back(std::move(cond), std::move(weight));
  }
  w.assign(pos.size(), 0.0);
  bool max = s.sample_mode == "max_weight";
  for (const auto& [cond, weight] : clauses) {
    std::vector<double> c = evaluate_all(*cond, pos.size()), v = evaluate_all(*weight, pos.size());
    for (size_t k = 0; k < w.size(); ++k)
      if (c[k] != 0) w[k] = max ? std::max(w[k], v[k]) : w[k] + v[k];
  }
  return true;
}

std::vector<size_t> Evaluator::sample(const tql::Select& s, const std::vector<size_t>& pos) {
  std::vector<double> w;
  if (!weights_compiled(s, pos, w)) {
    w.resize(pos.size());
    row_by_row(pos.size(), [&](Evaluator& ev, size_t k) {
      size_t p = pos[k];
      if (s.sample_expr) {
        Value v = scalar(*s.sample_expr, ev.eval(*s.sample_expr, p));
        if (v.kind != Value::Kind::Num) fail(*s.sample_expr, "SAMPLE BY needs a numeric weight per row");
        w[k] = v.num;
      } else {
        double acc = 0;
        for (const auto& c : s.weights) {
          if (!ev.truth(*c.condition, ev.eval(*c.condition, p))) continue;
          Value v = scalar(*c.weight, ev.eval(*c.weight, p));
          if (v.kind != Value::Kind::Num) fail(*c.weight, "a SAMPLE BY weight must be a number");
          acc = s.sample_mode == "max_weight" ? std::max(acc, v.num) : acc + v.num;
        }
        w[k] = acc;
      }
    });
  }
  for (double x : w)
    if (!(x >= 0) || !std::isfinite(x))
      fail(s.sample_expr ? *s.sample_expr : *s.weights[0].weight, "SAMPLE BY weights must be finite and non-negative");
  uint64_t n = pos.size();
  if (s.has_limit) n = limit_count(s, pos.size());
  // Without replacement a draw is a permutation (at most every row once); with replacement LIMIT
  // is the number of draws, each a row of the result, so it must be one the result can hold.
  if (!s.replace) n = std::min<uint64_t>(n, pos.size());
  if (n > kMaxDraws)
    fail(s.sample_expr ? *s.sample_expr : *s.weights[0].condition,
         "SAMPLE BY ... LIMIT " + std::to_string(n) + " asks for more draws than a result can hold (at most " +
             std::to_string(kMaxDraws) + ")");
  std::vector<size_t> out = chute::weighted_draw(w, n, s.replace, mix_keys({seed_, 0x53414d504c45ULL}));
  for (size_t& k : out) k = pos[k];
  return out;
}

}  // namespace chute::detail
