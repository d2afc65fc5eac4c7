#pragma once
// One chunk file in Deep Lake 3's layout: a version string, a run-length shape table, a run-length
// byte-position table, then the samples' bytes (one compressed blob when the tensor has
// chunk_compression). The same class parses a file and builds a new chunk.
// Thread-safety: const methods may run concurrently; append() needs exclusive access.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chute/core/dtype.h"

namespace chute {

enum class Compression : uint8_t { None, Jpeg, Png, Lz4, Zstd };
Compression compression_from_name(const std::string& name);  // "" / "none" / null → None
const char* compression_name(Compression c);                 // None → ""

class Chunk {
 public:
  Chunk() = default;
  /// Parses a chunk file. `what` names the chunk (tensor and id) in FormatError messages.
  static Chunk parse(std::string file, Compression chunk_compression, const std::string& what);

  /// The tables of a chunk without its data, from the first bytes of the file. Returns the number
  /// of bytes the header needs when `prefix` is too short (and leaves `out` untouched), else 0.
  static size_t parse_index(std::string_view prefix, uint64_t file_size, const std::string& what, Chunk& out);
  /// Where sample `local` lies in the chunk file (only for chunks without chunk compression).
  std::pair<uint64_t, uint64_t> sample_range(size_t local) const;

  size_t num_samples() const { return num_samples_; }
  Shape shape(size_t local) const;
  std::string_view bytes(size_t local) const;
  /// Bytes of sample data held (uncompressed for chunk-compressed chunks).
  size_t data_size() const { return data().size(); }
  /// Memory held, for cache accounting.
  size_t memory_bytes() const { return buf_.capacity() + 4 * (shape_rows_.size() + byte_rows_.size()) + 128; }

  void append(std::string_view sample, const Shape& shape);
  /// Replaces sample `local` in place when `sample` has its size and shape (an update that keeps
  /// the layout); false, and nothing changed, otherwise.
  bool overwrite(size_t local, std::string_view sample, const Shape& shape);
  std::string serialize(Compression chunk_compression) const;
  /// The header alone (version and tables); with data_view() it is the file of an uncompressed chunk.
  std::string serialize_header() const;
  std::string_view data_view() const { return data(); }
  /// Empties the chunk for reuse, keeping its allocation; `capacity` bytes of data are reserved.
  void reset(size_t capacity);

 private:
  std::string_view data() const { return std::string_view(buf_).substr(data_begin_); }
  size_t shape_row(size_t local) const;
  size_t byte_row(size_t local) const;
  /// Reads both tables; returns false (reader untouched) when the bytes end inside them.
  void parse_tables(std::string_view file, size_t& header_end);
  void check_ranges(uint64_t data_size) const;

  std::vector<uint32_t> shape_rows_;  // rows of [dims..., last_local_index]
  uint32_t shape_cols_ = 0;
  std::vector<uint32_t> byte_rows_;  // rows of [num_bytes, start_byte, last_local_index]
  std::string buf_;                  // sample bytes start at data_begin_
  size_t data_begin_ = 0;
  size_t num_samples_ = 0;
  std::string what_;
};

}  // namespace chute
