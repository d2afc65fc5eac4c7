#pragma once
// Internal to TQL: compiled column-at-a-time expressions. Evaluator::compile turns an expression
// over whole-tensor columns (columns.h) into a tree of nodes; a node computes the values of a
// block of query positions into a buffer of doubles, so intermediates stay in cache and blocks
// spread over threads. Compilation fails (nullptr) for anything the row-by-row evaluator must
// do (json, arrays, rows a column lacks); both paths give the same answers.
// Thread-safety: nodes are immutable after compile; eval is called from several threads, each
// with its own Scratch.
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "chute/dataset/columns.h"
#include "chute/query/detail/value.h"

namespace chute::detail {

/// The rows a query sees: positions 0..size-1 map to dataset rows (data == nullptr: identity).
struct Rows {
  const uint64_t* data = nullptr;
  size_t n = 0;
  uint64_t operator[](size_t p) const { return data ? data[p] : p; }
  size_t size() const { return n; }
};

inline constexpr size_t kBlock = 2048;

/// Per-thread buffers, one per depth of the expression tree.
class Scratch {
 public:
  double* at(size_t depth) {
    while (bufs_.size() <= depth) bufs_.emplace_back(kBlock);
    return bufs_[depth].data();
  }

 private:
  std::vector<std::vector<double>> bufs_;
};

struct VNode {
  virtual ~VNode() = default;
  /// Values of positions [begin, begin + n) (n <= kBlock) into out; deeper nodes use s.at(depth+1...).
  virtual void eval(size_t begin, size_t n, double* out, Scratch& s, size_t depth) const = 0;
  /// Appends the positions in [begin, begin + n) whose value is non-zero, when the node has a
  /// faster way than eval and a scan (a column compared with a constant); false otherwise.
  virtual bool select(size_t, size_t, std::vector<size_t>&) const { return false; }
  bool is_const = false;
  double c = 0;
};
using VNodePtr = std::unique_ptr<VNode>;

/// An expression giving one fixed-size array per row (an embedding column, ARRAY[...], arithmetic
/// on them). Reductions and dot products turn it into a VNode.
struct ANode {
  virtual ~ANode() = default;
  /// The `width` values of position p into out; deeper nodes use s.at(depth...).
  virtual void row(size_t p, double* out, Scratch& s, size_t depth) const = 0;
  size_t width = 0;
};
using ANodePtr = std::unique_ptr<ANode>;

enum class VOp { Add, Sub, Mul, Div, Mod, Eq, Ne, Lt, Le, Gt, Ge, And, Or };

/// The VOp of a Binary expression's operator (tql::Op lists them in the same order).
inline VOp vop_of(tql::Op op) {
  static_assert(static_cast<int>(tql::Op::Add) == static_cast<int>(VOp::Add) &&
                static_cast<int>(tql::Op::Ge) == static_cast<int>(VOp::Ge) &&
                static_cast<int>(tql::Op::Or) == static_cast<int>(VOp::Or));
  return static_cast<VOp>(op);
}

inline bool is_comparison(VOp op) {
  return op == VOp::Eq || op == VOp::Ne || op == VOp::Lt || op == VOp::Le || op == VOp::Gt || op == VOp::Ge;
}

/// Op from a TQL binary operator, false when it is not one of VOp.
bool vop_from(const std::string& text, VOp& op);
inline double apply(VOp op, double x, double y) {
  switch (op) {
    case VOp::Add:
      return x + y;
    case VOp::Sub:
      return x - y;
    case VOp::Mul:
      return x * y;
    case VOp::Div:
      return y == 0 ? NAN : x / y;
    case VOp::Mod:
      return y == 0 ? NAN : std::fmod(x, y);
    case VOp::Eq:
      return x == y;
    case VOp::Ne:
      return x != y;
    case VOp::Lt:
      return x < y;
    case VOp::Le:
      return x <= y;
    case VOp::Gt:
      return x > y;
    case VOp::Ge:
      return x >= y;
    case VOp::And:
      return x != 0 && y != 0;
    case VOp::Or:
      return x != 0 || y != 0;
  }
  return 0;
}

VNodePtr make_const(double c);
VNodePtr make_number_column(std::shared_ptr<const NumberColumn> col, Rows rows);
/// shape(t)[dim] from a shape column.
VNodePtr make_shape_dim(std::shared_ptr<const ShapeColumn> col, size_t dim, Rows rows);
/// 1/0 per row from a predicate on each row's bytes (text == 'x', contains(text, 'x')).
VNodePtr make_text_test(std::shared_ptr<const BytesColumn> col, Rows rows, std::function<bool(std::string_view)> test);
/// contains(text, literal) without wildcards: 1/0 per row.
VNodePtr make_text_contains(std::shared_ptr<const BytesColumn> col, Rows rows, std::string literal);
/// table[x] for a child giving small non-negative integers (class label -> 1/0), else 0.
VNodePtr make_lookup(VNodePtr child, std::vector<double> table);
VNodePtr make_not(VNodePtr a);

/// Arrays: a column whose rows are `width` numbers; constants; elementwise arithmetic (b may be a
/// constant VNode broadcast over a's elements).
ANodePtr make_array_column(std::shared_ptr<const NumberColumn> col, Rows rows);
ANodePtr make_array_const(std::vector<double> values);
ANodePtr make_array_binary(VOp op, ANodePtr a, ANodePtr b);
ANodePtr make_array_scalar(VOp op, ANodePtr a, double c, bool scalar_first);
/// reduce_numbers(f, row) per row (sum, avg, amin, amax, prod, l1/l2/linf_norm).
VNodePtr make_reduce(Reduction f, ANodePtr a);
/// dot or cosine_similarity of two arrays of the same width, per row.
VNodePtr make_dot(bool cosine, ANodePtr a, ANodePtr b);
/// Element i of each row's array.
VNodePtr make_element(ANodePtr a, size_t i);
VNodePtr make_binary(VOp op, VNodePtr a, VNodePtr b);
VNodePtr make_in(VNodePtr a, std::vector<double> set, bool negated);

/// The positions in [0, n) whose value is non-zero, in order, evaluated block by block on the
/// shared engine pool.
std::vector<size_t> select_nonzero(const VNode& root, size_t n);
/// The values of positions [0, n) (threads as above).
std::vector<double> evaluate_all(const VNode& root, size_t n);

}  // namespace chute::detail
