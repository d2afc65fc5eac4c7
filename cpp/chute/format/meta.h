#pragma once
// tensor_meta.json: kept as the JSON Deep Lake wrote (unknown keys survive a rewrite), with
// checked accessors for the keys the engine uses. Thread-safety: none; owned by one Tensor.
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "chute/core/dtype.h"
#include "chute/format/chunk.h"

namespace chute {

/// The htypes whose samples are stored as UTF-8 bytes (text; json, list and tag as JSON). The one
/// list: the Python package asks the engine (chute._core.is_bytes_htype).
bool is_bytes_htype(std::string_view htype);

class TensorMeta {
 public:
  TensorMeta() = default;
  /// Parses and checks the types of the keys the engine relies on; FormatError names the file.
  static TensorMeta parse(std::string_view text, const std::string& what);
  /// A complete meta for a new tensor, with every key Deep Lake 3.9.52 writes.
  static TensorMeta make(const std::string& name, const std::string& htype, const std::string& dtype,
                         const std::string& sample_compression, const std::string& chunk_compression,
                         int64_t max_chunk_size, int64_t tiling_threshold, const nlohmann::json& extra);
  std::string serialize() const { return json_.dump(); }

  const nlohmann::json& json() const { return json_; }
  nlohmann::json& json() { return json_; }

  std::string htype() const { return htype_; }
  bool has_dtype() const { return has_dtype_; }
  DType dtype() const { return dtype_; }
  Compression sample_compression() const { return sample_compression_; }
  Compression chunk_compression() const { return chunk_compression_; }
  /// Samples stored as UTF-8 bytes (text, json, list, tag).
  bool is_bytes_htype() const;
  uint64_t max_chunk_size() const;
  uint64_t min_chunk_size() const { return max_chunk_size() / 2; }
  /// -1 disables tiling.
  int64_t tiling_threshold() const;
  uint64_t length() const { return json_.value("length", uint64_t(0)); }

  /// Records one appended sample: length, min/max shape, and dtype for a tensor created without one.
  void on_append(const Shape& shape);
  /// Records that a sample was replaced by one of `shape`: min/max shape widen to take it in.
  void on_update(const Shape& shape);
  void set_dtype(DType d);
  void set_length(uint64_t n) { json_["length"] = n; }

 private:
  void load_cached();
  nlohmann::json json_;
  std::string htype_;
  bool has_dtype_ = false;
  DType dtype_ = DType::UInt8;
  Compression sample_compression_ = Compression::None;
  Compression chunk_compression_ = Compression::None;
};

}  // namespace chute
