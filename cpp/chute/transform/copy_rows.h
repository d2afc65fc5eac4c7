#pragma once
// The engine-only transform: rows of a dataset copied into tensor segments, images through built-in
// ops on the way (fetch, decode fused with the ops, encode as the output tensor stores, append),
// with no Python per sample. The executor (chute.transform) runs one call per slice of rows on its
// workers and appends the segments in order as it does for Python transforms.
// Thread-safety: different calls may run at once on different destination segments.
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "chute/dataset/tensor.h"
#include "chute/ops/image_ops.h"

namespace chute {

/// One output tensor of an engine transform: the source tensor, the segment it goes to, and the
/// ops its images go through (none: the samples are copied, as stored where the formats agree).
struct RowCopy {
  std::shared_ptr<const Tensor> src;
  std::shared_ptr<Tensor> dst;
  std::optional<ImagePipeline> ops;
};

/// Checks that `ops` give images `dst` can store (uint8 HxWxC); InvalidArgument naming the tensor.
void check_image_ops(const ImagePipeline& ops, const Tensor& dst);

/// Appends, for each row of `rows` in order, every column's sample to its segment. Random ops draw
/// from (seed, row). Errors name the tensor and the row.
void copy_rows(const std::vector<RowCopy>& columns, const std::vector<uint64_t>& rows, uint64_t seed);

}  // namespace chute
