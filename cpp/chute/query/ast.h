#pragma once
// The syntax tree of a TQL query (Deep Lake's query language, the subset chute evaluates).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace chute::tql {

struct Expr;
using ExprPtr = std::shared_ptr<Expr>;

struct Slice {
  bool is_range = false;  // a:b (either side may be absent) instead of a single index
  ExprPtr start, stop;    // for a single index: start
};

struct Expr {
  enum class Kind { Number, String, Bool, Null, Array, Column, Call, Unary, Binary, In, Between, Index, Star } kind;
  double number = 0;
  std::string text;                 // String value, column name, function name, operator
  std::vector<ExprPtr> args;        // Array items, Call args, operands, In list (args[0] is the tested value)
  std::vector<Slice> slices;        // Index
  bool negated = false;             // NOT IN / NOT BETWEEN
  int line = 0, column = 0;         // where the expression starts
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
  double limit = 0;
  uint64_t offset = 0;
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
};

/// Parses a TQL string; throws QueryError with line, column and a caret under the bad token.
std::shared_ptr<Query> parse(const std::string& text);

}  // namespace chute::tql
