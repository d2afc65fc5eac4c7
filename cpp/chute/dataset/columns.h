#pragma once
// Whole-tensor columns for queries: one pass over a tensor's chunks gives every row's value (or
// shape) in one flat array, which a query evaluates block by block. Tensor caches them until it
// grows (samples are immutable once appended, so the length is the version).
// Thread-safety: immutable once built; shared between queries through shared_ptr<const ...>.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "chute/core/dtype.h"

namespace chute {

/// Calls f(T{}) with the C++ type of a numeric dtype (bool as uint8_t); returns false, without
/// calling it, for float16, str and object.
template <typename F>
bool visit_number_type(DType d, F&& f) {
  switch (d) {
    case DType::Bool:
    case DType::UInt8:
      f(uint8_t{});
      return true;
    case DType::Int8:
      f(int8_t{});
      return true;
    case DType::UInt16:
      f(uint16_t{});
      return true;
    case DType::Int16:
      f(int16_t{});
      return true;
    case DType::UInt32:
      f(uint32_t{});
      return true;
    case DType::Int32:
      f(int32_t{});
      return true;
    case DType::UInt64:
      f(uint64_t{});
      return true;
    case DType::Int64:
      f(int64_t{});
      return true;
    case DType::Float32:
      f(float{});
      return true;
    case DType::Float64:
      f(double{});
      return true;
    default:
      return false;
  }
}

/// Rows of one fixed shape (`width` numbers each: one for labels and scalars, k for embeddings),
/// in the tensor's dtype, back to back.
struct NumberColumn {
  DType dtype = DType::UInt8;
  uint64_t rows = 0;
  size_t width = 1;
  Shape sample_shape;
  std::vector<uint8_t> data;

  /// For width 1: the values of rows index[begin..begin+n) (index == nullptr: rows begin..begin+n)
  /// as doubles into `out`.
  void gather(const uint64_t* index, size_t begin, size_t n, double* out) const;
  /// Row `row`'s `width` numbers as doubles into `out`.
  void row(uint64_t row, double* out) const;
  size_t memory_bytes() const { return data.capacity(); }
};

/// Every row's stored bytes (text, json) back to back; row i is blob[offsets[i], offsets[i+1]).
struct BytesColumn {
  uint64_t rows = 0;
  std::vector<uint64_t> offsets;
  std::string blob;

  std::string_view at(uint64_t row) const {
    return std::string_view(blob).substr(offsets[row], offsets[row + 1] - offsets[row]);
  }
  size_t memory_bytes() const { return blob.capacity() + offsets.capacity() * 8; }
};

/// Every row's shape from the chunk headers (no sample data read). Rows all have `ndim` dims
/// (a tensor whose rows differ in rank gets no shape column); row i's are dims[i*ndim, (i+1)*ndim).
struct ShapeColumn {
  uint64_t rows = 0;
  size_t ndim = 0;
  std::vector<uint32_t> dims;
  size_t memory_bytes() const { return dims.capacity() * 4; }
};

}  // namespace chute
