#pragma once
// Internal to the TQL evaluator: the value of an expression for one row, and helpers.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "chute/core/dtype.h"
#include "chute/core/error.h"
#include "chute/core/random.h"
#include "chute/query/ast.h"

namespace chute::detail {

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

inline const char* kind_name(Value::Kind k) {
  switch (k) {
    case Value::Kind::Null:
      return "null";
    case Value::Kind::Num:
      return "a number";
    case Value::Kind::Str:
      return "text";
    case Value::Kind::Arr:
      return "an array";
    case Value::Kind::Json:
      return "json";
  }
  return "?";
}

[[noreturn]] inline void fail(const Expr& e, const std::string& msg) {
  throw QueryError("TQL error at line " + std::to_string(e.line) + ", column " + std::to_string(e.column) + ": " + msg,
                   e.line, e.column);
}

inline Value from_json(const nlohmann::json& j) {
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

// A glob with * and ? (one byte) over the whole text (Deep Lake 3's contains wildcards). Greedy
// with backtracking to the last star only: O(len(p) * len(s)) time and no recursion, so a long text
// or many stars can neither overflow the stack nor take exponential time.
inline bool glob_match(std::string_view p, std::string_view s) {
  size_t pi = 0, si = 0, star = std::string_view::npos, mark = 0;
  while (si < s.size()) {
    if (pi < p.size() && (p[pi] == '?' || p[pi] == s[si])) {
      ++pi;
      ++si;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = si;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      si = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

// The reductions TQL's functions apply to one row's numbers, shared by both evaluation paths so
// that they give identical results. Deep Lake's reductions of nothing: 0, and 1 for prod.
enum class Reduction { Sum, Avg, Amin, Amax, Prod, L1, L2, Linf };

inline std::optional<Reduction> reduction_from(const std::string& f) {
  static const std::pair<const char*, Reduction> names[] = {{"sum", Reduction::Sum},    {"avg", Reduction::Avg},
                                                            {"amin", Reduction::Amin},  {"amax", Reduction::Amax},
                                                            {"prod", Reduction::Prod},  {"l1_norm", Reduction::L1},
                                                            {"l2_norm", Reduction::L2}, {"linf_norm", Reduction::Linf}};
  for (const auto& [name, r] : names)
    if (f == name) return r;
  return std::nullopt;
}

inline double reduce_numbers(Reduction f, const double* a, size_t n) {
  if (n == 0) return f == Reduction::Prod ? 1 : 0;
  double r = 0;
  switch (f) {
    case Reduction::Prod:
      r = 1;
      for (size_t i = 0; i < n; ++i) r *= a[i];
      break;
    case Reduction::Sum:
    case Reduction::Avg:
      for (size_t i = 0; i < n; ++i) r += a[i];
      if (f == Reduction::Avg) r /= static_cast<double>(n);
      break;
    case Reduction::Amin:
      r = *std::min_element(a, a + n);
      break;
    case Reduction::Amax:
      r = *std::max_element(a, a + n);
      break;
    case Reduction::L1:
      for (size_t i = 0; i < n; ++i) r += std::fabs(a[i]);
      break;
    case Reduction::L2:
      for (size_t i = 0; i < n; ++i) r += a[i] * a[i];
      r = std::sqrt(r);
      break;
    case Reduction::Linf:
      for (size_t i = 0; i < n; ++i) r = std::max(r, std::fabs(a[i]));
      break;
  }
  return r;
}

// dot(a, b) or cosine_similarity(a, b) (0 when either vector is all zeros).
inline double dot_or_cosine(bool cosine, const double* a, const double* b, size_t n) {
  double d = 0, na = 0, nb = 0;
  for (size_t i = 0; i < n; ++i) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  if (!cosine) return d;
  return na == 0 || nb == 0 ? 0 : d / std::sqrt(na * nb);
}

// contains(text, pattern): a substring, or with Deep Lake 3's * and ? wildcards a glob anywhere.
// The empty pattern is in every text, the empty one too (Deep Lake 3 and 4: contains(t, '') keeps
// every row that has a text).
inline bool contains_match(const std::string& pattern, std::string_view s) {
  if (pattern.find_first_of("*?") == std::string::npos) return s.find(pattern) != std::string_view::npos;
  return glob_match("*" + pattern + "*", s);
}

// Copying a json value (every Value copy does) recurses once per level of nesting, so a sample
// nested 100,000 deep (a corrupt or hostile dataset) would overflow the stack; the query refuses
// json nested deeper than this before parsing it.
inline constexpr int kMaxJsonNesting = 512;

// The deepest nesting of [ and { in json text, outside strings: one pass, no recursion.
inline int json_nesting(std::string_view s) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

// An index from a TQL number, truncated toward zero like a C cast but defined for every double:
// magnitudes past 2**62 (never a valid index, negative or not) are clamped, NaN is far out of range.
inline int64_t to_index(double x) {
  constexpr double kFar = 4611686018427387904.0;  // 2**62
  if (std::isnan(x)) return -(int64_t{1} << 62);
  return static_cast<int64_t>(std::clamp(x, -kFar, kFar));
}

// random() of a row: a pure function of the query's seed and the dataset row.
inline double row_random(uint64_t seed, uint64_t row) {
  Rng r(mix_keys({seed, row, 0x52414e44ULL}));
  return r.uniform();
}

inline double to_double(const std::vector<uint8_t>& bytes, size_t i, DType d) {
  const uint8_t* p = bytes.data();
  switch (d) {
    case DType::Bool:
      return p[i] ? 1 : 0;
    case DType::UInt8:
      return p[i];
    case DType::Int8:
      return reinterpret_cast<const int8_t*>(p)[i];
    case DType::UInt16:
      return reinterpret_cast<const uint16_t*>(p)[i];
    case DType::Int16:
      return reinterpret_cast<const int16_t*>(p)[i];
    case DType::UInt32:
      return reinterpret_cast<const uint32_t*>(p)[i];
    case DType::Int32:
      return reinterpret_cast<const int32_t*>(p)[i];
    case DType::UInt64:
      return static_cast<double>(reinterpret_cast<const uint64_t*>(p)[i]);
    case DType::Int64:
      return static_cast<double>(reinterpret_cast<const int64_t*>(p)[i]);
    case DType::Float32:
      return reinterpret_cast<const float*>(p)[i];
    case DType::Float64:
      return reinterpret_cast<const double*>(p)[i];
    default:
      return 0;
  }
}

}  // namespace chute::detail
