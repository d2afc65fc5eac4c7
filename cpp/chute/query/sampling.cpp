#include "chute/query/sampling.h"

#include <algorithm>
#include <cmath>

#include "chute/core/random.h"
#include "chute/core/thread_pool.h"

namespace chute {

namespace {

// Walker's alias method (Vose's construction): column k keeps k with probability prob[k] and
// gives alias[k] otherwise.
std::vector<size_t> draw_with_replacement(const double* w, size_t m, size_t n, uint64_t seed) {
  double total = 0;
  size_t heaviest = 0;
  for (size_t k = 0; k < m; ++k) {
    total += w[k];
    if (w[k] > w[heaviest]) heaviest = k;
  }
  if (m == 0 || total <= 0) return {};
  std::vector<double> prob(m);
  std::vector<size_t> alias(m, heaviest), small, large;
  for (size_t k = 0; k < m; ++k) {
    prob[k] = w[k] * static_cast<double>(m) / total;
    (prob[k] < 1 ? small : large).push_back(k);
  }
  while (!small.empty() && !large.empty()) {
    size_t s = small.back(), l = large.back();
    small.pop_back();
    alias[s] = l;
    prob[l] -= 1 - prob[s];
    if (prob[l] < 1) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // What is left is 1 up to rounding; a zero-weight row keeps prob 0 and its alias.
  for (size_t k : large) prob[k] = 1;
  for (size_t k : small) prob[k] = w[k] > 0 ? 1 : 0;
  // Draws in fixed segments, each with its own generator, spread over the engine's threads: the
  // result depends on the seed only, not on the thread count.
  constexpr size_t kSegment = 1 << 16;
  std::vector<size_t> out(n);
  get_shared_pool()->parallel_for((n + kSegment - 1) / kSegment, [&](size_t seg) {
    Rng rng(mix_keys({seed, seg}));
    for (size_t i = seg * kSegment, end = std::min(n, i + kSegment); i < end; ++i) {
      size_t k = std::min(m - 1, static_cast<size_t>(rng.uniform() * static_cast<double>(m)));
      out[i] = rng.uniform() < prob[k] ? k : alias[k];
    }
  });
  return out;
}

std::vector<size_t> draw_without_replacement(const double* w, size_t m, size_t n, Rng& rng) {
  struct Key {
    bool positive;
    double key;  // log(u) / w for positive weights (larger first), a random order for zero weights
    size_t pos;
  };
  std::vector<Key> keys(m);
  for (size_t k = 0; k < m; ++k) {
    double u = std::max(rng.uniform(), 1e-300);
    keys[k] = w[k] > 0 ? Key{true, std::log(u) / w[k], k} : Key{false, u, k};
  }
  auto first = [](const Key& a, const Key& b) {
    if (a.positive != b.positive) return a.positive;
    return a.key > b.key;
  };
  n = std::min(n, keys.size());
  if (n < keys.size()) std::nth_element(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(n), keys.end(), first);
  std::sort(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(n), first);
  std::vector<size_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = keys[i].pos;
  return out;
}

}  // namespace

std::vector<size_t> weighted_draw(const double* w, size_t n_weights, size_t n, bool replace, uint64_t seed) {
  if (replace) return draw_with_replacement(w, n_weights, n, seed);
  Rng rng(seed);
  return draw_without_replacement(w, n_weights, n, rng);
}

}  // namespace chute
