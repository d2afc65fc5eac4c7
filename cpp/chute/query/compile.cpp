// Compiling TQL expressions to column-at-a-time nodes (detail/columnar.h). Whatever is not
// handled here returns nullopt and runs row by row, with the same answers and errors.
#include "chute/query/detail/evaluator.h"

namespace chute::detail {

namespace {

// A node giving one number per position from the dataset row: row_number(), random().
struct PerRow final : VNode {
  PerRow(Rows rows, std::function<double(uint64_t)> f) : rows(rows), f(std::move(f)) {}
  void eval(size_t begin, size_t n, double* out, Scratch&, size_t) const override {
    for (size_t i = 0; i < n; ++i) out[i] = f(rows[begin + i]);
  }
  Rows rows;
  std::function<double(uint64_t)> f;
};

bool is_compare(VOp op) { return op == VOp::Eq || op == VOp::Ne || op == VOp::Lt || op == VOp::Le || op == VOp::Gt || op == VOp::Ge; }

bool contains_match(const std::string& pat, std::string_view s) {
  if (pat.find_first_of("*?") == std::string::npos) return s.find(pat) != std::string_view::npos;
  return glob_match(("*" + pat + "*").c_str(), std::string(s).c_str());
}

}  // namespace

bool Evaluator::covers(uint64_t column_rows, Rows rows) {
  if (rows.data == nullptr) return rows.size() <= column_rows;
  uint64_t top = 0;
  for (size_t i = 0; i < rows.size(); ++i) top = std::max(top, rows.data[i]);
  return rows.size() == 0 || top < column_rows;
}

VNodePtr Evaluator::compile_value(const Expr& e, Rows rows) {
  auto c = compile(e, rows);
  return c ? std::move(c->node) : nullptr;
}

std::optional<Evaluator::Compiled> Evaluator::compile(const Expr& e, Rows rows) {
  auto value = [](VNodePtr n) {
    std::optional<Compiled> c{Compiled{}};
    c->node = std::move(n);
    return c;
  };
  switch (e.kind) {
    case Expr::Kind::Number:
    case Expr::Kind::Bool: return value(make_const(e.number));
    case Expr::Kind::String: {
      Compiled c;
      c.str = e.text;
      return c;
    }
    case Expr::Kind::Column: {
      auto t = tensor(e);
      if (auto nc = number_column(e.text)) {
        if (!covers(nc->rows, rows)) return std::nullopt;  // a missing value: the row path handles nulls
        auto c = value(make_number_column(nc, rows));
        if (t->meta().htype() == "class_label") c->names = &class_names(*t, e.text);
        return c;
      }
      if (t->meta().htype() != "text") return std::nullopt;
      auto bc = t->bytes_column();
      if (!bc || !covers(bc->rows, rows)) return std::nullopt;
      Compiled c;
      c.text = std::move(bc);
      return c;
    }
    case Expr::Kind::Unary: {
      auto a = compile_value(*e.args[0], rows);
      if (!a) return std::nullopt;
      if (e.text == "NOT") return value(make_not(std::move(a)));
      return value(make_binary(VOp::Sub, make_const(0), std::move(a)));
    }
    case Expr::Kind::Binary: {
      VOp op;
      if (!vop_from(e.text, op)) return std::nullopt;
      if (is_compare(op)) return compile_compare(e, op, rows);
      auto a = compile_value(*e.args[0], rows);
      if (!a) return std::nullopt;
      auto b = compile_value(*e.args[1], rows);
      if (!b) return std::nullopt;
      return value(make_binary(op, std::move(a), std::move(b)));
    }
    case Expr::Kind::In: {
      auto a = compile(*e.args[0], rows);
      if (!a || !a->node) return std::nullopt;
      std::vector<double> set;
      for (size_t i = 1; i < e.args.size(); ++i) {
        const Expr& item = *e.args[i];
        if (item.kind == Expr::Kind::String && a->names) {
          Value x, y;
          x.names = a->names;
          y.kind = Value::Kind::Str;
          y.str = item.text;
          resolve_names(e, x, y);
          set.push_back(y.num);
        } else if (item.kind == Expr::Kind::Number || item.kind == Expr::Kind::Bool) {
          set.push_back(item.number);
        } else {
          return std::nullopt;
        }
      }
      return value(make_in(std::move(a->node), std::move(set), e.negated));
    }
    case Expr::Kind::Between: {
      auto ge = compile_compare(e, VOp::Ge, rows, e.args[0], e.args[1]);
      auto le = compile_compare(e, VOp::Le, rows, e.args[0], e.args[2]);
      if (!ge || !le) return std::nullopt;
      auto in = make_binary(VOp::And, std::move(ge->node), std::move(le->node));
      return value(e.negated ? make_not(std::move(in)) : std::move(in));
    }
    case Expr::Kind::Call: return compile_call(e, rows);
    case Expr::Kind::Index: {
      // shape(t)[i]: one dimension of every row's shape, from the chunk headers.
      const Expr& inner = *e.args[0];
      if (inner.kind != Expr::Kind::Call || inner.text != "shape" || inner.args.size() != 1 ||
          inner.args[0]->kind != Expr::Kind::Column || e.slices.size() != 1 || e.slices[0].is_range ||
          e.slices[0].start->kind != Expr::Kind::Number)
        return std::nullopt;
      auto sc = tensor(*inner.args[0])->shape_column();
      if (!sc || !covers(sc->rows, rows)) return std::nullopt;
      auto d = static_cast<int64_t>(e.slices[0].start->number);
      if (d < 0) d += static_cast<int64_t>(sc->ndim);
      if (d < 0 || d >= static_cast<int64_t>(sc->ndim)) return std::nullopt;  // null per row: the row path
      return value(make_shape_dim(std::move(sc), static_cast<size_t>(d), rows));
    }
    default: return std::nullopt;
  }
}

std::optional<Evaluator::Compiled> Evaluator::compile_compare(const Expr& e, VOp op, Rows rows) {
  return compile_compare(e, op, rows, e.args[0], e.args[1]);
}

std::optional<Evaluator::Compiled> Evaluator::compile_compare(const Expr& e, VOp op, Rows rows, const ExprPtr& l, const ExprPtr& r) {
  auto a = compile(*l, rows);
  if (!a) return std::nullopt;
  auto b = compile(*r, rows);
  if (!b) return std::nullopt;
  std::optional<Compiled> out{Compiled{}};
  // A class name against a class_label column becomes its index (an unknown name is an error).
  for (int k = 0; k < 2; ++k) {
    Compiled& col = k == 0 ? *a : *b;
    Compiled& other = k == 0 ? *b : *a;
    if (col.names && other.str) {
      Value x, y;
      x.names = col.names;
      y.kind = Value::Kind::Str;
      y.str = *other.str;
      resolve_names(e, x, y);
      other.str.reset();
      other.node = make_const(y.num);
    }
  }
  if (a->node && b->node) {
    out->node = make_binary(op, std::move(a->node), std::move(b->node));
    return out;
  }
  // Text column against a literal: compared as the row path compares strings.
  bool text_left = a->text && b->str, text_right = b->text && a->str;
  if (!text_left && !text_right) return std::nullopt;
  auto col = text_left ? a->text : b->text;
  std::string lit = text_left ? *b->str : *a->str;
  out->node = make_text_test(col, rows, [op, lit, text_left](std::string_view s) {
    int c = s.compare(lit);
    return apply(op, text_left ? c : -c, 0) != 0;
  });
  return out;
}

std::optional<Evaluator::Compiled> Evaluator::compile_call(const Expr& e, Rows rows) {
  auto value = [](VNodePtr n) {
    std::optional<Compiled> c{Compiled{}};
    c->node = std::move(n);
    return c;
  };
  const std::string& f = e.text;
  if (f == "row_number" && e.args.empty())
    return value(std::make_unique<PerRow>(rows, [](uint64_t row) { return static_cast<double>(row); }));
  if (f == "random" && e.args.empty()) {
    uint64_t seed = seed_;
    return value(std::make_unique<PerRow>(rows, [seed](uint64_t row) {
      Rng r(mix_keys({seed, row, 0x52414e44ULL}));
      return r.uniform();
    }));
  }
  if (f == "contains" && e.args.size() == 2 && e.args[1]->kind == Expr::Kind::String) {
    std::string pat = e.args[1]->text;
    auto t = compile(*e.args[0], rows);
    if (!t) return std::nullopt;
    if (t->text && pat.find_first_of("*?") == std::string::npos) return value(make_text_contains(t->text, rows, pat));
    if (t->text) return value(make_text_test(t->text, rows, [pat](std::string_view s) { return contains_match(pat, s); }));
    if (t->node && t->names) {  // a class label: does its class name contain the pattern
      std::vector<double> table;
      for (const auto& name : *t->names) table.push_back(contains_match(pat, name) ? 1 : 0);
      return value(make_lookup(std::move(t->node), std::move(table)));
    }
  }
  return std::nullopt;
}

}  // namespace chute::detail
