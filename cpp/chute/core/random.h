#pragma once
// Counter-based randomness: every draw is a pure function of its inputs (seed, epoch, sample,
// op), so orders and augmentations are reproducible whatever the thread or process does them.
#include <cstdint>
#include <initializer_list>

namespace chute {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline uint64_t mix_keys(std::initializer_list<uint64_t> keys) {
  uint64_t h = 0x243f6a8885a308d3ULL;
  for (uint64_t k : keys) h = splitmix64(h ^ splitmix64(k));
  return h;
}

/// A small deterministic generator (splitmix64 stream) with portable bounded draws.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() { return splitmix64(state_++ * 0x9e3779b97f4a7c15ULL + 1); }
  /// Uniform in [0, n) without modulo bias (Lemire).
  uint64_t below(uint64_t n) {
    if (n <= 1) return 0;
    unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      uint64_t t = -n % n;
      while (low < t) {
        m = static_cast<unsigned __int128>(next()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }
  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

 private:
  uint64_t state_;
};

}  // namespace chute
