#include "chute/query/detail/evaluator.h"

namespace chute {

const std::vector<std::string>& tql_functions() {
  static const std::vector<std::string> names = {"abs",       "all",         "all_strict",
                                                 "amax",      "amin",        "any",
                                                 "avg",       "contains",    "cosine_similarity",
                                                 "dot",       "l1_norm",     "l2_norm",
                                                 "linf_norm", "logical_and", "logical_or",
                                                 "prod",      "random",      "row_number",
                                                 "shape",     "sqrt",        "sum"};
  return names;
}

namespace detail {

Value Evaluator::call(const Expr& e, size_t p) {
  const std::string& f = e.text;
  auto arity = [&](size_t n) {
    if (e.args.size() != n)
      fail(e, f + "() takes " + std::to_string(n) + " argument(s), got " + std::to_string(e.args.size()));
  };
  if (f == "shape") {
    arity(1);
    if (e.args[0]->kind != Expr::Kind::Column) fail(e, "shape() takes a tensor");
    auto t = tensor(*e.args[0]);
    uint64_t row = rows_[p];
    if (row >= t->length()) return Value();
    Shape s = t->shape(row);
    std::vector<double> a(s.begin(), s.end());
    Shape as{s.size()};
    return Value::array(std::move(a), as);
  }
  if (f == "row_number") {
    arity(0);
    return Value::number(static_cast<double>(rows_[p]));
  }
  if (f == "random") {
    arity(0);
    return Value::number(row_random(seed_, rows_[p]));
  }
  if (f == "contains") {
    arity(2);
    Value t = eval(*e.args[0], p), pat = eval(*e.args[1], p);
    if (pat.kind != Value::Kind::Str) fail(*e.args[1], "contains() takes a text pattern");
    auto match = [&](const std::string& s) { return contains_match(pat.str, s); };
    if (t.kind == Value::Kind::Str) return Value::number(match(t.str));
    if (t.kind == Value::Kind::Json && t.json.is_array()) {
      for (const auto& x : t.json)
        if (x.is_string() && match(x.get<std::string>())) return Value::number(1);
      return Value::number(0);
    }
    if (t.kind == Value::Kind::Num && t.names) {
      double x = t.num;
      return Value::number(x >= 0 && x < t.names->size() && match((*t.names)[static_cast<size_t>(x)]));
    }
    if (t.kind == Value::Kind::Arr && t.names) {
      for (double x : t.arr)
        if (x >= 0 && x < t.names->size() && match((*t.names)[static_cast<size_t>(x)])) return Value::number(1);
      return Value::number(0);
    }
    if (t.kind == Value::Kind::Null) return Value::number(0);
    fail(*e.args[0], std::string("contains() takes text, got ") + kind_name(t.kind));
  }
  if (f == "any" || f == "all" || f == "all_strict") {
    if (e.args.empty()) fail(e, f + "() takes an array");
    Value v = eval(*e.args[0], p);
    std::vector<double> a = v.kind == Value::Kind::Null ? std::vector<double>{} : numbers(*e.args[0], v);
    if (f == "any") return Value::number(std::any_of(a.begin(), a.end(), [](double x) { return x != 0; }));
    bool all = std::all_of(a.begin(), a.end(), [](double x) { return x != 0; });
    return Value::number(f == "all" ? all : all && !a.empty());
  }
  if (f == "logical_and" || f == "logical_or") {
    arity(2);
    Value a = scalar(e, eval(*e.args[0], p)), b = scalar(e, eval(*e.args[1], p));
    bool is_and = f == "logical_and";
    if (a.kind == Value::Kind::Arr || b.kind == Value::Kind::Arr) {  // elementwise, as numpy's
      const Value& arr = a.kind == Value::Kind::Arr ? a : b;
      if (a.kind == Value::Kind::Arr && b.kind == Value::Kind::Arr && a.arr.size() != b.arr.size())
        fail(e, f + "() needs arrays of the same size");
      std::vector<double> out(arr.arr.size());
      for (size_t i = 0; i < out.size(); ++i) {
        bool x = (a.kind == Value::Kind::Arr ? a.arr[i] : a.num) != 0;
        bool y = (b.kind == Value::Kind::Arr ? b.arr[i] : b.num) != 0;
        out[i] = is_and ? (x && y) : (x || y);
      }
      return Value::array(std::move(out), arr.shape);
    }
    bool x = truth(e, a), y = truth(e, b);
    return Value::number(is_and ? (x && y) : (x || y));
  }
  if (f == "abs" || f == "sqrt") {
    arity(1);
    Value v = scalar(e, eval(*e.args[0], p));
    auto g = [&](double x) { return f == "abs" ? std::fabs(x) : std::sqrt(x); };
    if (v.kind == Value::Kind::Num) return Value::number(g(v.num));
    if (v.kind == Value::Kind::Arr) {
      for (auto& x : v.arr) x = g(x);
      return v;
    }
    if (v.kind == Value::Kind::Null) return v;
    fail(e, f + "() takes numbers");
  }
  if (auto reduction = reduction_from(f)) {
    arity(1);
    Value v = eval(*e.args[0], p);
    if (v.kind == Value::Kind::Null) return v;
    std::vector<double> a = numbers(*e.args[0], v);
    return Value::number(reduce_numbers(*reduction, a.data(), a.size()));
  }
  if (f == "dot" || f == "cosine_similarity") {
    arity(2);
    Value va = eval(*e.args[0], p), vb = eval(*e.args[1], p);
    if (va.kind == Value::Kind::Null || vb.kind == Value::Kind::Null) return Value();
    std::vector<double> a = numbers(*e.args[0], va), b = numbers(*e.args[1], vb);
    if (a.size() != b.size())
      fail(e, f + "() needs vectors of the same length, got " + std::to_string(a.size()) + " and " +
                  std::to_string(b.size()));
    return Value::number(dot_or_cosine(f == "cosine_similarity", a.data(), b.data(), a.size()));
  }
  std::string known;
  for (const auto& n : tql_functions()) known += (known.empty() ? "" : ", ") + n;
  fail(e, "unknown function '" + f + "' (known functions: " + known + ")");
}

}  // namespace detail
}  // namespace chute
