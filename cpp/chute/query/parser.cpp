#include <cctype>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "chute/core/error.h"
#include "chute/query/ast.h"

namespace chute::tql {
namespace {

struct Token {
  enum class Type { Ident, Number, String, Symbol, End } type;
  std::string text;  // identifiers upper-cased in `upper`
  std::string upper;
  double number = 0;
  size_t pos = 0;
  int line = 1, column = 1;
};

class Lexer {
 public:
  explicit Lexer(const std::string& s) : s_(s) {}
  std::vector<Token> run() {
    std::vector<Token> out;
    while (true) {
      skip_space();
      Token t;
      t.pos = i_;
      t.line = line_;
      t.column = static_cast<int>(i_ - line_start_) + 1;
      if (i_ >= s_.size()) {
        t.type = Token::Type::End;
        out.push_back(t);
        return out;
      }
      char c = s_[i_];
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t b = i_;
        while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_' || s_[i_] == '/'))
          ++i_;
        t.type = Token::Type::Ident;
        t.text = s_.substr(b, i_ - b);
      } else if (std::isdigit(static_cast<unsigned char>(c)) ||
                 (c == '.' && i_ + 1 < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_ + 1])))) {
        size_t b = i_;
        while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.')) ++i_;
        if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
          size_t save = i_++;
          if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
          if (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
            while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
          } else {
            i_ = save;
          }
        }
        t.type = Token::Type::Number;
        t.text = s_.substr(b, i_ - b);
        char* end = nullptr;
        t.number = std::strtod(t.text.c_str(), &end);
        if (end != t.text.c_str() + t.text.size()) fail(t, "malformed number '" + t.text + "'");
      } else if (c == '\'' || c == '"') {
        // 'text' is a string; "name" is a quoted identifier (a tensor name with odd characters).
        char q = c;
        ++i_;
        std::string v;
        while (true) {
          if (i_ >= s_.size()) fail(t, "unterminated string");
          if (s_[i_] == q) {
            if (i_ + 1 < s_.size() && s_[i_ + 1] == q) {
              v += q;
              i_ += 2;
              continue;
            }
            ++i_;
            break;
          }
          if (s_[i_] == '\n') newline();
          v += s_[i_++];
        }
        t.type = q == '\'' ? Token::Type::String : Token::Type::Ident;
        t.text = v;
      } else {
        static const char* two[] = {"==", "!=", "<>", "<=", ">="};
        t.type = Token::Type::Symbol;
        for (const char* op : two)
          if (s_.compare(i_, 2, op) == 0) t.text = op;
        if (t.text.empty()) {
          if (std::string("=<>+-*/%(),[]:").find(c) == std::string::npos)
            fail(t, std::string("unexpected character '") + c + "'");
          t.text = std::string(1, c);
        }
        i_ += t.text.size();
      }
      t.upper = t.text;
      for (auto& ch : t.upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      out.push_back(t);
    }
  }
  [[noreturn]] void fail(const Token& t, const std::string& msg) const;

 private:
  void newline() {
    ++line_;
    line_start_ = i_ + 1;
  }
  void skip_space() {
    while (i_ < s_.size()) {
      if (s_[i_] == '\n') {
        newline();
        ++i_;
      } else if (std::isspace(static_cast<unsigned char>(s_[i_]))) {
        ++i_;
      } else if (s_.compare(i_, 2, "--") == 0) {
        while (i_ < s_.size() && s_[i_] != '\n') ++i_;
      } else {
        break;
      }
    }
  }
  const std::string& s_;
  size_t i_ = 0;
  int line_ = 1;
  size_t line_start_ = 0;
};

[[noreturn]] void raise_at(const std::string& src, int line, int column, const std::string& msg) {
  std::istringstream in(src);
  std::string text;
  for (int l = 0; l < line && std::getline(in, text); ++l) {
  }
  std::string caret(static_cast<size_t>(std::max(0, column - 1)), ' ');
  throw QueryError("TQL syntax error at line " + std::to_string(line) + ", column " + std::to_string(column) + ": " +
                       msg + "\n  " + text + "\n  " + caret + "^",
                   line, column);
}

void Lexer::fail(const Token& t, const std::string& msg) const { raise_at(s_, t.line, t.column, msg); }

class Parser {
 public:
  Parser(const std::string& src, std::vector<Token> toks) : src_(src), t_(std::move(toks)) {}

  std::shared_ptr<Query> query() {
    auto q = set_query();
    if (peek().type != Token::Type::End) fail(peek(), "unexpected '" + peek().text + "' after the end of the query");
    return q;
  }

 private:
  const Token& peek(size_t k = 0) const { return t_[std::min(p_ + k, t_.size() - 1)]; }
  const Token& next() { return t_[std::min(p_++, t_.size() - 1)]; }
  bool is_kw(const char* kw, size_t k = 0) const { return peek(k).type == Token::Type::Ident && peek(k).upper == kw; }
  bool is_sym(const char* s, size_t k = 0) const { return peek(k).type == Token::Type::Symbol && peek(k).text == s; }
  bool accept_kw(const char* kw) {
    if (!is_kw(kw)) return false;
    ++p_;
    return true;
  }
  bool accept_sym(const char* s) {
    if (!is_sym(s)) return false;
    ++p_;
    return true;
  }
  void expect_kw(const char* kw) {
    if (!accept_kw(kw)) fail(peek(), std::string("expected ") + kw + describe());
  }
  void expect_sym(const char* s) {
    if (!accept_sym(s)) fail(peek(), std::string("expected '") + s + "'" + describe());
  }
  std::string describe() const {
    return peek().type == Token::Type::End ? " but the query ended" : ", found '" + peek().text + "'";
  }
  [[noreturn]] void fail(const Token& t, const std::string& msg) const { raise_at(src_, t.line, t.column, msg); }

  [[noreturn]] void too_deep(const Token& t) const {
    fail(t, "the query nests more than " + std::to_string(kMaxQueryDepth) +
                " levels deep here (parentheses, NOT, minus signs, function calls, indexing or a chain of operators); "
                "simplify it or split it into several queries");
  }

  // One level of the parser's own recursion (a nested expression or query); the parser recurses
  // once per level of nesting, so bounding the levels bounds its stack.
  struct Nest {
    Nest(Parser& p, const Token& at) : p(p) {
      if (++p.nesting_ > kMaxQueryDepth) p.too_deep(at);
    }
    ~Nest() { --p.nesting_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;
    Parser& p;
  };

  // Sets e's height from its children's; a tree deeper than kMaxQueryDepth is an error at e's token
  // (t[0][0]... and 1 + 1 + ... grow the tree without the parser recursing).
  ExprPtr seal(ExprPtr e, const Token& at) {
    if (e->kind == Expr::Kind::Unary) e->op = e->text == "NOT" ? Op::Not : Op::Neg;
    if (e->kind == Expr::Kind::Binary) {
      static const std::pair<const char*, Op> ops[] = {{"+", Op::Add}, {"-", Op::Sub}, {"*", Op::Mul}, {"/", Op::Div},
                                                       {"%", Op::Mod}, {"==", Op::Eq}, {"!=", Op::Ne}, {"<", Op::Lt},
                                                       {"<=", Op::Le}, {">", Op::Gt},  {">=", Op::Ge}, {"AND", Op::And},
                                                       {"OR", Op::Or}};
      for (const auto& [name, o] : ops)
        if (e->text == name) e->op = o;
    }
    int h = 0;
    for (const auto& a : e->args) h = std::max(h, a->height);
    for (const auto& sl : e->slices) {
      if (sl.start) h = std::max(h, sl.start->height);
      if (sl.stop) h = std::max(h, sl.stop->height);
    }
    e->height = h + 1;
    if (e->height > kMaxQueryDepth) too_deep(at);
    return e;
  }

  std::shared_ptr<Query> set_query() {
    auto left = primary_query();
    while (is_kw("UNION") || is_kw("INTERSECT") || is_kw("EXCEPT")) {
      const Token& at = peek();
      std::string op = next().upper;
      accept_kw("ALL");
      auto right = primary_query();
      auto q = std::make_shared<Query>();
      q->set_op = op;
      q->left = left;
      q->right = right;
      q->height = std::max(left->height, right->height) + 1;
      if (q->height > kMaxQueryDepth) too_deep(at);
      left = q;
    }
    return left;
  }

  std::shared_ptr<Query> primary_query() {
    if (is_sym("(")) {
      Nest nest(*this, peek());
      next();
      auto q = set_query();
      expect_sym(")");
      return q;
    }
    auto q = std::make_shared<Query>();
    q->select = select();
    return q;
  }

  std::shared_ptr<Select> select() {
    auto s = std::make_shared<Select>();
    expect_kw("SELECT");
    if (accept_sym("*")) {
    } else {
      do {
        s->columns.push_back(expr());
        if (accept_kw("AS")) {
          if (peek().type != Token::Type::Ident) fail(peek(), "expected a name after AS" + describe());
          next();
        }
      } while (accept_sym(","));
    }
    if (accept_kw("FROM")) {
      if (peek().type != Token::Type::Ident && peek().type != Token::Type::String)
        fail(peek(), "expected a dataset after FROM");
      next();
    }
    if (accept_kw("WHERE")) s->where = expr();
    if (is_kw("SAMPLE")) {
      next();
      expect_kw("BY");
      s->sample = true;
      if ((is_kw("MAX_WEIGHT") || is_kw("SUM_WEIGHT")) && is_sym("(", 1)) {
        s->sample_mode = next().text;
        for (auto& ch : s->sample_mode) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        expect_sym("(");
        do {
          WeightClause w;
          w.condition = expr();
          expect_sym(":");
          w.weight = expr();
          s->weights.push_back(w);
        } while (accept_sym(","));
        expect_sym(")");
      } else {
        s->sample_expr = expr();
      }
      if (accept_kw("REPLACE")) {
        if (accept_kw("TRUE"))
          s->replace = true;
        else if (accept_kw("FALSE"))
          s->replace = false;
        else
          s->replace = true;
      }
    }
    if (accept_kw("ORDER")) {
      expect_kw("BY");
      s->order_by = expr();
      if (accept_kw("DESC"))
        s->descending = true;
      else
        accept_kw("ASC");
    }
    if (accept_kw("LIMIT")) {
      if (peek().type != Token::Type::Number) fail(peek(), "expected a number after LIMIT" + count_problem());
      const Token& n = next();
      s->has_limit = true;
      if (accept_kw("PERCENT")) {
        if (!(n.number >= 0 && n.number <= 100))
          fail(n, "LIMIT ... PERCENT takes a percentage from 0 to 100, got " + n.text);
        s->limit_percent = true;
        s->percent = n.number;
      } else {
        s->limit = whole_number(n, "LIMIT");
      }
    }
    if (accept_kw("OFFSET")) {
      if (peek().type != Token::Type::Number) fail(peek(), "expected a number after OFFSET" + count_problem());
      s->offset = whole_number(next(), "OFFSET");
    }
    return s;
  }

  std::string count_problem() const { return is_sym("-") ? ": a row count cannot be negative" : describe(); }

  // LIMIT / OFFSET counts rows: digits only, read exactly (a double would round 2**64 - 1 up to
  // 2**64 and its conversion would wrap), and a count that does not fit in 64 bits is an error.
  uint64_t whole_number(const Token& t, const char* clause) const {
    uint64_t v = 0;
    for (char c : t.text) {
      if (!std::isdigit(static_cast<unsigned char>(c)))
        fail(t, std::string(clause) + " takes a whole number of rows, got " + t.text);
      uint64_t d = static_cast<uint64_t>(c - '0');
      if (v > (std::numeric_limits<uint64_t>::max() - d) / 10)
        fail(t, std::string(clause) + " " + t.text + " does not fit in 64 bits (at most 18446744073709551615)");
      v = v * 10 + d;
    }
    return v;
  }

  ExprPtr make(Expr::Kind k, const Token& at) {
    auto e = std::make_shared<Expr>();
    e->kind = k;
    e->line = at.line;
    e->column = at.column;
    return e;
  }

  ExprPtr expr() {
    Nest nest(*this, peek());
    return or_expr();
  }

  // a OR b OR c ...: a balanced tree of the terms, in their order. AND and OR short-circuit left
  // to right on the row-by-row path and are associative, so the grouping changes no answer and no
  // error, and a chain of n terms nests log2(n) deep instead of n.
  ExprPtr balanced(const char* op, std::vector<ExprPtr>& terms, std::vector<Token>& ops, size_t lo, size_t hi) {
    if (lo == hi) return terms[lo];
    size_t mid = lo + (hi - lo + 1) / 2;  // terms [lo, mid) and [mid, hi]; ops[mid - 1] joins them
    auto e = make(Expr::Kind::Binary, ops[mid - 1]);
    e->text = op;
    e->args = {balanced(op, terms, ops, lo, mid - 1), balanced(op, terms, ops, mid, hi)};
    return seal(e, ops[mid - 1]);
  }
  template <typename Term>
  ExprPtr chain(const char* op, Term term) {
    std::vector<ExprPtr> terms{term()};
    std::vector<Token> ops;
    while (is_kw(op)) {
      ops.push_back(next());
      terms.push_back(term());
    }
    return balanced(op, terms, ops, 0, terms.size() - 1);
  }
  ExprPtr or_expr() {
    return chain("OR", [this] { return and_expr(); });
  }
  ExprPtr and_expr() {
    return chain("AND", [this] { return not_expr(); });
  }
  ExprPtr not_expr() {
    if (is_kw("NOT")) {
      Nest nest(*this, peek());
      const Token& at = next();
      auto e = make(Expr::Kind::Unary, at);
      e->text = "NOT";
      e->args = {not_expr()};
      return seal(e, at);
    }
    return cmp_expr();
  }
  ExprPtr cmp_expr() {
    auto l = add_expr();
    const Token& t = peek();
    if (t.type == Token::Type::Symbol && (t.text == "==" || t.text == "=" || t.text == "!=" || t.text == "<>" ||
                                          t.text == "<" || t.text == "<=" || t.text == ">" || t.text == ">=")) {
      const Token& at = next();
      auto e = make(Expr::Kind::Binary, at);
      e->text = at.text == "=" ? "==" : at.text == "<>" ? "!=" : at.text;
      e->args = {l, add_expr()};
      return seal(e, at);
    }
    bool neg = false;
    if (is_kw("NOT") && (is_kw("IN", 1) || is_kw("BETWEEN", 1))) {
      next();
      neg = true;
    }
    if (is_kw("IN")) {
      const Token& at = next();
      auto e = make(Expr::Kind::In, at);
      e->negated = neg;
      e->args.push_back(l);
      expect_sym("(");
      if (!is_sym(")")) {
        do e->args.push_back(add_expr());
        while (accept_sym(","));
      }
      expect_sym(")");
      return seal(e, at);
    }
    if (is_kw("BETWEEN")) {
      const Token& at = next();
      auto e = make(Expr::Kind::Between, at);
      e->negated = neg;
      auto lo = add_expr();
      expect_kw("AND");
      e->args = {l, lo, add_expr()};
      return seal(e, at);
    }
    if (neg) fail(peek(), "expected IN or BETWEEN after NOT");
    return l;
  }
  // Arithmetic chains stay left-deep (floating-point + and * are not associative, so regrouping
  // could change results); seal() bounds their length by kMaxQueryDepth.
  ExprPtr add_expr() {
    auto l = mul_expr();
    while (is_sym("+") || is_sym("-")) {
      const Token& at = next();
      auto e = make(Expr::Kind::Binary, at);
      e->text = at.text;
      e->args = {l, mul_expr()};
      l = seal(e, at);
    }
    return l;
  }
  ExprPtr mul_expr() {
    auto l = unary();
    while (is_sym("*") || is_sym("/") || is_sym("%")) {
      const Token& at = next();
      auto e = make(Expr::Kind::Binary, at);
      e->text = at.text;
      e->args = {l, unary()};
      l = seal(e, at);
    }
    return l;
  }
  ExprPtr unary() {
    if (is_sym("-") || is_sym("+")) {
      Nest nest(*this, peek());
      const Token& at = next();
      if (at.text == "+") return unary();
      auto e = make(Expr::Kind::Unary, at);
      e->text = "-";
      e->args = {unary()};
      return seal(e, at);
    }
    return postfix();
  }
  ExprPtr postfix() {
    auto e = primary();
    while (is_sym("[")) {
      const Token& at = next();
      auto ix = make(Expr::Kind::Index, at);
      ix->args = {e};
      do {
        Slice s;
        if (!is_sym(":")) s.start = expr();
        if (accept_sym(":")) {
          s.is_range = true;
          if (!is_sym(",") && !is_sym("]")) s.stop = expr();
        }
        if (!s.is_range && !s.start) fail(peek(), "expected an index" + describe());
        ix->slices.push_back(s);
      } while (accept_sym(","));
      expect_sym("]");
      e = seal(ix, at);
    }
    return e;
  }
  ExprPtr primary() {
    const Token& t = peek();
    switch (t.type) {
      case Token::Type::Number: {
        auto e = make(Expr::Kind::Number, next());
        e->number = t.number;
        return e;
      }
      case Token::Type::String: {
        auto e = make(Expr::Kind::String, next());
        e->text = t.text;
        return e;
      }
      case Token::Type::Symbol:
        if (t.text == "(") {
          next();
          auto e = expr();
          expect_sym(")");
          return e;
        }
        fail(t, "expected a value, a tensor or a function" + describe());
      case Token::Type::End:
        fail(t, "the query ended where a value was expected");
      case Token::Type::Ident:
        break;
    }
    Token id = next();
    if (id.upper == "TRUE" || id.upper == "FALSE") {
      auto e = make(Expr::Kind::Bool, id);
      e->number = id.upper == "TRUE";
      return e;
    }
    if (id.upper == "NULL") return make(Expr::Kind::Null, id);
    if (id.upper == "ARRAY" && is_sym("[")) {
      auto e = make(Expr::Kind::Array, id);
      next();
      if (!is_sym("]")) {
        do e->args.push_back(expr());
        while (accept_sym(","));
      }
      expect_sym("]");
      return seal(e, id);
    }
    static const char* reserved[] = {"SELECT", "WHERE",   "ORDER", "BY",        "LIMIT",  "OFFSET", "AND",  "OR", "NOT",
                                     "IN",     "BETWEEN", "UNION", "INTERSECT", "EXCEPT", "SAMPLE", "FROM", "AS"};
    for (const char* r : reserved)
      if (id.upper == r) fail(id, "expected a value, a tensor or a function, found the keyword " + id.upper);
    if (is_sym("(")) {
      auto e = make(Expr::Kind::Call, id);
      e->text = id.text;
      for (auto& ch : e->text) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      next();
      if (!is_sym(")")) {
        do e->args.push_back(expr());
        while (accept_sym(","));
      }
      expect_sym(")");
      return seal(e, id);
    }
    auto e = make(Expr::Kind::Column, id);
    e->text = id.text;
    return e;
  }

  const std::string& src_;
  std::vector<Token> t_;
  size_t p_ = 0;
  int nesting_ = 0;  // Nest levels open
};

}  // namespace

std::shared_ptr<Query> parse(const std::string& text) {
  Lexer lex(text);
  Parser p(text, lex.run());
  return p.query();
}

}  // namespace chute::tql
