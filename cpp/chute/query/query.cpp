#include "chute/query/query.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "chute/core/error.h"
#include "chute/core/random.h"
#include "chute/dataset/dataset.h"
#include "chute/query/ast.h"

namespace chute {
namespace {

using tql::Expr;
using tql::ExprPtr;

struct Value {
  enum class Kind { Null, Num, Str, Arr, Json } kind = Kind::Null;
  double num = 0;
  std::string str;
  std::vector<double> arr;
  Shape shape;
  nlohmann::json json;
  const std::vector<std::string>* names = nullptr;  // class_label values compare with class names

  static Value number(double v) {
    Value x;
    x.kind = Kind::Num;
    x.num = v;
    return x;
  }
  static Value array(std::vector<double> a, Shape s) {
    Value x;
    x.kind = Kind::Arr;
    x.arr = std::move(a);
    x.shape = std::move(s);
    return x;
  }
};

const char* kind_name(Value::Kind k) {
  switch (k) {
    case Value::Kind::Null: return "null";
    case Value::Kind::Num: return "a number";
    case Value::Kind::Str: return "text";
    case Value::Kind::Arr: return "an array";
    case Value::Kind::Json: return "json";
  }
  return "?";
}

[[noreturn]] void fail(const Expr& e, const std::string& msg) {
  throw QueryError("TQL error at line " + std::to_string(e.line) + ", column " + std::to_string(e.column) + ": " + msg, e.line,
                   e.column);
}

Value from_json(const nlohmann::json& j) {
  Value v;
  if (j.is_number() || j.is_boolean()) return Value::number(j.is_boolean() ? (j.get<bool>() ? 1 : 0) : j.get<double>());
  if (j.is_string()) {
    v.kind = Value::Kind::Str;
    v.str = j.get<std::string>();
    return v;
  }
  if (j.is_null()) return v;
  v.kind = Value::Kind::Json;
  v.json = j;
  return v;
}

// A glob with * and ? anywhere in the text (Deep Lake 3's contains wildcards).
bool glob_match(const char* p, const char* s) {
  if (*p == 0) return *s == 0;
  if (*p == '*') return glob_match(p + 1, s) || (*s && glob_match(p, s + 1));
  if (*s == 0) return false;
  return (*p == '?' || *p == *s) && glob_match(p + 1, s + 1);
}

double to_double(const std::vector<uint8_t>& bytes, size_t i, DType d) {
  const uint8_t* p = bytes.data();
  switch (d) {
    case DType::Bool: return p[i] ? 1 : 0;
    case DType::UInt8: return p[i];
    case DType::Int8: return reinterpret_cast<const int8_t*>(p)[i];
    case DType::UInt16: return reinterpret_cast<const uint16_t*>(p)[i];
    case DType::Int16: return reinterpret_cast<const int16_t*>(p)[i];
    case DType::UInt32: return reinterpret_cast<const uint32_t*>(p)[i];
    case DType::Int32: return reinterpret_cast<const int32_t*>(p)[i];
    case DType::UInt64: return static_cast<double>(reinterpret_cast<const uint64_t*>(p)[i]);
    case DType::Int64: return static_cast<double>(reinterpret_cast<const int64_t*>(p)[i]);
    case DType::Float32: return reinterpret_cast<const float*>(p)[i];
    case DType::Float64: return reinterpret_cast<const double*>(p)[i];
    default: return 0;
  }
}

class Evaluator {
  struct Scalars {
    bool ok = false;
    std::vector<double> values;
    const std::vector<std::string>* names = nullptr;
  };

 public:
  Evaluator(const Dataset& ds, const std::vector<uint64_t>& rows, uint64_t seed) : ds_(ds), rows_(rows), seed_(seed) {}

  std::vector<uint64_t> run(const tql::Query& q) {
    if (q.select) return run_select(*q.select);
    auto l = run(*q.left), r = run(*q.right);
    std::sort(l.begin(), l.end());
    l.erase(std::unique(l.begin(), l.end()), l.end());
    std::sort(r.begin(), r.end());
    r.erase(std::unique(r.begin(), r.end()), r.end());
    std::vector<uint64_t> out;
    if (q.set_op == "UNION") std::set_union(l.begin(), l.end(), r.begin(), r.end(), std::back_inserter(out));
    else if (q.set_op == "INTERSECT") std::set_intersection(l.begin(), l.end(), r.begin(), r.end(), std::back_inserter(out));
    else std::set_difference(l.begin(), l.end(), r.begin(), r.end(), std::back_inserter(out));
    return out;
  }

 private:
  std::vector<uint64_t> run_select(const tql::Select& s) {
    for (const auto& c : s.columns) check_columns(*c);
    std::vector<size_t> pos;  // positions in rows_
    std::optional<Vec> mask;
    if (s.where) mask = vectorized(*s.where);
    if (mask) {
      if (mask->is_const) {
        if (mask->c != 0)
          for (size_t i = 0; i < rows_.size(); ++i) pos.push_back(i);
      } else {
        const auto& v = *mask->col;
        for (size_t i = 0; i < v.size(); ++i)
          if (v[i] != 0) pos.push_back(i);
      }
    } else {
      for (size_t i = 0; i < rows_.size(); ++i) {
        if (!s.where || truth(*s.where, eval(*s.where, i))) pos.push_back(i);
      }
    }
    if (s.sample) pos = sample(s, pos);
    if (s.order_by) {
      std::vector<std::pair<Value, size_t>> keyed;
      keyed.reserve(pos.size());
      for (size_t p : pos) {
        Value k = scalar(*s.order_by, eval(*s.order_by, p));
        if (k.kind != Value::Kind::Num && k.kind != Value::Kind::Str && k.kind != Value::Kind::Null)
          fail(*s.order_by, std::string("ORDER BY needs one number or text per row, got ") + kind_name(k.kind));
        keyed.emplace_back(std::move(k), p);
      }
      auto less = [&](const std::pair<Value, size_t>& a, const std::pair<Value, size_t>& b) {
        const Value &x = a.first, &y = b.first;
        if (x.kind != y.kind) return (x.kind == Value::Kind::Null) != s.descending;  // nulls first ascending
        if (x.kind == Value::Kind::Null) return false;
        bool lt = x.kind == Value::Kind::Num ? x.num < y.num : x.str < y.str;
        bool gt = x.kind == Value::Kind::Num ? x.num > y.num : x.str > y.str;
        return s.descending ? gt : lt;
      };
      std::stable_sort(keyed.begin(), keyed.end(), less);
      pos.clear();
      for (auto& k : keyed) pos.push_back(k.second);
    }
    size_t off = std::min<size_t>(s.offset, pos.size());
    pos.erase(pos.begin(), pos.begin() + static_cast<std::ptrdiff_t>(off));
    if (s.has_limit && !s.sample) {
      size_t n = s.limit_percent ? static_cast<size_t>(std::floor(pos.size() * s.limit / 100.0 + 1e-9))
                                 : static_cast<size_t>(std::max(0.0, s.limit));
      if (n < pos.size()) pos.resize(n);
    }
    std::vector<uint64_t> out;
    out.reserve(pos.size());
    for (size_t p : pos) out.push_back(rows_[p]);
    return out;
  }

  std::vector<size_t> sample(const tql::Select& s, const std::vector<size_t>& pos) {
    std::vector<double> w(pos.size());
    for (size_t k = 0; k < pos.size(); ++k) {
      size_t p = pos[k];
      if (s.sample_expr) {
        Value v = scalar(*s.sample_expr, eval(*s.sample_expr, p));
        if (v.kind != Value::Kind::Num) fail(*s.sample_expr, "SAMPLE BY needs a numeric weight per row");
        w[k] = v.num;
      } else {
        double acc = 0;
        for (const auto& c : s.weights) {
          if (!truth(*c.condition, eval(*c.condition, p))) continue;
          Value v = scalar(*c.weight, eval(*c.weight, p));
          if (v.kind != Value::Kind::Num) fail(*c.weight, "a SAMPLE BY weight must be a number");
          acc = s.sample_mode == "max_weight" ? std::max(acc, v.num) : acc + v.num;
        }
        w[k] = acc;
      }
      if (!(w[k] >= 0) || !std::isfinite(w[k])) fail(s.sample_expr ? *s.sample_expr : *s.weights[0].weight, "SAMPLE BY weights must be finite and non-negative");
    }
    size_t n = pos.size();
    if (s.has_limit)
      n = s.limit_percent ? static_cast<size_t>(std::floor(pos.size() * s.limit / 100.0 + 1e-9)) : static_cast<size_t>(s.limit);
    Rng rng(mix_keys({seed_, 0x53414d504c45ULL}));
    std::vector<size_t> out;
    if (s.replace) {
      std::vector<double> cum(w.size());
      double total = 0;
      for (size_t k = 0; k < w.size(); ++k) cum[k] = total += w[k];
      if (total <= 0) return out;
      for (size_t i = 0; i < n; ++i) {
        double u = rng.uniform() * total;
        size_t k = static_cast<size_t>(std::upper_bound(cum.begin(), cum.end(), u) - cum.begin());
        while (k < w.size() && w[k] <= 0) ++k;  // never a zero-weight row
        out.push_back(pos[std::min(k, w.size() - 1)]);
      }
      return out;
    }
    // Without replacement: Efraimidis-Spirakis keys; zero-weight rows follow, in random order.
    std::vector<std::pair<double, size_t>> keys(w.size());
    for (size_t k = 0; k < w.size(); ++k) {
      double u = rng.uniform();
      keys[k] = {w[k] > 0 ? std::log(std::max(u, 1e-300)) / w[k] : -1e300 - rng.uniform(), k};
    }
    std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t i = 0; i < std::min(n, keys.size()); ++i) out.push_back(pos[keys[i].second]);
    return out;
  }

  // Column-at-a-time evaluation of the common simple predicates: numbers, single-number columns,
  // class names, comparisons, arithmetic, AND/OR/NOT, IN and BETWEEN. Anything else (text, arrays,
  // functions, rows a column does not have) returns nullopt and the row-by-row evaluator runs, so
  // both give the same answers and errors.
  struct Vec {
    bool is_const = true;
    double c = 0;
    bool is_str = false;
    std::string str;
    std::shared_ptr<std::vector<double>> col;
    const std::vector<std::string>* names = nullptr;
  };

  const Scalars* scalar_column(const Expr& e) {
    auto sc = scalars_.find(e.text);
    if (sc == scalars_.end()) {
      auto t = tensor(e);
      Scalars s;
      s.ok = t->read_scalars(s.values);
      if (s.ok && t->meta().htype() == "class_label") s.names = &class_names(*t, e.text);
      sc = scalars_.emplace(e.text, std::move(s)).first;
    }
    return sc->second.ok ? &sc->second : nullptr;
  }

  template <typename F>
  static Vec combine(const Vec& a, const Vec& b, size_t n, F f) {
    Vec out;
    if (a.is_const && b.is_const) {
      out.c = f(a.c, b.c);
      return out;
    }
    out.is_const = false;
    out.col = std::make_shared<std::vector<double>>(n);
    double* o = out.col->data();
    if (a.is_const) {
      const double* y = b.col->data();
      for (size_t i = 0; i < n; ++i) o[i] = f(a.c, y[i]);
    } else if (b.is_const) {
      const double* x = a.col->data();
      for (size_t i = 0; i < n; ++i) o[i] = f(x[i], b.c);
    } else {
      const double *x = a.col->data(), *y = b.col->data();
      for (size_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    }
    return out;
  }

  // A class name on one side of a comparison with a class_label column becomes its index.
  bool resolve_vec_names(const Expr& e, Vec& a, Vec& b) {
    for (int k = 0; k < 2; ++k) {
      Vec& col = k == 0 ? a : b;
      Vec& other = k == 0 ? b : a;
      if (other.is_str) {
        if (!col.names) return false;
        Value x, y;
        x.names = col.names;
        y.kind = Value::Kind::Str;
        y.str = other.str;
        resolve_names(e, x, y);
        other.is_str = false;
        other.is_const = true;
        other.c = y.num;
      }
    }
    return true;
  }

  std::optional<Vec> vectorized(const Expr& e) {
    size_t n = rows_.size();
    switch (e.kind) {
      case Expr::Kind::Number:
      case Expr::Kind::Bool: {
        Vec v;
        v.c = e.number;
        return v;
      }
      case Expr::Kind::String: {
        Vec v;
        v.is_str = true;
        v.str = e.text;
        return v;
      }
      case Expr::Kind::Column: {
        const Scalars* sc = scalar_column(e);
        if (!sc) return std::nullopt;
        Vec v;
        v.is_const = false;
        v.names = sc->names;
        v.col = std::make_shared<std::vector<double>>(n);
        for (size_t i = 0; i < n; ++i) {
          if (rows_[i] >= sc->values.size()) return std::nullopt;  // a missing value: the row path handles nulls
          (*v.col)[i] = sc->values[rows_[i]];
        }
        return v;
      }
      case Expr::Kind::Unary: {
        auto a = vectorized(*e.args[0]);
        if (!a || a->is_str) return std::nullopt;
        Vec zero;
        if (e.text == "NOT") return combine(*a, zero, n, [](double x, double) { return x != 0 ? 0.0 : 1.0; });
        return combine(zero, *a, n, [](double x, double y) { return x - y; });
      }
      case Expr::Kind::Binary: {
        auto a = vectorized(*e.args[0]);
        if (!a) return std::nullopt;
        auto b = vectorized(*e.args[1]);
        if (!b) return std::nullopt;
        const std::string& op = e.text;
        if (op == "AND" || op == "OR") {
          if (a->is_str || b->is_str) return std::nullopt;
          if (op == "AND") return combine(*a, *b, n, [](double x, double y) { return (x != 0 && y != 0) ? 1.0 : 0.0; });
          return combine(*a, *b, n, [](double x, double y) { return (x != 0 || y != 0) ? 1.0 : 0.0; });
        }
        if (!resolve_vec_names(e, *a, *b) || a->is_str || b->is_str) return std::nullopt;
        if (op == "+") return combine(*a, *b, n, [](double x, double y) { return x + y; });
        if (op == "-") return combine(*a, *b, n, [](double x, double y) { return x - y; });
        if (op == "*") return combine(*a, *b, n, [](double x, double y) { return x * y; });
        if (op == "/") return combine(*a, *b, n, [](double x, double y) { return y == 0 ? NAN : x / y; });
        if (op == "%") return combine(*a, *b, n, [](double x, double y) { return y == 0 ? NAN : std::fmod(x, y); });
        if (op == "==") return combine(*a, *b, n, [](double x, double y) { return x == y ? 1.0 : 0.0; });
        if (op == "!=") return combine(*a, *b, n, [](double x, double y) { return x != y ? 1.0 : 0.0; });
        if (op == "<") return combine(*a, *b, n, [](double x, double y) { return x < y ? 1.0 : 0.0; });
        if (op == "<=") return combine(*a, *b, n, [](double x, double y) { return x <= y ? 1.0 : 0.0; });
        if (op == ">") return combine(*a, *b, n, [](double x, double y) { return x > y ? 1.0 : 0.0; });
        if (op == ">=") return combine(*a, *b, n, [](double x, double y) { return x >= y ? 1.0 : 0.0; });
        return std::nullopt;
      }
      case Expr::Kind::In: {
        auto a = vectorized(*e.args[0]);
        if (!a || a->is_str) return std::nullopt;
        std::vector<double> set;
        for (size_t i = 1; i < e.args.size(); ++i) {
          auto v = vectorized(*e.args[i]);
          if (!v || !v->is_const && !v->is_str) return std::nullopt;
          if (v->is_str && !resolve_vec_names(e, *a, *v)) return std::nullopt;
          if (v->is_str) return std::nullopt;
          set.push_back(v->c);
        }
        bool neg = e.negated;
        Vec none;
        return combine(*a, none, n, [&](double x, double) {
          bool found = std::find(set.begin(), set.end(), x) != set.end();
          return found != neg ? 1.0 : 0.0;
        });
      }
      case Expr::Kind::Between: {
        auto a = vectorized(*e.args[0]);
        auto lo = vectorized(*e.args[1]);
        auto hi = vectorized(*e.args[2]);
        if (!a || !lo || !hi || a->is_str) return std::nullopt;
        if (!resolve_vec_names(e, *a, *lo) || !resolve_vec_names(e, *a, *hi) || lo->is_str || hi->is_str) return std::nullopt;
        Vec ge = combine(*a, *lo, n, [](double x, double y) { return x >= y ? 1.0 : 0.0; });
        Vec le = combine(*a, *hi, n, [](double x, double y) { return x <= y ? 1.0 : 0.0; });
        bool neg = e.negated;
        return combine(ge, le, n, [neg](double x, double y) { return ((x != 0 && y != 0) != neg) ? 1.0 : 0.0; });
      }
      default:
        return std::nullopt;
    }
  }

  void check_columns(const Expr& e) {
    if (e.kind == Expr::Kind::Column) tensor(e);
    for (const auto& a : e.args) check_columns(*a);
  }

  std::shared_ptr<Tensor> tensor(const Expr& e) {
    if (!ds_.has_tensor(e.text)) {
      std::string known;
      for (const auto& n : ds_.tensor_names()) known += (known.empty() ? "" : ", ") + n;
      fail(e, "unknown tensor '" + e.text + "' (tensors: " + known + ")");
    }
    return ds_.tensor(e.text);
  }

  Value column(const Expr& e, size_t p) {
    // Single-number tensors (labels, scalar fields) are read in one pass over their chunks.
    if (const Scalars* sc = scalar_column(e)) {
      uint64_t row = rows_[p];
      if (row >= sc->values.size()) return Value();
      Value v = Value::number(sc->values[row]);
      v.names = sc->names;
      return v;
    }
    auto& cache = columns_[e.text];
    if (cache.empty()) cache.resize(rows_.size());
    auto& slot = cache[p];
    if (!slot.first) {
      slot.second = load(e, rows_[p]);
      slot.first = true;
    }
    return slot.second;
  }

  Value load(const Expr& e, uint64_t row) {
    auto t = tensor(e);
    if (row >= t->length()) return Value();
    const auto& meta = t->meta();
    Value v;
    if (meta.is_bytes_htype()) {
      std::string b = t->stored_bytes(row);
      if (meta.htype() == "text") {
        v.kind = Value::Kind::Str;
        v.str = std::move(b);
        return v;
      }
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
    if (meta.htype() == "class_label") v.names = &class_names(*t, e.text);
    return v;
  }

  const std::vector<std::string>& class_names(const Tensor& t, const std::string& name) {
    auto it = names_.find(name);
    if (it != names_.end()) return it->second;
    std::vector<std::string> n;
    auto info = t.info();
    if (info.contains("class_names") && info["class_names"].is_array())
      for (const auto& x : info["class_names"]) n.push_back(x.is_string() ? x.get<std::string>() : x.dump());
    return names_[name] = std::move(n);
  }

  // A one-element array acts as its element (labels, scalar tensors).
  static Value scalar(const Expr&, Value v) {
    if (v.kind == Value::Kind::Arr && v.arr.size() == 1) return Value::number(v.arr[0]);
    return v;
  }

  bool truth(const Expr& e, const Value& raw) {
    Value v = scalar(e, raw);
    switch (v.kind) {
      case Value::Kind::Null: return false;
      case Value::Kind::Num: return v.num != 0;
      case Value::Kind::Str: fail(e, "a condition gives text; compare it with something");
      case Value::Kind::Json: return !v.json.is_null() && !(v.json.is_array() && v.json.empty());
      case Value::Kind::Arr:
        if (v.arr.empty()) return false;
        fail(e, "a condition gives " + std::to_string(v.arr.size()) + " values per row; wrap it in any() or all()");
    }
    return false;
  }

  Value eval(const Expr& e, size_t p) {
    switch (e.kind) {
      case Expr::Kind::Number:
      case Expr::Kind::Bool: return Value::number(e.number);
      case Expr::Kind::Null: return Value();
      case Expr::Kind::String: {
        Value v;
        v.kind = Value::Kind::Str;
        v.str = e.text;
        return v;
      }
      case Expr::Kind::Star: fail(e, "'*' is not a value");
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
      case Expr::Kind::Column: return column(e, p);
      case Expr::Kind::Call: return call(e, p);
      case Expr::Kind::Unary: {
        if (e.text == "NOT") return Value::number(truth(*e.args[0], eval(*e.args[0], p)) ? 0 : 1);
        return arith(e, "-", Value::number(0), eval(*e.args[0], p));
      }
      case Expr::Kind::Binary: {
        if (e.text == "AND") return Value::number(truth(*e.args[0], eval(*e.args[0], p)) && truth(*e.args[1], eval(*e.args[1], p)));
        if (e.text == "OR") return Value::number(truth(*e.args[0], eval(*e.args[0], p)) || truth(*e.args[1], eval(*e.args[1], p)));
        Value a = eval(*e.args[0], p), b = eval(*e.args[1], p);
        if (e.text == "+" || e.text == "-" || e.text == "*" || e.text == "/" || e.text == "%") return arith(e, e.text, a, b);
        return compare(e, e.text, a, b);
      }
      case Expr::Kind::In: {
        Value a = eval(*e.args[0], p);
        bool found = false;
        for (size_t i = 1; i < e.args.size() && !found; ++i) found = truth(e, compare(e, "==", a, eval(*e.args[i], p)));
        return Value::number(found != e.negated);
      }
      case Expr::Kind::Between: {
        Value a = eval(*e.args[0], p);
        bool in = truth(e, compare(e, ">=", a, eval(*e.args[1], p))) && truth(e, compare(e, "<=", a, eval(*e.args[2], p)));
        return Value::number(in != e.negated);
      }
      case Expr::Kind::Index: return index(e, eval(*e.args[0], p), p);
    }
    return Value();
  }

  // Maps a class name to its label index when one side is a class_label value.
  static void resolve_names(const Expr& e, Value& a, Value& b) {
    if (a.names && b.kind == Value::Kind::Str) {
      auto it = std::find(a.names->begin(), a.names->end(), b.str);
      if (it == a.names->end()) {
        std::string known;
        for (const auto& n : *a.names) known += (known.empty() ? "" : ", ") + n;
        fail(e, "'" + b.str + "' is not a class name (class_names: " + known + ")");
      }
      b = Value::number(static_cast<double>(it - a.names->begin()));
    }
  }

  Value compare(const Expr& e, const std::string& op, Value a, Value b) {
    resolve_names(e, a, b);
    resolve_names(e, b, a);
    a = scalar(e, a);
    b = scalar(e, b);
    auto cmp = [&](double x, double y) {
      if (op == "==") return x == y;
      if (op == "!=") return x != y;
      if (op == "<") return x < y;
      if (op == "<=") return x <= y;
      if (op == ">") return x > y;
      return x >= y;
    };
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

  Value arith(const Expr& e, const std::string& op, Value a, Value b) {
    a = scalar(e, a);
    b = scalar(e, b);
    if (a.kind == Value::Kind::Json) a = from_json(a.json);
    if (b.kind == Value::Kind::Json) b = from_json(b.json);
    if (a.kind == Value::Kind::Null || b.kind == Value::Kind::Null) return Value();
    auto f = [&](double x, double y) {
      if (op == "+") return x + y;
      if (op == "-") return x - y;
      if (op == "*") return x * y;
      if (op == "/") return y == 0 ? NAN : x / y;
      return y == 0 ? NAN : std::fmod(x, y);
    };
    bool num_a = a.kind == Value::Kind::Num || a.kind == Value::Kind::Arr;
    bool num_b = b.kind == Value::Kind::Num || b.kind == Value::Kind::Arr;
    if (!num_a || !num_b) fail(e, std::string("type mismatch: '") + op + "' needs numbers, got " + kind_name(a.kind) + " and " + kind_name(b.kind));
    if (a.kind == Value::Kind::Num && b.kind == Value::Kind::Num) return Value::number(f(a.num, b.num));
    const Value& arr = a.kind == Value::Kind::Arr ? a : b;
    if (a.kind == Value::Kind::Arr && b.kind == Value::Kind::Arr && a.arr.size() != b.arr.size())
      fail(e, "arrays of different sizes in arithmetic");
    std::vector<double> out(arr.arr.size());
    for (size_t i = 0; i < out.size(); ++i)
      out[i] = f(a.kind == Value::Kind::Arr ? a.arr[i] : a.num, b.kind == Value::Kind::Arr ? b.arr[i] : b.num);
    return Value::array(std::move(out), arr.shape);
  }

  Value index(const Expr& e, Value v, size_t p) {
    if (v.kind == Value::Kind::Json) {
      if (e.slices.size() != 1 || e.slices[0].is_range) fail(e, "json values take one key or index");
      Value k = scalar(e, eval(*e.slices[0].start, p));
      if (k.kind == Value::Kind::Str) {
        if (!v.json.is_object() || !v.json.contains(k.str)) return Value();
        return from_json(v.json[k.str]);
      }
      if (k.kind == Value::Kind::Num && v.json.is_array()) {
        long i = static_cast<long>(k.num);
        if (i < 0) i += static_cast<long>(v.json.size());
        if (i < 0 || i >= static_cast<long>(v.json.size())) return Value();
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
    if (e.slices.size() > v.shape.size()) fail(e, "too many indices for an array of " + std::to_string(v.shape.size()) + " dimensions");
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
        int64_t i = static_cast<int64_t>(k.num);
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

  std::vector<double> numbers(const Expr& e, const Value& v) {
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

  Value call(const Expr& e, size_t p) {
    const std::string& f = e.text;
    auto arity = [&](size_t n) {
      if (e.args.size() != n) fail(e, f + "() takes " + std::to_string(n) + " argument(s), got " + std::to_string(e.args.size()));
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
      Rng r(mix_keys({seed_, rows_[p], 0x52414e44ULL}));
      return Value::number(r.uniform());
    }
    if (f == "contains") {
      arity(2);
      Value t = eval(*e.args[0], p), pat = eval(*e.args[1], p);
      if (pat.kind != Value::Kind::Str) fail(*e.args[1], "contains() takes a text pattern");
      auto match = [&](const std::string& s) {
        if (pat.str.find_first_of("*?") == std::string::npos) return s.find(pat.str) != std::string::npos;
        return glob_match(("*" + pat.str + "*").c_str(), s.c_str());
      };
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
    if (f == "sum" || f == "avg" || f == "amin" || f == "amax" || f == "prod" || f == "l1_norm" || f == "l2_norm" ||
        f == "linf_norm") {
      arity(1);
      Value v = eval(*e.args[0], p);
      if (v.kind == Value::Kind::Null) return v;
      std::vector<double> a = numbers(*e.args[0], v);
      if (a.empty()) return Value::number(f == "prod" ? 1 : 0);  // Deep Lake's reductions of nothing
      double r = 0;
      if (f == "prod") {
        r = 1;
        for (double x : a) r *= x;
      } else if (f == "sum" || f == "avg") {
        for (double x : a) r += x;
        if (f == "avg") r /= static_cast<double>(a.size());
      } else if (f == "amin") {
        r = *std::min_element(a.begin(), a.end());
      } else if (f == "amax") {
        r = *std::max_element(a.begin(), a.end());
      } else if (f == "l1_norm") {
        for (double x : a) r += std::fabs(x);
      } else if (f == "l2_norm") {
        for (double x : a) r += x * x;
        r = std::sqrt(r);
      } else {
        for (double x : a) r = std::max(r, std::fabs(x));
      }
      return Value::number(r);
    }
    if (f == "dot" || f == "cosine_similarity") {
      arity(2);
      Value va = eval(*e.args[0], p), vb = eval(*e.args[1], p);
      if (va.kind == Value::Kind::Null || vb.kind == Value::Kind::Null) return Value();
      std::vector<double> a = numbers(*e.args[0], va), b = numbers(*e.args[1], vb);
      if (a.size() != b.size())
        fail(e, f + "() needs vectors of the same length, got " + std::to_string(a.size()) + " and " + std::to_string(b.size()));
      double d = 0, na = 0, nb = 0;
      for (size_t i = 0; i < a.size(); ++i) {
        d += a[i] * b[i];
        na += a[i] * a[i];
        nb += b[i] * b[i];
      }
      if (f == "dot") return Value::number(d);
      return Value::number(na == 0 || nb == 0 ? 0 : d / std::sqrt(na * nb));
    }
    std::string known;
    for (const auto& n : tql_functions()) known += (known.empty() ? "" : ", ") + n;
    fail(e, "unknown function '" + f + "' (known functions: " + known + ")");
  }

  const Dataset& ds_;
  const std::vector<uint64_t>& rows_;
  uint64_t seed_;
  std::unordered_map<std::string, std::vector<std::pair<bool, Value>>> columns_;
  std::unordered_map<std::string, Scalars> scalars_;
  std::map<std::string, std::vector<std::string>> names_;
};

}  // namespace

const std::vector<std::string>& tql_functions() {
  static const std::vector<std::string> names = {
      "abs", "all", "all_strict", "amax", "amin", "any", "avg", "contains", "cosine_similarity", "dot", "l1_norm", "l2_norm",
      "linf_norm", "logical_and", "logical_or", "prod", "random", "row_number", "shape", "sqrt", "sum"};
  return names;
}

std::vector<uint64_t> run_query(const Dataset& ds, const std::string& tql, const std::vector<uint64_t>& rows, uint64_t seed) {
  auto q = tql::parse(tql);
  Evaluator ev(ds, rows, seed);
  return ev.run(*q);
}

}  // namespace chute
