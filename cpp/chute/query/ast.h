#pragma once
// The syntax tree of a TQL query (Deep Lake's query language, the subset chute evaluates).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace chute::tql {

struct Expr;
using ExprPtr = std::shared_ptr<Expr>;

/// How deep a query may nest: parentheses, NOT, unary minus, function calls, indexing, operator
/// chains that cannot be rebalanced (1 + 1 + ...), set operations. The parser, the evaluator and
/// the compiler recurse over the tree and tearing it down recurses too, so an unbounded depth
/// would overflow the stack; a deeper query is a QueryError at the token where it went too deep.
/// Long AND / OR chains are built as balanced trees and so nest only log2(terms) deep.
inline constexpr int kMaxQueryDepth = 256;

struct Slice {
  bool is_range = false;  // a:b (either side may be absent) instead of a single index
  ExprPtr start, stop;    // for a single index: start
};

/// The operator of a Binary or Unary expression, resolved once by the parser so that evaluating a
/// row does not compare operator strings. Add..Or are in detail::VOp's order.
enum class Op : uint8_t { Add, Sub, Mul, Div, Mod, Eq, Ne, Lt, Le, Gt, Ge, And, Or, Not, Neg, None };

struct Expr {
  enum class Kind { Number, String, Bool, Null, Array, Column, Call, Unary, Binary, In, Between, Index, Star } kind;
  double number = 0;
  std::string text;           // String value, column name, function name, operator
  Op op = Op::None;           // Binary and Unary: the operator in `text`
  std::vector<ExprPtr> args;  // Array items, Call args, operands, In list (args[0] is the tested value)
  std::vector<Slice> slices;  // Index
  bool negated = false;       // NOT IN / NOT BETWEEN
  int line = 0, column = 0;   // where the expression starts
  int height = 1;             // levels of the tree below and including this node (<= kMaxQueryDepth)
};

struct WeightClause {
  ExprPtr condition, weight;
};

struct Select {
  std::vector<ExprPtr> columns;  // empty: SELECT *
  ExprPtr where;
  ExprPtr order_by;
  bool descending = false;
  bool has_limit = false, limit_percent = false;
  uint64_t limit = 0;   // LIMIT n: a whole number of rows (any uint64; more than the rows there are keeps them all)
  double percent = 0;   // LIMIT p PERCENT: 0..100
  uint64_t offset = 0;  // OFFSET n: any uint64 (past the end: no rows)
  // SAMPLE BY
  bool sample = false;
  std::string sample_mode;  // "max_weight", "sum_weight" or "" (an expression)
  std::vector<WeightClause> weights;
  ExprPtr sample_expr;
  bool replace = true;
};

struct Query {
  // A leaf SELECT, or a set operation over two queries.
  std::shared_ptr<Select> select;
  std::string set_op;  // UNION, INTERSECT, EXCEPT
  std::shared_ptr<Query> left, right;
  int height = 1;  // set operations nested below and including this one (<= kMaxQueryDepth)
};

/// Parses a TQL string; throws QueryError with line, column and a caret under the bad token.
std::shared_ptr<Query> parse(const std::string& text);

}  // namespace chute::tql
