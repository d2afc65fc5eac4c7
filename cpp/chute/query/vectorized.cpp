#include "chute/query/detail/evaluator.h"

namespace chute::detail {

std::optional<Evaluator::Vec> Evaluator::vectorized(const Expr& e) {
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

}  // namespace chute::detail
