// Private to the Tensor's translation units (tensor.cpp, tensor_read.cpp): index file names and the
// block copy shared by tiled writes and tiled reads.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "chute/core/dtype.h"

namespace chute::tensor_detail {

inline constexpr const char* kChunkIndex = "/chunks_index/unsharded";
inline constexpr const char* kTileIndex = "/tiles_index/unsharded";

// Copies a C-order block `src` of shape `block` into `dst` of shape `full` at `origin`.
inline void copy_block(const uint8_t* src, const Shape& block, uint8_t* dst, const Shape& full, const Shape& origin,
                       size_t item, bool to_full) {
  size_t nd = full.size();
  if (nd == 0) return;
  size_t row = block[nd - 1] * item;
  std::vector<uint64_t> strides(nd);
  uint64_t s = item;
  for (size_t d = nd; d-- > 0;) {
    strides[d] = s;
    s *= full[d];
  }
  uint64_t rows = 1;
  for (size_t d = 0; d + 1 < nd; ++d) rows *= block[d];
  std::vector<uint64_t> idx(nd, 0);
  for (uint64_t r = 0; r < rows; ++r) {
    uint64_t off = 0;
    for (size_t d = 0; d < nd; ++d) off += (origin[d] + idx[d]) * strides[d];
    if (to_full)
      std::memcpy(dst + off, src + r * row, row);
    else
      std::memcpy(dst + r * row, src + off, row);  // here src is the full array, dst the block
    for (size_t d = nd - 1; d-- > 0;) {
      if (++idx[d] < block[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace chute::tensor_detail
