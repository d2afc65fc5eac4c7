#include "chute/query/detail/columnar.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <type_traits>

#include "chute/core/thread_pool.h"

namespace chute::detail {

bool vop_from(const std::string& t, VOp& op) {
  static const std::pair<const char*, VOp> ops[] = {
      {"+", VOp::Add}, {"-", VOp::Sub},   {"*", VOp::Mul}, {"/", VOp::Div}, {"%", VOp::Mod},
      {"==", VOp::Eq}, {"!=", VOp::Ne},   {"<", VOp::Lt},  {"<=", VOp::Le}, {">", VOp::Gt},
      {">=", VOp::Ge}, {"AND", VOp::And}, {"OR", VOp::Or}};
  for (const auto& [name, o] : ops)
    if (t == name) {
      op = o;
      return true;
    }
  return false;
}

namespace {

struct Const final : VNode {
  explicit Const(double v) {
    is_const = true;
    c = v;
  }
  void eval(size_t, size_t n, double* out, Scratch&, size_t) const override { std::fill(out, out + n, c); }
};

struct NumberCol final : VNode {
  NumberCol(std::shared_ptr<const NumberColumn> col, Rows rows) : col(std::move(col)), rows(rows) {}
  void eval(size_t begin, size_t n, double* out, Scratch&, size_t) const override {
    col->gather(rows.data, begin, n, out);
  }
  std::shared_ptr<const NumberColumn> col;
  Rows rows;
};

// `double(v) op y` over the integers v of a type whose every value is exact in double (up to 32
// bits), as one integer test: v in [lo, hi], or not in it for `!=`. Integer compares vectorize
// where a conversion to double and a branch per row did not (10M-row WHERE: 5.7 -> 3.7 ms).
template <typename T, VOp Op>
struct IntRange {
  using U = std::make_unsigned_t<T>;
  bool none = false, all = false, negate = Op == VOp::Ne;
  U lo = 0, span = 0;  // v matches when U(v - lo) <= span (unsigned wrap-around)

  explicit IntRange(double y) {
    const double tmin = static_cast<double>(std::numeric_limits<T>::min());
    const double tmax = static_cast<double>(std::numeric_limits<T>::max());
    double l = tmin, h = tmax;
    if (std::isnan(y)) {  // every comparison with NaN is false, != is true
      (Op == VOp::Ne ? all : none) = true;
      return;
    }
    switch (Op) {
      case VOp::Eq:
      case VOp::Ne:
        if (y == std::floor(y))
          l = h = y;
        else
          l = 1, h = 0;  // no integer equals it
        break;
      case VOp::Lt:
        h = std::ceil(y) - 1;
        break;
      case VOp::Le:
        h = std::floor(y);
        break;
      case VOp::Gt:
        l = std::floor(y) + 1;
        break;
      default:  // Ge
        l = std::ceil(y);
        break;
    }
    l = std::max(l, tmin), h = std::min(h, tmax);
    if (l > h) {  // no value of T is in range: == matches none, != all
      (negate ? all : none) = true;
      return;
    }
    lo = static_cast<U>(static_cast<T>(l));
    span = static_cast<U>(static_cast<U>(static_cast<T>(h)) - lo);
  }
  bool test(T v) const { return (static_cast<U>(static_cast<U>(v) - lo) <= span) != negate; }
};

// `column op constant` for comparisons: one typed loop giving 1/0 per row, no child node; WHERE
// selects positions from those bytes, skipping eight rows at a time where none matched.
template <typename T, VOp Op>
struct CompareColumnConst final : VNode {
  static constexpr bool kInt = std::is_integral_v<T> && sizeof(T) <= 4;
  CompareColumnConst(std::shared_ptr<const NumberColumn> col, Rows rows, double y)
      : col(std::move(col)), rows(rows), y(y), range(y) {}
  const T* values() const { return reinterpret_cast<const T*>(col->data.data()); }
  bool test(T v) const {
    if constexpr (kInt)
      return range.test(v);
    else
      return apply(Op, static_cast<double>(v), y) != 0;
  }
  // 1/0 per position of [begin, begin + n) into hit (n <= kBlock).
  template <typename Out>
  void tests(size_t begin, size_t n, Out* hit) const {
    const T* v = values();
    if constexpr (kInt) {
      if (range.none || range.all) {
        std::fill(hit, hit + n, range.all ? 1 : 0);
        return;
      }
    }
    if (rows.data == nullptr) {
      v += begin;
      for (size_t i = 0; i < n; ++i) hit[i] = test(v[i]);
    } else {
      const uint64_t* r = rows.data + begin;
      for (size_t i = 0; i < n; ++i) hit[i] = test(v[r[i]]);
    }
  }
  void eval(size_t begin, size_t n, double* out, Scratch&, size_t) const override { tests(begin, n, out); }
  bool select(size_t begin, size_t n, std::vector<size_t>& out) const override {
    uint8_t hit[kBlock];
    tests(begin, n, hit);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {  // eight rows at a time: a selective WHERE leaves most words zero
      uint64_t w;
      std::memcpy(&w, hit + i, 8);
      if (w == 0) continue;
      for (size_t j = i; j < i + 8; ++j)
        if (hit[j]) out.push_back(begin + j);
    }
    for (; i < n; ++i)
      if (hit[i]) out.push_back(begin + i);
    return true;
  }
  std::shared_ptr<const NumberColumn> col;
  Rows rows;
  double y;
  IntRange<std::conditional_t<kInt, T, int32_t>, Op> range;  // used for kInt only
};

template <VOp Op>
VNodePtr compare_column_const(std::shared_ptr<const NumberColumn> col, Rows rows, double y) {
  VNodePtr node;
  visit_number_type(col->dtype,
                    [&](auto t) { node = std::make_unique<CompareColumnConst<decltype(t), Op>>(col, rows, y); });
  return node;
}

struct ShapeDim final : VNode {
  ShapeDim(std::shared_ptr<const ShapeColumn> col, size_t dim, Rows rows) : col(std::move(col)), dim(dim), rows(rows) {}
  void eval(size_t begin, size_t n, double* out, Scratch&, size_t) const override {
    const uint32_t* d = col->dims.data() + dim;
    size_t nd = col->ndim;
    for (size_t i = 0; i < n; ++i) out[i] = d[rows[begin + i] * nd];
  }
  std::shared_ptr<const ShapeColumn> col;
  size_t dim;
  Rows rows;
};

struct TextTest final : VNode {
  TextTest(std::shared_ptr<const BytesColumn> col, Rows rows, std::function<bool(std::string_view)> test)
      : col(std::move(col)), rows(rows), test(std::move(test)) {}
  void eval(size_t begin, size_t n, double* out, Scratch&, size_t) const override {
    for (size_t i = 0; i < n; ++i) out[i] = test(col->at(rows[begin + i])) ? 1 : 0;
  }
  std::shared_ptr<const BytesColumn> col;
  Rows rows;
  std::function<bool(std::string_view)> test;
};

// contains(text, 'literal'): for the rows 0..n-1 in order, one Boyer-Moore-Horspool scan over the
// block's bytes with each match mapped to its row; otherwise row by row.
struct TextContains final : VNode {
  TextContains(std::shared_ptr<const BytesColumn> col, Rows rows, std::string pat)
      : col(std::move(col)), rows(rows), pat(std::move(pat)), search(this->pat.begin(), this->pat.end()) {}
  const char* find(const char* lo, const char* hi) const {
    // The empty pattern is found at the start of every row, an empty row included (as
    // contains_match says); the searcher would report an empty row as "not found".
    if (pat.empty()) return lo;
    auto [at, end] = search(lo, hi);
    return at == hi ? nullptr : at;
  }
  void eval(size_t begin, size_t n, double* out, Scratch&, size_t) const override {
    const char* blob = col->blob.data();
    const uint64_t* off = col->offsets.data();
    if (rows.data != nullptr || pat.empty()) {
      for (size_t i = 0; i < n; ++i) {
        uint64_t r = rows[begin + i];
        out[i] = find(blob + off[r], blob + off[r + 1]) != nullptr;
      }
      return;
    }
    std::fill(out, out + n, 0.0);
    uint64_t end = off[begin + n];
    uint64_t at = off[begin];
    size_t row = begin;
    while (at < end) {
      const char* hit = find(blob + at, blob + end);
      if (!hit) break;
      uint64_t x = static_cast<uint64_t>(hit - blob);
      while (off[row + 1] <= x) ++row;  // the row holding the match's first byte
      if (x + pat.size() <= off[row + 1]) {
        out[row - begin] = 1;
        at = off[row + 1];  // this row matched: go on from the next one
      } else {
        at = x + 1;  // the match spans two rows
      }
    }
  }
  std::shared_ptr<const BytesColumn> col;
  Rows rows;
  std::string pat;
  std::boyer_moore_horspool_searcher<std::string::const_iterator> search;
};

struct Lookup final : VNode {
  Lookup(VNodePtr a, std::vector<double> table) : a(std::move(a)), table(std::move(table)) {}
  void eval(size_t begin, size_t n, double* out, Scratch& s, size_t depth) const override {
    a->eval(begin, n, out, s, depth + 1);
    double size = static_cast<double>(table.size());
    for (size_t i = 0; i < n; ++i) out[i] = out[i] >= 0 && out[i] < size ? table[static_cast<size_t>(out[i])] : 0;
  }
  VNodePtr a;
  std::vector<double> table;
};

struct Not final : VNode {
  explicit Not(VNodePtr a) : a(std::move(a)) {}
  void eval(size_t begin, size_t n, double* out, Scratch& s, size_t depth) const override {
    a->eval(begin, n, out, s, depth + 1);
    for (size_t i = 0; i < n; ++i) out[i] = out[i] != 0 ? 0 : 1;
  }
  VNodePtr a;
};

template <VOp Op>
struct Binary final : VNode {
  Binary(VNodePtr a, VNodePtr b) : a(std::move(a)), b(std::move(b)) {}
  void eval(size_t begin, size_t n, double* out, Scratch& s, size_t depth) const override {
    if (b->is_const) {  // the common `column op constant`: one pass, no second buffer
      a->eval(begin, n, out, s, depth + 1);
      const double y = b->c;
      for (size_t i = 0; i < n; ++i) out[i] = apply(Op, out[i], y);
      return;
    }
    if (a->is_const) {
      b->eval(begin, n, out, s, depth + 1);
      const double x = a->c;
      for (size_t i = 0; i < n; ++i) out[i] = apply(Op, x, out[i]);
      return;
    }
    double* tmp = s.at(depth);
    a->eval(begin, n, out, s, depth + 1);
    b->eval(begin, n, tmp, s, depth + 1);
    for (size_t i = 0; i < n; ++i) out[i] = apply(Op, out[i], tmp[i]);
  }
  VNodePtr a, b;
};

struct In final : VNode {
  In(VNodePtr a, std::vector<double> set, bool negated) : a(std::move(a)), set(std::move(set)), negated(negated) {}
  void eval(size_t begin, size_t n, double* out, Scratch& s, size_t depth) const override {
    a->eval(begin, n, out, s, depth + 1);
    for (size_t i = 0; i < n; ++i) {
      bool found = std::find(set.begin(), set.end(), out[i]) != set.end();
      out[i] = found != negated ? 1 : 0;
    }
  }
  VNodePtr a;
  std::vector<double> set;
  bool negated;
};

struct ArrayColumn final : ANode {
  ArrayColumn(std::shared_ptr<const NumberColumn> col, Rows rows) : col(std::move(col)), rows(rows) {
    width = this->col->width;
  }
  void row(size_t p, double* out, Scratch&, size_t) const override { col->row(rows[p], out); }
  std::shared_ptr<const NumberColumn> col;
  Rows rows;
};

struct ArrayConst final : ANode {
  explicit ArrayConst(std::vector<double> v) : values(std::move(v)) { width = values.size(); }
  void row(size_t, double* out, Scratch&, size_t) const override { std::copy(values.begin(), values.end(), out); }
  std::vector<double> values;
};

struct ArrayBinary final : ANode {
  ArrayBinary(VOp op, ANodePtr a, ANodePtr b) : op(op), a(std::move(a)), b(std::move(b)) { width = this->a->width; }
  void row(size_t p, double* out, Scratch& s, size_t depth) const override {
    double* tmp = s.at(depth);
    a->row(p, out, s, depth + 1);
    b->row(p, tmp, s, depth + 1);
    for (size_t j = 0; j < width; ++j) out[j] = apply(op, out[j], tmp[j]);
  }
  VOp op;
  ANodePtr a, b;
};

struct ArrayScalar final : ANode {
  ArrayScalar(VOp op, ANodePtr a, double c, bool scalar_first)
      : op(op), a(std::move(a)), c(c), scalar_first(scalar_first) {
    width = this->a->width;
  }
  void row(size_t p, double* out, Scratch& s, size_t depth) const override {
    a->row(p, out, s, depth + 1);
    for (size_t j = 0; j < width; ++j) out[j] = scalar_first ? apply(op, c, out[j]) : apply(op, out[j], c);
  }
  VOp op;
  ANodePtr a;
  double c;
  bool scalar_first;
};

struct Reduce final : VNode {
  Reduce(Reduction f, ANodePtr a) : f(f), a(std::move(a)) {}
  void eval(size_t begin, size_t n, double* out, Scratch& s, size_t depth) const override {
    double* buf = s.at(depth);
    for (size_t i = 0; i < n; ++i) {
      a->row(begin + i, buf, s, depth + 1);
      out[i] = reduce_numbers(f, buf, a->width);
    }
  }
  Reduction f;
  ANodePtr a;
};

struct Dot final : VNode {
  Dot(bool cosine, ANodePtr a, ANodePtr b) : cosine(cosine), a(std::move(a)), b(std::move(b)) {}
  void eval(size_t begin, size_t n, double* out, Scratch& s, size_t depth) const override {
    double *x = s.at(depth), *y = s.at(depth + 1);
    for (size_t i = 0; i < n; ++i) {
      a->row(begin + i, x, s, depth + 2);
      b->row(begin + i, y, s, depth + 2);
      out[i] = dot_or_cosine(cosine, x, y, a->width);
    }
  }
  bool cosine;
  ANodePtr a, b;
};

struct Element final : VNode {
  Element(ANodePtr a, size_t i) : a(std::move(a)), i(i) {}
  void eval(size_t begin, size_t n, double* out, Scratch& s, size_t depth) const override {
    double* buf = s.at(depth);
    for (size_t k = 0; k < n; ++k) {
      a->row(begin + k, buf, s, depth + 1);
      out[k] = buf[i];
    }
  }
  ANodePtr a;
  size_t i;
};

// Calls f(std::integral_constant<VOp, op>{}), so a node can take the operator as a template
// argument (its loop then inlines the operation).
template <typename F>
auto with_op(VOp op, F&& f) {
  switch (op) {
    case VOp::Add:
      return f(std::integral_constant<VOp, VOp::Add>{});
    case VOp::Sub:
      return f(std::integral_constant<VOp, VOp::Sub>{});
    case VOp::Mul:
      return f(std::integral_constant<VOp, VOp::Mul>{});
    case VOp::Div:
      return f(std::integral_constant<VOp, VOp::Div>{});
    case VOp::Mod:
      return f(std::integral_constant<VOp, VOp::Mod>{});
    case VOp::Eq:
      return f(std::integral_constant<VOp, VOp::Eq>{});
    case VOp::Ne:
      return f(std::integral_constant<VOp, VOp::Ne>{});
    case VOp::Lt:
      return f(std::integral_constant<VOp, VOp::Lt>{});
    case VOp::Le:
      return f(std::integral_constant<VOp, VOp::Le>{});
    case VOp::Gt:
      return f(std::integral_constant<VOp, VOp::Gt>{});
    case VOp::Ge:
      return f(std::integral_constant<VOp, VOp::Ge>{});
    case VOp::And:
      return f(std::integral_constant<VOp, VOp::And>{});
    case VOp::Or:
      return f(std::integral_constant<VOp, VOp::Or>{});
  }
  return f(std::integral_constant<VOp, VOp::Or>{});  // not reached: every VOp is listed
}

// Runs fn(begin, n) over [0, total) in blocks, in `pieces` contiguous parts on the shared pool;
// part k's results go to slot k so the caller can keep the order.
template <typename F>
void for_blocks(size_t total, size_t pieces, F fn) {
  size_t per = (total + pieces - 1) / pieces;
  get_shared_pool()->parallel_for(pieces, [&](size_t k) {
    Scratch s;
    std::vector<double> buf(kBlock);
    size_t lo = k * per, hi = std::min(total, lo + per);
    for (size_t b = lo; b < hi; b += kBlock) fn(k, b, std::min(kBlock, hi - b), buf.data(), s);
  });
}

size_t pieces_for(size_t n) {
  size_t blocks = (n + kBlock - 1) / kBlock;
  size_t threads = get_shared_pool()->size() + 1;
  return std::max<size_t>(1, std::min(blocks, threads * 4));
}

}  // namespace

VNodePtr make_const(double c) { return std::make_unique<Const>(c); }
VNodePtr make_number_column(std::shared_ptr<const NumberColumn> col, Rows rows) {
  return std::make_unique<NumberCol>(std::move(col), rows);
}
VNodePtr make_shape_dim(std::shared_ptr<const ShapeColumn> col, size_t dim, Rows rows) {
  return std::make_unique<ShapeDim>(std::move(col), dim, rows);
}
VNodePtr make_text_test(std::shared_ptr<const BytesColumn> col, Rows rows, std::function<bool(std::string_view)> test) {
  return std::make_unique<TextTest>(std::move(col), rows, std::move(test));
}
VNodePtr make_text_contains(std::shared_ptr<const BytesColumn> col, Rows rows, std::string literal) {
  return std::make_unique<TextContains>(std::move(col), rows, std::move(literal));
}
VNodePtr make_lookup(VNodePtr child, std::vector<double> table) {
  return std::make_unique<Lookup>(std::move(child), std::move(table));
}
VNodePtr make_in(VNodePtr a, std::vector<double> set, bool negated) {
  if (a->is_const) {
    bool found = std::find(set.begin(), set.end(), a->c) != set.end();
    return make_const(found != negated ? 1 : 0);
  }
  return std::make_unique<In>(std::move(a), std::move(set), negated);
}

ANodePtr make_array_column(std::shared_ptr<const NumberColumn> col, Rows rows) {
  return std::make_unique<ArrayColumn>(std::move(col), rows);
}
ANodePtr make_array_const(std::vector<double> values) { return std::make_unique<ArrayConst>(std::move(values)); }
ANodePtr make_array_binary(VOp op, ANodePtr a, ANodePtr b) {
  return std::make_unique<ArrayBinary>(op, std::move(a), std::move(b));
}
ANodePtr make_array_scalar(VOp op, ANodePtr a, double c, bool scalar_first) {
  return std::make_unique<ArrayScalar>(op, std::move(a), c, scalar_first);
}
VNodePtr make_reduce(Reduction f, ANodePtr a) { return std::make_unique<Reduce>(f, std::move(a)); }
VNodePtr make_dot(bool cosine, ANodePtr a, ANodePtr b) {
  return std::make_unique<Dot>(cosine, std::move(a), std::move(b));
}
VNodePtr make_element(ANodePtr a, size_t i) { return std::make_unique<Element>(std::move(a), i); }

VNodePtr make_not(VNodePtr a) {
  if (a->is_const) return make_const(a->c != 0 ? 0 : 1);
  return std::make_unique<Not>(std::move(a));
}

VNodePtr make_binary(VOp op, VNodePtr a, VNodePtr b) {
  if (a->is_const && b->is_const) return make_const(apply(op, a->c, b->c));
  if (const auto* col = dynamic_cast<const NumberCol*>(a.get()); col && b->is_const && is_comparison(op)) {
    VNodePtr fused =
        with_op(op, [&](auto o) { return compare_column_const<decltype(o)::value>(col->col, col->rows, b->c); });
    if (fused) return fused;
  }
  return with_op(
      op, [&](auto o) -> VNodePtr { return std::make_unique<Binary<decltype(o)::value>>(std::move(a), std::move(b)); });
}

std::vector<size_t> select_nonzero(const VNode& root, size_t n) {
  if (root.is_const) {
    std::vector<size_t> all;
    if (root.c != 0) {
      all.resize(n);
      for (size_t i = 0; i < n; ++i) all[i] = i;
    }
    return all;
  }
  size_t pieces = pieces_for(n);
  std::vector<std::vector<size_t>> parts(pieces);
  for_blocks(n, pieces, [&](size_t k, size_t begin, size_t len, double* buf, Scratch& s) {
    auto& out = parts[k];
    if (root.select(begin, len, out)) return;
    root.eval(begin, len, buf, s, 0);
    for (size_t i = 0; i < len; ++i)
      if (buf[i] != 0) out.push_back(begin + i);
  });
  size_t total = 0;
  for (const auto& p : parts) total += p.size();
  std::vector<size_t> out;
  out.reserve(total);
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::vector<double> evaluate_all(const VNode& root, size_t n) {
  std::vector<double> out(n);
  if (root.is_const) {
    std::fill(out.begin(), out.end(), root.c);
    return out;
  }
  for_blocks(n, pieces_for(n), [&](size_t, size_t begin, size_t len, double*, Scratch& s) {
    root.eval(begin, len, out.data() + begin, s, 0);
  });
  return out;
}

}  // namespace chute::detail
