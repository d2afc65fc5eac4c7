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

}  // namespace

std::optional<Evaluator::Compiled> Evaluator::numeric(VNodePtr node) {
  std::optional<Compiled> c{Compiled{}};
  c->node = std::move(node);
  return c;
}

bool Evaluator::covers(uint64_t column_rows, Rows rows) {
  if (rows.data == nullptr) return rows.size() <= column_rows;
  if (rows.size() == 0) return true;
  // Every row set a query compiles over is rows_ or a subset of it (rows_at), so the largest row
  // of rows_, found once, bounds them all.
  if (!top_row_) {
    uint64_t top = 0;
    for (size_t i = 0; i < rows_.size(); ++i) top = std::max(top, rows_[i]);
    top_row_ = top;
  }
  return *top_row_ < column_rows;
}

VNodePtr Evaluator::compile_value(const Expr& e, Rows rows) {
  auto c = compile(e, rows);
  return c ? std::move(c->node) : nullptr;
}

std::optional<Evaluator::Compiled> Evaluator::compile(const Expr& e, Rows rows) {
  if (row_by_row_only_) return std::nullopt;
  switch (e.kind) {
    case Expr::Kind::Number:
    case Expr::Kind::Bool:
      return numeric(make_const(e.number));
    case Expr::Kind::String: {
      Compiled c;
      c.str = e.text;
      return c;
    }
    case Expr::Kind::Column: {
      TensorInfo& ti = info(e);
      if (auto nc = number_column(e.text)) {
        if (!covers(nc->rows, rows)) return std::nullopt;  // a missing value: the row path handles nulls
        if (nc->width == 1) {
          auto c = numeric(make_number_column(nc, rows));
          if (ti.class_label) c->names = &class_names(*ti.tensor, e.text);
          return c;
        }
        if (ti.class_label || nc->width > kBlock) return std::nullopt;
        Compiled c;
        c.arr = make_array_column(nc, rows);
        return c;
      }
      if (ti.meta.htype() != "text") return std::nullopt;
      auto bc = ti.tensor->bytes_column();
      if (!bc || !covers(bc->rows, rows)) return std::nullopt;
      Compiled c;
      c.text = std::move(bc);
      return c;
    }
    case Expr::Kind::Array: {
      std::vector<double> items;
      for (const auto& x : e.args) {  // constant items (-1, 2 * 3): folded at compile time
        auto item = compile(*x, rows);
        if (!item || !item->node || !item->node->is_const) return std::nullopt;
        items.push_back(item->node->c);
      }
      if (items.size() < 2 || items.size() > kBlock) return std::nullopt;  // one item acts as a number: the row path
      Compiled c;
      c.arr = make_array_const(std::move(items));
      return c;
    }
    case Expr::Kind::Unary: {
      auto a = compile(*e.args[0], rows);
      if (!a) return std::nullopt;
      if (a->arr && e.text != "NOT") {
        Compiled c;
        c.arr = make_array_scalar(VOp::Sub, std::move(a->arr), 0, true);
        return c;
      }
      if (!a->node) return std::nullopt;
      if (e.text == "NOT") return numeric(make_not(std::move(a->node)));
      return numeric(make_binary(VOp::Sub, make_const(0), std::move(a->node)));
    }
    case Expr::Kind::Binary: {
      VOp op;
      if (!vop_from(e.text, op)) return std::nullopt;
      if (is_comparison(op)) return compile_compare(e, op, rows);
      auto a = compile(*e.args[0], rows);
      if (!a) return std::nullopt;
      auto b = compile(*e.args[1], rows);
      if (!b) return std::nullopt;
      if (a->arr || b->arr) return compile_array_math(e, op, *a, *b);
      if (!a->node || !b->node) return std::nullopt;
      return numeric(make_binary(op, std::move(a->node), std::move(b->node)));
    }
    case Expr::Kind::In: {
      auto a = compile(*e.args[0], rows);
      if (!a || !a->node) return std::nullopt;
      std::vector<double> set;
      for (size_t i = 1; i < e.args.size(); ++i) {
        const Expr& item = *e.args[i];
        if (item.kind == Expr::Kind::String && a->names) {
          set.push_back(class_index(e, *a->names, item.text));
        } else {
          auto c = compile(item, rows);
          if (!c || !c->node || !c->node->is_const) return std::nullopt;
          set.push_back(c->node->c);
        }
      }
      return numeric(make_in(std::move(a->node), std::move(set), e.negated));
    }
    case Expr::Kind::Between: {
      auto ge = compile_compare(e, VOp::Ge, rows, e.args[0], e.args[1]);
      auto le = compile_compare(e, VOp::Le, rows, e.args[0], e.args[2]);
      if (!ge || !le) return std::nullopt;
      auto in = make_binary(VOp::And, std::move(ge->node), std::move(le->node));
      return numeric(e.negated ? make_not(std::move(in)) : std::move(in));
    }
    case Expr::Kind::Call:
      return compile_call(e, rows);
    case Expr::Kind::Index: {
      const Expr& inner = *e.args[0];
      if (inner.kind == Expr::Kind::Column && e.slices.size() == 1 && !e.slices[0].is_range &&
          e.slices[0].start->kind == Expr::Kind::Number) {
        // t[i] on a column of 1-D arrays: one element per row.
        tensor(inner);
        auto nc = number_column(inner.text);
        if (!nc || nc->width == 1 || nc->sample_shape.size() != 1) return std::nullopt;
        auto a = compile(inner, rows);
        if (!a || !a->arr) return std::nullopt;
        auto i = to_index(e.slices[0].start->number);
        if (i < 0) i += static_cast<int64_t>(nc->width);
        if (i < 0 || i >= static_cast<int64_t>(nc->width)) return std::nullopt;  // null per row: the row path
        return numeric(make_element(std::move(a->arr), static_cast<size_t>(i)));
      }
      // shape(t)[i]: one dimension of every row's shape, from the chunk headers.
      if (inner.kind != Expr::Kind::Call || inner.text != "shape" || inner.args.size() != 1 ||
          inner.args[0]->kind != Expr::Kind::Column || e.slices.size() != 1 || e.slices[0].is_range ||
          e.slices[0].start->kind != Expr::Kind::Number)
        return std::nullopt;
      auto sc = tensor(*inner.args[0])->shape_column();
      if (!sc || !covers(sc->rows, rows)) return std::nullopt;
      auto d = to_index(e.slices[0].start->number);
      if (d < 0) d += static_cast<int64_t>(sc->ndim);
      if (d < 0 || d >= static_cast<int64_t>(sc->ndim)) return std::nullopt;  // null per row: the row path
      return numeric(make_shape_dim(std::move(sc), static_cast<size_t>(d), rows));
    }
    default:
      return std::nullopt;
  }
}

std::optional<Evaluator::Compiled> Evaluator::compile_array_math(const Expr&, VOp op, Compiled& a, Compiled& b) {
  if (op != VOp::Add && op != VOp::Sub && op != VOp::Mul && op != VOp::Div && op != VOp::Mod) return std::nullopt;
  Compiled c;
  if (a.arr && b.arr) {
    if (a.arr->width != b.arr->width) return std::nullopt;  // the row path reports the size mismatch
    c.arr = make_array_binary(op, std::move(a.arr), std::move(b.arr));
  } else if (a.arr && b.node && b.node->is_const) {
    c.arr = make_array_scalar(op, std::move(a.arr), b.node->c, false);
  } else if (b.arr && a.node && a.node->is_const) {
    c.arr = make_array_scalar(op, std::move(b.arr), a.node->c, true);
  } else {
    return std::nullopt;
  }
  return c;
}

std::optional<Evaluator::Compiled> Evaluator::compile_compare(const Expr& e, VOp op, Rows rows) {
  return compile_compare(e, op, rows, e.args[0], e.args[1]);
}

std::optional<Evaluator::Compiled> Evaluator::compile_compare(const Expr& e, VOp op, Rows rows, const ExprPtr& l,
                                                              const ExprPtr& r) {
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
      other.node = make_const(class_index(e, *col.names, *other.str));
      other.str.reset();
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
  const std::string& f = e.text;
  if (f == "row_number" && e.args.empty())
    return numeric(std::make_unique<PerRow>(rows, [](uint64_t row) { return static_cast<double>(row); }));
  if (f == "random" && e.args.empty()) {
    uint64_t seed = seed_;
    return numeric(std::make_unique<PerRow>(rows, [seed](uint64_t row) { return row_random(seed, row); }));
  }
  if (auto reduction = reduction_from(f); reduction && e.args.size() == 1) {
    auto a = compile(*e.args[0], rows);
    if (a && a->arr) return numeric(make_reduce(*reduction, std::move(a->arr)));
    return std::nullopt;
  }
  if ((f == "dot" || f == "cosine_similarity") && e.args.size() == 2) {
    auto a = compile(*e.args[0], rows);
    if (!a || !a->arr) return std::nullopt;
    auto b = compile(*e.args[1], rows);
    if (!b || !b->arr || a->arr->width != b->arr->width) return std::nullopt;
    return numeric(make_dot(f == "cosine_similarity", std::move(a->arr), std::move(b->arr)));
  }
  if (f == "contains" && e.args.size() == 2 && e.args[1]->kind == Expr::Kind::String) {
    std::string pat = e.args[1]->text;
    auto t = compile(*e.args[0], rows);
    if (!t) return std::nullopt;
    if (t->text && pat.find_first_of("*?") == std::string::npos) return numeric(make_text_contains(t->text, rows, pat));
    if (t->text)
      return numeric(make_text_test(t->text, rows, [pat](std::string_view s) { return contains_match(pat, s); }));
    if (t->node && t->names) {  // a class label: does its class name contain the pattern
      std::vector<double> table;
      for (const auto& name : *t->names) table.push_back(contains_match(pat, name) ? 1 : 0);
      return numeric(make_lookup(std::move(t->node), std::move(table)));
    }
  }
  return std::nullopt;
}

}  // namespace chute::detail
