#pragma once
// Weighted draws for SAMPLE BY and sample_by(weights).
// Thread-safety: a pure function.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace chute {

/// Positions in [0, n_weights) drawn with probability proportional to w, deterministic for `seed`.
/// With replacement: `n` draws from an alias table (O(1) a draw); rows of zero weight are never
/// drawn; no draws when every weight is zero. Without: min(n, n_weights) distinct positions by
/// Efraimidis-Spirakis keys; zero-weight rows come after all others, in random order.
/// Weights must be finite and non-negative (the caller checks and names the culprit).
std::vector<size_t> weighted_draw(const double* w, size_t n_weights, size_t n, bool replace, uint64_t seed);
inline std::vector<size_t> weighted_draw(const std::vector<double>& w, size_t n, bool replace, uint64_t seed) {
  return weighted_draw(w.data(), w.size(), n, replace, seed);
}

}  // namespace chute
