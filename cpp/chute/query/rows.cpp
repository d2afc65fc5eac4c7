// Row-by-row evaluation of TQL expressions (its functions are in functions.cpp). It defines the
// semantics; compiled nodes (compile.cpp) must agree with it.
#include "chute/query/detail/evaluator.h"

namespace chute::detail {

Evaluator::TensorInfo& Evaluator::info(const Expr& e) {
  auto it = tensors_.find(e.text);
  if (it != tensors_.end()) return it->second;
  if (!ds_.has_tensor(e.text)) {
    std::string known;
    for (const auto& n : ds_.tensor_names()) known += (known.empty() ? "" : ", ") + n;
    fail(e, "unknown tensor '" + e.text + "' (tensors: " + known + ")");
  }
  TensorInfo ti;
  ti.tensor = ds_.tensor(e.text);
  ti.meta = ti.tensor->meta();
  ti.class_label = ti.meta.htype() == "class_label";
  return tensors_.emplace(e.text, std::move(ti)).first->second;
}

std::shared_ptr<Tensor> Evaluator::tensor(const Expr& e) { return info(e).tensor; }

std::shared_ptr<const NumberColumn> Evaluator::number_column(const std::string& name) {
  TensorInfo& ti = tensors_.at(name);
  if (!ti.numbers_read) {
    ti.numbers = ti.tensor->number_column();
    ti.numbers_read = true;
  }
  return ti.numbers;
}

const std::vector<std::string>* Evaluator::class_names_of(const Expr& e) {
  const Expr* x = &e;
  while (x->kind == Expr::Kind::Index) x = x->args[0].get();  // labels[0] keeps the class names
  if (x->kind != Expr::Kind::Column) return nullptr;
  TensorInfo& ti = info(*x);
  if (!ti.class_label) return nullptr;
  return &class_names(*ti.tensor, x->text);
}

void Evaluator::check_columns(const Expr& e) {
  if (e.kind == Expr::Kind::Column) tensor(e);
  for (const auto& a : e.args) check_columns(*a);
  for (const auto& sl : e.slices) {
    if (sl.start) check_columns(*sl.start);
    if (sl.stop) check_columns(*sl.stop);
  }
  // A class name compared with a class_label tensor must be one of its names. Checked here, before
  // any row, so the answer does not depend on which rows there are (the compiled path resolves
  // the name once, the row path per row it evaluates: a typo on an empty view, or after a false
  // AND, would otherwise pass on one path and fail on the other).
  bool compares = e.kind == Expr::Kind::In || e.kind == Expr::Kind::Between;
  VOp op;
  if (e.kind == Expr::Kind::Binary && vop_from(e.text, op) && is_comparison(op)) compares = true;
  if (!compares) return;
  // args[0] is compared with each other argument (the right side, the IN items, the bounds).
  for (size_t j = 1; j < e.args.size(); ++j) {
    for (auto [col, lit] : {std::pair{e.args[0].get(), e.args[j].get()}, std::pair{e.args[j].get(), e.args[0].get()}}) {
      if (lit->kind != Expr::Kind::String) continue;
      if (const auto* names = class_names_of(*col)) class_index(e, *names, lit->text);
    }
  }
}

Value Evaluator::column(const Expr& e, size_t p) {
  // Single-number tensors (labels, scalar fields) are read in one pass over their chunks.
  TensorInfo& ti = info(e);
  if (!ti.numbers_read) number_column(e.text);
  if (const auto& nc = ti.numbers; nc && nc->width == 1) {
    uint64_t row = rows_[p];
    if (row >= nc->rows) return Value();
    double x;
    nc->gather(&row, 0, 1, &x);
    Value v = Value::number(x);
    if (ti.class_label) v.names = &class_names(*ti.tensor, e.text);
    return v;
  }
  // Rows are evaluated one at a time: keep the last row's value of each column, so a column named
  // twice in an expression is read once per row.
  auto& slot = columns_[e.text];
  if (!slot.first || slot.first->position != p)
    slot.first = Loaded{p};
  else
    return slot.second;
  slot.second = load(e, rows_[p]);
  return slot.second;
}

Value Evaluator::load(const Expr& e, uint64_t row) {
  TensorInfo& ti = info(e);
  const auto& t = ti.tensor;
  if (row >= t->length()) return Value();
  const TensorMeta& meta = ti.meta;
  Value v;
  if (meta.is_bytes_htype()) {
    std::string b = t->stored_bytes(row);
    if (meta.htype() == "text") {
      v.kind = Value::Kind::Str;
      v.str = std::move(b);
      return v;
    }
    if (json_nesting(b) > kMaxJsonNesting)
      fail(e, "tensor '" + e.text + "' row " + std::to_string(row) + " holds json nested more than " +
                  std::to_string(kMaxJsonNesting) + " levels deep");
    try {
      return from_json(nlohmann::json::parse(b));
    } catch (const nlohmann::json::exception&) {
      fail(e, "tensor '" + e.text + "' row " + std::to_string(row) + " is not valid JSON");
    }
  }
  SampleData s = t->read(row);
  DType d = meta.has_dtype() ? meta.dtype() : DType::UInt8;
  size_t n = num_elements(s.shape);
  std::vector<double> a(n);
  for (size_t i = 0; i < n; ++i) a[i] = to_double(s.bytes, i, d);
  v = Value::array(std::move(a), s.shape);
  if (ti.class_label) v.names = &class_names(*t, e.text);
  return v;
}

const std::vector<std::string>& Evaluator::class_names(const Tensor& t, const std::string& name) {
  auto it = names_.find(name);
  if (it != names_.end()) return it->second;
  std::vector<std::string> n;
  auto info = t.info();
  if (info.contains("class_names") && info["class_names"].is_array())
    for (const auto& x : info["class_names"]) n.push_back(x.is_string() ? x.get<std::string>() : x.dump());
  return names_[name] = std::move(n);
}

Value Evaluator::scalar(const Expr&, Value v) {
  if (v.kind == Value::Kind::Arr && v.arr.size() == 1) return Value::number(v.arr[0]);
  return v;
}

bool Evaluator::truth(const Expr& e, const Value& v) {
  if (v.kind == Value::Kind::Arr && v.arr.size() == 1) return v.arr[0] != 0;  // scalar(), without a copy
  switch (v.kind) {
    case Value::Kind::Null:
      return false;
    case Value::Kind::Num:
      return v.num != 0;
    case Value::Kind::Str:
      fail(e, "a condition gives text; compare it with something");
    case Value::Kind::Json:
      return !v.json.is_null() && !(v.json.is_array() && v.json.empty());
    case Value::Kind::Arr:
      if (v.arr.empty()) return false;
      fail(e, "a condition gives " + std::to_string(v.arr.size()) + " values per row; wrap it in any() or all()");
  }
  return false;
}

Value Evaluator::eval(const Expr& e, size_t p) {
  switch (e.kind) {
    case Expr::Kind::Number:
    case Expr::Kind::Bool:
      return Value::number(e.number);
    case Expr::Kind::Null:
      return Value();
    case Expr::Kind::String: {
      Value v;
      v.kind = Value::Kind::Str;
      v.str = e.text;
      return v;
    }
    case Expr::Kind::Star:
      fail(e, "'*' is not a value");
    case Expr::Kind::Array: {
      std::vector<double> a;
      for (const auto& x : e.args) {
        Value v = scalar(*x, eval(*x, p));
        if (v.kind != Value::Kind::Num) fail(*x, "ARRAY items must be numbers");
        a.push_back(v.num);
      }
      Shape s{a.size()};
      return Value::array(std::move(a), s);
    }
    case Expr::Kind::Column:
      return column(e, p);
    case Expr::Kind::Call:
      return call(e, p);
    case Expr::Kind::Unary: {
      if (e.op == tql::Op::Not) return Value::number(truth(*e.args[0], eval(*e.args[0], p)) ? 0 : 1);
      return arith(e, VOp::Sub, Value::number(0), eval(*e.args[0], p));
    }
    case Expr::Kind::Binary: {
      if (e.op == tql::Op::And)
        return Value::number(truth(*e.args[0], eval(*e.args[0], p)) && truth(*e.args[1], eval(*e.args[1], p)));
      if (e.op == tql::Op::Or)
        return Value::number(truth(*e.args[0], eval(*e.args[0], p)) || truth(*e.args[1], eval(*e.args[1], p)));
      Value a = eval(*e.args[0], p), b = eval(*e.args[1], p);
      VOp op = vop_of(e.op);
      if (is_comparison(op)) return compare(e, op, std::move(a), std::move(b));
      return arith(e, op, std::move(a), std::move(b));
    }
    case Expr::Kind::In: {
      Value a = eval(*e.args[0], p);
      bool found = false;
      for (size_t i = 1; i < e.args.size() && !found; ++i)
        found = truth(e, compare(e, VOp::Eq, a, eval(*e.args[i], p)));
      return Value::number(found != e.negated);
    }
    case Expr::Kind::Between: {
      Value a = eval(*e.args[0], p);
      bool in = truth(e, compare(e, VOp::Ge, a, eval(*e.args[1], p))) &&
                truth(e, compare(e, VOp::Le, a, eval(*e.args[2], p)));
      return Value::number(in != e.negated);
    }
    case Expr::Kind::Index:
      return index(e, eval(*e.args[0], p), p);
  }
  return Value();
}

double Evaluator::class_index(const Expr& e, const std::vector<std::string>& names, const std::string& name) {
  auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) {
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    fail(e, "'" + name + "' is not a class name (class_names: " + known + ")");
  }
  return static_cast<double>(it - names.begin());
}

void Evaluator::resolve_names(const Expr& e, Value& a, Value& b) {
  if (a.names && b.kind == Value::Kind::Str) b = Value::number(class_index(e, *a.names, b.str));
}

Value Evaluator::compare(const Expr& e, VOp op, Value a, Value b) {
  resolve_names(e, a, b);
  resolve_names(e, b, a);
  a = scalar(e, std::move(a));
  b = scalar(e, std::move(b));
  auto cmp = [op](double x, double y) { return apply(op, x, y); };  // the compiled nodes' operation
  if (a.kind == Value::Kind::Null || b.kind == Value::Kind::Null) return Value::number(0);
  if (a.kind == Value::Kind::Json) a = from_json(a.json);
  if (b.kind == Value::Kind::Json) b = from_json(b.json);
  if (a.kind == Value::Kind::Str && b.kind == Value::Kind::Str) {
    int c = a.str.compare(b.str);
    return Value::number(cmp(c, 0));
  }
  if (a.kind == Value::Kind::Str || b.kind == Value::Kind::Str)
    fail(e, std::string("type mismatch: cannot compare ") + kind_name(a.kind) + " with " + kind_name(b.kind));
  if (a.kind == Value::Kind::Num && b.kind == Value::Kind::Num) return Value::number(cmp(a.num, b.num));
  if (a.kind == Value::Kind::Arr || b.kind == Value::Kind::Arr) {
    const Value& arr = a.kind == Value::Kind::Arr ? a : b;
    std::vector<double> out(arr.arr.size());
    for (size_t i = 0; i < out.size(); ++i) {
      double x = a.kind == Value::Kind::Arr ? a.arr[i] : a.num;
      double y = b.kind == Value::Kind::Arr ? (b.arr.size() == arr.arr.size() ? b.arr[i] : NAN) : b.num;
      if (a.kind == Value::Kind::Arr && b.kind == Value::Kind::Arr && a.arr.size() != b.arr.size())
        fail(e, "arrays of different sizes compared");
      out[i] = cmp(x, y);
    }
    return Value::array(std::move(out), arr.shape);
  }
  fail(e, std::string("type mismatch: cannot compare ") + kind_name(a.kind) + " with " + kind_name(b.kind));
}

Value Evaluator::arith(const Expr& e, VOp op, Value a, Value b) {
  a = scalar(e, std::move(a));
  b = scalar(e, std::move(b));
  if (a.kind == Value::Kind::Json) a = from_json(a.json);
  if (b.kind == Value::Kind::Json) b = from_json(b.json);
  if (a.kind == Value::Kind::Null || b.kind == Value::Kind::Null) return Value();
  auto f = [op](double x, double y) { return apply(op, x, y); };  // the compiled nodes' operation
  bool num_a = a.kind == Value::Kind::Num || a.kind == Value::Kind::Arr;
  bool num_b = b.kind == Value::Kind::Num || b.kind == Value::Kind::Arr;
  if (!num_a || !num_b)
    fail(e, std::string("type mismatch: '") + e.text + "' needs numbers, got " + kind_name(a.kind) + " and " +
                kind_name(b.kind));
  if (a.kind == Value::Kind::Num && b.kind == Value::Kind::Num) return Value::number(f(a.num, b.num));
  const Value& arr = a.kind == Value::Kind::Arr ? a : b;
  if (a.kind == Value::Kind::Arr && b.kind == Value::Kind::Arr && a.arr.size() != b.arr.size())
    fail(e, "arrays of different sizes in arithmetic");
  std::vector<double> out(arr.arr.size());
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = f(a.kind == Value::Kind::Arr ? a.arr[i] : a.num, b.kind == Value::Kind::Arr ? b.arr[i] : b.num);
  return Value::array(std::move(out), arr.shape);
}

Value Evaluator::index(const Expr& e, Value v, size_t p) {
  if (v.kind == Value::Kind::Json) {
    if (e.slices.size() != 1 || e.slices[0].is_range) fail(e, "json values take one key or index");
    Value k = scalar(e, eval(*e.slices[0].start, p));
    if (k.kind == Value::Kind::Str) {
      if (!v.json.is_object() || !v.json.contains(k.str)) return Value();
      return from_json(v.json[k.str]);
    }
    if (k.kind == Value::Kind::Num && v.json.is_array()) {
      int64_t i = to_index(k.num);
      if (i < 0) i += static_cast<int64_t>(v.json.size());
      if (i < 0 || i >= static_cast<int64_t>(v.json.size())) return Value();
      return from_json(v.json[static_cast<size_t>(i)]);
    }
    fail(e, "cannot index json with " + std::string(kind_name(k.kind)));
  }
  if (v.kind == Value::Kind::Null) return v;
  if (v.kind == Value::Kind::Num && v.names) {  // a one-label sample read as a number
    auto names = v.names;
    v = Value::array({v.num}, Shape{1});
    v.names = names;
  }
  if (v.kind != Value::Kind::Arr) fail(e, std::string("cannot index ") + kind_name(v.kind));
  if (e.slices.size() > v.shape.size())
    fail(e, "too many indices for an array of " + std::to_string(v.shape.size()) + " dimensions");
  // Per dimension: the chosen start/stop, whether the dim is kept.
  std::vector<int64_t> start(v.shape.size()), stop(v.shape.size());
  std::vector<bool> keep(v.shape.size(), true);
  for (size_t d = 0; d < v.shape.size(); ++d) {
    int64_t n = static_cast<int64_t>(v.shape[d]);
    start[d] = 0;
    stop[d] = n;
    if (d >= e.slices.size()) continue;
    const auto& s = e.slices[d];
    auto get = [&](const ExprPtr& x, int64_t dflt) {
      if (!x) return dflt;
      Value k = scalar(*x, eval(*x, p));
      if (k.kind != Value::Kind::Num) fail(*x, "array indices must be numbers");
      int64_t i = to_index(k.num);
      return i < 0 ? i + n : i;
    };
    if (s.is_range) {
      start[d] = std::clamp<int64_t>(get(s.start, 0), 0, n);
      stop[d] = std::clamp<int64_t>(get(s.stop, n), start[d], n);
    } else {
      int64_t i = get(s.start, 0);
      if (i < 0 || i >= n) return Value();  // out of range: null (the row does not match)
      start[d] = i;
      stop[d] = i + 1;
      keep[d] = false;
    }
  }
  Shape out_shape;
  for (size_t d = 0; d < v.shape.size(); ++d)
    if (keep[d]) out_shape.push_back(static_cast<uint64_t>(stop[d] - start[d]));
  std::vector<double> out;
  std::vector<int64_t> idx(start);
  bool empty = false;
  for (size_t d = 0; d < v.shape.size(); ++d) empty |= stop[d] <= start[d];
  if (!empty) {
    const int nd = static_cast<int>(v.shape.size());
    while (true) {
      size_t flat = 0;
      for (int d = 0; d < nd; ++d) flat = flat * v.shape[d] + static_cast<size_t>(idx[d]);
      out.push_back(v.arr[flat]);
      int d = nd - 1;
      while (d >= 0) {
        if (++idx[d] < stop[d]) break;
        idx[d] = start[d];
        --d;
      }
      if (d < 0) break;
    }
  }
  Value r = Value::array(std::move(out), out_shape);
  r.names = v.names;
  return r;
}

std::vector<double> Evaluator::numbers(const Expr& e, const Value& v) {
  if (v.kind == Value::Kind::Arr) return v.arr;
  if (v.kind == Value::Kind::Num) return {v.num};
  if (v.kind == Value::Kind::Json && v.json.is_array()) {
    std::vector<double> out;
    for (const auto& x : v.json) {
      if (!x.is_number()) fail(e, "the json list holds a non-number");
      out.push_back(x.get<double>());
    }
    return out;
  }
  fail(e, std::string("expected numbers, got ") + kind_name(v.kind));
}

}  // namespace chute::detail
