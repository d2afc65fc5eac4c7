#pragma once
// The per-tensor index files of Deep Lake 3: chunks_index/unsharded (which chunk holds which
// samples) and tiles_index/unsharded (the sample and tile shapes of tiled samples).
// Thread-safety: const methods may run concurrently; mutators need exclusive access.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chute/core/dtype.h"

namespace chute {

/// Rows of (chunk id, last global sample index). A tiled sample spans consecutive rows that share
/// its index.
class ChunkIdEncoder {
 public:
  static ChunkIdEncoder parse(std::string_view bytes, const std::string& what);
  std::string serialize() const;

  uint64_t num_samples() const { return rows_.empty() ? 0 : rows_.back().second + 1; }
  size_t num_chunks() const { return rows_.size(); }
  const std::vector<std::pair<uint64_t, uint64_t>>& rows() const { return rows_; }

  struct Location {
    size_t first_row;  // the chunk holding the sample (the first tile for a tiled sample)
    size_t num_rows;   // > 1 for a tiled sample
    uint64_t local_index;
  };
  Location locate(uint64_t global) const;

  void add_row(uint64_t chunk_id, uint64_t last_index) { rows_.emplace_back(chunk_id, last_index); }
  void set_last_index(uint64_t last_index) { rows_.back().second = last_index; }
  void set_last_id(uint64_t chunk_id) { rows_.back().first = chunk_id; }
  void truncate(size_t nrows) { rows_.resize(nrows); }
  /// Rows [first, first + count) become `with` (an updated sample's chunks).
  void replace_rows(size_t first, size_t count, const std::vector<std::pair<uint64_t, uint64_t>>& with) {
    rows_.erase(rows_.begin() + static_cast<std::ptrdiff_t>(first),
                rows_.begin() + static_cast<std::ptrdiff_t>(first + count));
    rows_.insert(rows_.begin() + static_cast<std::ptrdiff_t>(first), with.begin(), with.end());
  }

 private:
  std::vector<std::pair<uint64_t, uint64_t>> rows_;
};

struct TileLayout {
  Shape sample_shape;
  Shape tile_shape;
  /// Tiles per axis: ceil(sample / tile).
  Shape grid() const;
};

class TileEncoder {
 public:
  static TileEncoder parse(std::string_view bytes, const std::string& what);
  std::string serialize() const;
  bool empty() const { return entries_.empty(); }
  const TileLayout* find(uint64_t global) const;
  void add(uint64_t global, TileLayout layout) { entries_[global] = std::move(layout); }
  void erase(uint64_t global) { entries_.erase(global); }
  const std::map<uint64_t, TileLayout>& entries() const { return entries_; }

 private:
  std::map<uint64_t, TileLayout> entries_;
};

/// A fresh random 64-bit chunk id, and its file name (lower-case hex without padding).
uint64_t new_chunk_id();
std::string chunk_name(uint64_t id);
/// True for a name chunk_name() could have made (1 to 16 lower-case hex digits).
bool is_chunk_name(std::string_view name);

}  // namespace chute
