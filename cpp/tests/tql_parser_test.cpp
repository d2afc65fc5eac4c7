// The TQL parser: operator precedence and grouping, errors with line and column, the nesting
// limit, and LIMIT / OFFSET counts.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>

#include "chute/core/error.h"
#include "chute/query/ast.h"

using namespace chute;
using tql::Expr;

namespace {

// The tree as an S-expression: (op a b), leaves as written.
std::string show(const Expr& e) {
  auto list = [&](const std::string& head) {
    std::string s = "(" + head;
    for (const auto& a : e.args) s += " " + show(*a);
    return s + ")";
  };
  switch (e.kind) {
    case Expr::Kind::Number: {
      std::string s = std::to_string(e.number);
      s.erase(s.find_last_not_of('0') + 1);
      if (s.back() == '.') s.pop_back();
      return s;
    }
    case Expr::Kind::String:
      return "'" + e.text + "'";
    case Expr::Kind::Bool:
      return e.number ? "TRUE" : "FALSE";
    case Expr::Kind::Null:
      return "NULL";
    case Expr::Kind::Column:
      return e.text;
    case Expr::Kind::Array:
      return list("ARRAY");
    case Expr::Kind::Call:
      return list(e.text + "()");
    case Expr::Kind::Unary:
    case Expr::Kind::Binary:
      return list(e.text);
    case Expr::Kind::In:
      return list(e.negated ? "NOT IN" : "IN");
    case Expr::Kind::Between:
      return list(e.negated ? "NOT BETWEEN" : "BETWEEN");
    case Expr::Kind::Index: {
      std::string s = "([] " + show(*e.args[0]);
      for (const auto& sl : e.slices) {
        s += " ";
        if (sl.start) s += show(*sl.start);
        if (sl.is_range) s += ":";
        if (sl.stop) s += show(*sl.stop);
      }
      return s + ")";
    }
    case Expr::Kind::Star:
      return "*";
  }
  return "?";
}

std::string where(const std::string& cond) { return show(*tql::parse("SELECT * WHERE " + cond)->select->where); }

// The QueryError a query raises (fails the test when it parses).
QueryError error_of(const std::string& q) {
  try {
    tql::parse(q);
  } catch (const QueryError& e) {
    return e;
  }
  ADD_FAILURE() << "parsed: " << q.substr(0, 200);
  return QueryError("none");
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

}  // namespace

TEST(TqlParser, Precedence) {
  EXPECT_EQ(where("a OR b AND NOT c == 1 + 2 * -3"), "(OR a (AND b (NOT (== c (+ 1 (* 2 (- 3)))))))");
  EXPECT_EQ(where("NOT a AND b"), "(AND (NOT a) b)");
  EXPECT_EQ(where("(a OR b) AND c"), "(AND (OR a b) c)");
  EXPECT_EQ(where("1 - 2 - 3"), "(- (- 1 2) 3)");  // left-associative
  EXPECT_EQ(where("8 / 4 * 2 % 3"), "(% (* (/ 8 4) 2) 3)");
  EXPECT_EQ(where("-x[0] + +y"), "(+ (- ([] x 0)) y)");  // indexing binds tighter than minus; unary + is dropped
  EXPECT_EQ(where("a + 1 IN (1, 2 * 3)"), "(IN (+ a 1) 1 (* 2 3))");
  EXPECT_EQ(where("a NOT BETWEEN 1 AND 2 AND b"), "(AND (NOT BETWEEN a 1 2) b)");
  EXPECT_EQ(where("a = 1 OR a <> 2"), "(OR (== a 1) (!= a 2))");
  EXPECT_EQ(where("contains(t, 'x') AND shape(b)[0] >= 2"), "(AND (contains() t 'x') (>= ([] (shape() b) 0) 2))");
  EXPECT_EQ(where("t[1:, :2, 0]"), "([] t 1: :2 0)");
  EXPECT_EQ(where("ARRAY[1, -2] == e"), "(== (ARRAY 1 (- 2)) e)");
}

TEST(TqlParser, AndOrChainsAreBalancedInTheirOrder) {
  EXPECT_EQ(where("a OR b OR c OR d"), "(OR (OR a b) (OR c d))");
  EXPECT_EQ(where("a AND b AND c"), "(AND a (AND b c))");
  EXPECT_EQ(where("a OR b AND c OR d OR e"), "(OR (OR a (AND b c)) (OR d e))");
  // 30,000 terms nest 17 deep (log2), not 30,000: evaluation and compile recurse that deep only.
  std::string q = "x == 0";
  for (int i = 1; i < 30000; ++i) q += " OR x == " + std::to_string(i);
  auto e = tql::parse("SELECT * WHERE " + q)->select->where;
  EXPECT_LE(e->height, 18);
  // The leaves keep their order: walk the tree left to right.
  std::vector<double> seen;
  std::function<void(const Expr&)> walk = [&](const Expr& x) {
    if (x.text == "OR") {
      walk(*x.args[0]);
      walk(*x.args[1]);
    } else {
      seen.push_back(x.args[1]->number);
    }
  };
  walk(*e);
  ASSERT_EQ(seen.size(), 30000u);
  for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], static_cast<double>(i));
}

TEST(TqlParser, ErrorsNameLineAndColumn) {
  auto e = error_of("SELECT * WHERE labels == ");
  EXPECT_EQ(e.line(), 1);
  EXPECT_EQ(e.column(), 26);
  EXPECT_NE(std::string(e.what()).find("the query ended where a value was expected"), std::string::npos);
  EXPECT_NE(std::string(e.what()).find("\n  SELECT * WHERE labels == \n"), std::string::npos);
  e = error_of("SELECT *\nWHERE num >> 3");
  EXPECT_EQ(e.line(), 2);
  EXPECT_EQ(e.column(), 12);
  EXPECT_NE(std::string(e.what()).find("line 2, column 12"), std::string::npos);
  e = error_of("SELECT * WHERE a == 'open");
  EXPECT_EQ(e.column(), 21);
  EXPECT_NE(std::string(e.what()).find("unterminated string"), std::string::npos);
  e = error_of("SELECT * WHERE a NOT 3");
  EXPECT_EQ(e.column(), 18);
  EXPECT_NE(std::string(e.what()).find("unexpected 'NOT' after the end of the query"), std::string::npos);
  e = error_of("SELECT * WHERE WHERE");
  EXPECT_NE(std::string(e.what()).find("keyword WHERE"), std::string::npos);
  e = error_of("SELECT * WHERE a == 1 b");
  EXPECT_EQ(e.column(), 23);
  e = error_of("SELECT * WHERE f(1,");
  EXPECT_NE(std::string(e.what()).find("the query ended"), std::string::npos);
  e = error_of("SELECT * WHERE a # 1");
  EXPECT_EQ(e.column(), 18);
}

TEST(TqlParser, NestingIsBoundedWithThePlaceItWentTooDeep) {
  const std::string head = "SELECT * WHERE ";  // 15 characters
  const int lim = tql::kMaxQueryDepth;
  // Parentheses: the WHERE expression is level 1, the k-th parenthesis opens level k + 1.
  EXPECT_NO_THROW(tql::parse(head + repeat("(", lim - 1) + "1" + repeat(")", lim - 1)));
  auto e = error_of(head + repeat("(", 10000) + "1" + repeat(")", 10000));
  EXPECT_EQ(e.line(), 1);
  EXPECT_EQ(e.column(), 15 + lim + 1);  // the token after the 256th '('
  EXPECT_NE(std::string(e.what()).find("nests more than 256 levels"), std::string::npos);
  // NOT NOT ...: the k-th NOT is level k + 1.
  EXPECT_NO_THROW(tql::parse(head + repeat("NOT ", lim - 1) + "a"));
  e = error_of(head + repeat("NOT ", 10000) + "a");
  EXPECT_EQ(e.column(), 15 + 4 * (lim - 1) + 1);
  // abs(abs(...)), - - - ..., ARRAY[ARRAY[...]], nested queries: all bounded.
  e = error_of(head + repeat("abs(", 10000) + "x" + repeat(")", 10000) + " > 1");
  EXPECT_NE(std::string(e.what()).find("nests more than"), std::string::npos);
  e = error_of(head + repeat("- ", 10000) + "x > 1");
  EXPECT_NE(std::string(e.what()).find("nests more than"), std::string::npos);
  e = error_of(head + repeat("ARRAY[", 10000));
  EXPECT_NE(std::string(e.what()).find("nests more than"), std::string::npos);
  e = error_of(repeat("(", 10000) + "SELECT *" + repeat(")", 10000));
  EXPECT_EQ(e.column(), lim + 1);
  // Indexing t[0][0]... grows the tree without the parser recursing: the tree's height is bounded.
  EXPECT_NO_THROW(tql::parse(head + "t" + repeat("[0]", lim - 1)));
  e = error_of(head + "t" + repeat("[0]", 10000) + " > 1");
  EXPECT_EQ(e.column(), 15 + 1 + 3 * (lim - 1) + 1);  // the 256th '['
  // Arithmetic chains stay left-deep (regrouping would change floating-point results): bounded.
  e = error_of(head + "1" + repeat(" + 1", 30000) + " > 0");
  EXPECT_EQ(e.column(), 15 + 1 + 4 * (lim - 1) + 2);  // the 256th '+'
  EXPECT_NE(std::string(e.what()).find("chain of operators"), std::string::npos);
  // Set operations chained.
  std::string sets = "(SELECT *)";
  for (int i = 0; i < 30000; ++i) sets += " UNION (SELECT *)";
  EXPECT_NE(std::string(error_of(sets).what()).find("nests more than"), std::string::npos);
  // Deep nesting on another line reports that line.
  e = error_of("SELECT *\nWHERE\n" + repeat("(", 300) + "1" + repeat(")", 300));
  EXPECT_EQ(e.line(), 3);
  EXPECT_EQ(e.column(), lim + 1);
}

TEST(TqlParser, FlatListsAreNotNesting) {
  std::string items = "0";
  for (int i = 1; i < 30000; ++i) items += ", " + std::to_string(i);
  EXPECT_EQ(tql::parse("SELECT * WHERE x IN (" + items + ")")->select->where->args.size(), 30001u);
  EXPECT_EQ(tql::parse("SELECT * WHERE dot(e, ARRAY[" + items + "]) > 0")->select->where->height, 4);
}

TEST(TqlParser, LimitAndOffsetAreWholeRowCountsThatFitIn64Bits) {
  auto s = tql::parse("SELECT * LIMIT 18446744073709551615 OFFSET 18446744073709551615")->select;
  EXPECT_TRUE(s->has_limit);
  EXPECT_EQ(s->limit, UINT64_MAX);
  EXPECT_EQ(s->offset, UINT64_MAX);
  s = tql::parse("SELECT * LIMIT 12.5 PERCENT")->select;
  EXPECT_TRUE(s->limit_percent);
  EXPECT_EQ(s->percent, 12.5);
  s = tql::parse("SELECT * LIMIT 0 OFFSET 0")->select;
  EXPECT_EQ(s->limit, 0u);
  auto e = error_of("SELECT * LIMIT 18446744073709551616");
  EXPECT_EQ(e.column(), 16);
  EXPECT_NE(std::string(e.what()).find("does not fit in 64 bits"), std::string::npos);
  EXPECT_NE(std::string(error_of("SELECT * OFFSET 99999999999999999999999").what()).find("does not fit in 64 bits"),
            std::string::npos);
  EXPECT_NE(std::string(error_of("SELECT * LIMIT 5.5").what()).find("LIMIT takes a whole number of rows, got 5.5"),
            std::string::npos);
  EXPECT_NE(std::string(error_of("SELECT * OFFSET 1e3").what()).find("OFFSET takes a whole number"), std::string::npos);
  e = error_of("SELECT * LIMIT -1");
  EXPECT_EQ(e.column(), 16);
  EXPECT_NE(std::string(e.what()).find("cannot be negative"), std::string::npos);
  EXPECT_NE(std::string(error_of("SELECT * LIMIT 101 PERCENT").what()).find("from 0 to 100"), std::string::npos);
  EXPECT_NE(std::string(error_of("SELECT * LIMIT").what()).find("expected a number after LIMIT but the query ended"),
            std::string::npos);
}
