#include "chute/format/encoders.h"

#include <unistd.h>

#include <cstdio>
#include <random>

#include "chute/core/error.h"
#include "chute/format/bytes.h"
#include "chute/format/version.h"

namespace chute {

ChunkIdEncoder ChunkIdEncoder::parse(std::string_view bytes, const std::string& what) {
  ChunkIdEncoder e;
  if (bytes.empty()) return e;
  detail::ByteReader r(bytes, what);
  r.take(r.get<uint8_t>());
  if (r.remaining() == 0) return e;
  uint8_t width = r.get<uint8_t>();
  if (width != 4 && width != 8) throw FormatError(what + ": unsupported id width " + std::to_string(width));
  if (r.remaining() % (2 * width) != 0) throw FormatError(what + ": size is not a whole number of rows");
  size_t n = r.remaining() / (2 * width);
  e.rows_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    uint64_t id = width == 8 ? r.get<uint64_t>() : r.get<uint32_t>();
    uint64_t last = width == 8 ? r.get<uint64_t>() : r.get<uint32_t>();
    if (i > 0 && last < e.rows_.back().second)
      throw FormatError(what + ": sample indices decrease at row " + std::to_string(i));
    e.rows_.emplace_back(id, last);
  }
  return e;
}

std::string ChunkIdEncoder::serialize() const {
  std::string out;
  detail::put_version(out, kFormatVersion);
  detail::put<uint8_t>(out, 8);
  for (const auto& [id, last] : rows_) {
    detail::put<uint64_t>(out, id);
    detail::put<uint64_t>(out, last);
  }
  return out;
}

ChunkIdEncoder::Location ChunkIdEncoder::locate(uint64_t global) const {
  size_t lo = 0, hi = rows_.size();
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (rows_[mid].second < global)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == rows_.size()) throw InvalidArgument("sample " + std::to_string(global) + " out of range");
  size_t end = lo + 1;
  while (end < rows_.size() && rows_[end].second == global) ++end;
  uint64_t first_in_chunk = lo == 0 ? 0 : rows_[lo - 1].second + 1;
  return Location{lo, end - lo, global - first_in_chunk};
}

Shape TileLayout::grid() const {
  Shape g(sample_shape.size());
  for (size_t i = 0; i < g.size(); ++i)
    g[i] = tile_shape[i] ? (sample_shape[i] + tile_shape[i] - 1) / tile_shape[i] : 0;
  return g;
}

TileEncoder TileEncoder::parse(std::string_view bytes, const std::string& what) {
  TileEncoder t;
  if (bytes.empty()) return t;
  detail::ByteReader r(bytes, what);
  r.take(r.get<uint8_t>());
  if (r.remaining() == 0) return t;
  uint64_t n = r.get<uint64_t>();
  if (n == 0) return t;
  uint64_t ndim = r.get<uint64_t>();
  if (ndim > 64 || n > r.remaining()) throw FormatError(what + ": corrupt tile index header");
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t idx = r.get<uint64_t>();
    TileLayout l;
    for (uint64_t d = 0; d < ndim; ++d) l.sample_shape.push_back(r.get<uint64_t>());
    for (uint64_t d = 0; d < ndim; ++d) l.tile_shape.push_back(r.get<uint64_t>());
    for (uint64_t d = 0; d < ndim; ++d)
      if (l.tile_shape[d] == 0) throw FormatError(what + ": zero tile size for sample " + std::to_string(idx));
    t.entries_[idx] = std::move(l);
  }
  return t;
}

std::string TileEncoder::serialize() const {
  std::string out;
  detail::put_version(out, kFormatVersion);
  detail::put<uint64_t>(out, entries_.size());
  if (entries_.empty()) return out;  // Deep Lake writes just the zero count
  detail::put<uint64_t>(out, entries_.begin()->second.sample_shape.size());
  for (const auto& [idx, l] : entries_) {
    detail::put<uint64_t>(out, idx);
    for (auto v : l.sample_shape) detail::put<uint64_t>(out, v);
    for (auto v : l.tile_shape) detail::put<uint64_t>(out, v);
  }
  return out;
}

const TileLayout* TileEncoder::find(uint64_t global) const {
  auto it = entries_.find(global);
  return it == entries_.end() ? nullptr : &it->second;
}

uint64_t new_chunk_id() {
  // Seeded per thread and again in a forked child, which inherits its parent's state: two worker
  // processes of one transform must never draw the same ids for the chunks they write side by side.
  thread_local std::mt19937_64 rng;
  thread_local pid_t seeded_for = 0;
  if (seeded_for != ::getpid()) {
    seeded_for = ::getpid();
    std::random_device rd;
    rng.seed((uint64_t(rd()) << 32) ^ rd() ^ (uint64_t(seeded_for) << 16));
  }
  uint64_t id = 0;
  while (id == 0) id = rng();
  return id;
}

std::string chunk_name(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(id));
  return buf;
}

bool is_chunk_name(std::string_view name) {
  if (name.empty() || name.size() > 16) return false;
  for (char c : name)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace chute
