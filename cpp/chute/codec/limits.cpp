#include "chute/codec/limits.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "chute/core/error.h"

namespace chute {
namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;

uint64_t default_cap() {
  if (const char* env = std::getenv("CHUTE_MAX_DECODED_BYTES"); env && *env) {
    char* end = nullptr;
    unsigned long long v = std::strtoull(env, &end, 10);
    if (end && *end == '\0' && v > 0) return v;
    // A malformed value must not silently lift or drop the cap: keep the default and say so once.
    std::fprintf(stderr, "chute: ignoring CHUTE_MAX_DECODED_BYTES='%s' (not a positive integer)\n", env);
  }
  uint64_t cap = 4 * kGiB;
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) {
    uint64_t quarter = static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) / 4;
    if (quarter < cap) cap = quarter;
  }
  return cap;
}

std::atomic<uint64_t>& override_cap() {
  static std::atomic<uint64_t> v{0};
  return v;
}

}  // namespace

uint64_t max_decoded_bytes() {
  uint64_t o = override_cap().load(std::memory_order_relaxed);
  if (o) return o;
  static const uint64_t cap = default_cap();
  return cap;
}

void set_max_decoded_bytes(uint64_t bytes) { override_cap().store(bytes, std::memory_order_relaxed); }

uint64_t decoded_bytes(const Shape& shape, size_t itemsize) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  uint64_t n = itemsize;
  for (uint64_t d : shape) {
    if (d == 0) return 0;
    if (n > kMax / d) return kMax;
    n *= d;
  }
  return n;
}

void check_decoded_size(const Shape& shape, size_t itemsize, const std::string& what) {
  uint64_t n = decoded_bytes(shape, itemsize), cap = max_decoded_bytes();
  if (n <= cap) return;
  std::string size = n == std::numeric_limits<uint64_t>::max() ? "more than 2^64 bytes" : bytes_str(n);
  throw ResourceError(what + ": a sample of shape " + shape_str(shape) + " (" + std::to_string(itemsize) +
                      "-byte items) would take " + size + " decoded, over the cap of " + bytes_str(cap) +
                      " (set CHUTE_MAX_DECODED_BYTES to change it)");
}

void check_decoded_size(const Shape& shape, DType dtype, const std::string& what) {
  check_decoded_size(shape, dtype_size(dtype), what);
}

std::string bytes_str(uint64_t bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " bytes";
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 6) v /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace chute
