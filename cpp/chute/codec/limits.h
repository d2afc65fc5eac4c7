#pragma once
// The cap on one decoded sample's size. A header (JPEG, PNG, a chunk's shape) can claim any size;
// allocating what it claims would fail with std::bad_alloc, or succeed on an overcommitting kernel
// and get the process OOM-killed while the decoder writes. Every place that allocates room for a
// decoded sample or an image op's result checks the size here first. Thread-safe.
#include <cstdint>
#include <string>

#include "chute/core/dtype.h"

namespace chute {

/// The most bytes one decoded sample (or one image op's intermediate image) may take: the value of
/// the environment variable CHUTE_MAX_DECODED_BYTES when set (read once), else 4 GiB or a quarter
/// of physical memory when that is less.
uint64_t max_decoded_bytes();
/// Overrides the cap for this process; 0 restores the default.
void set_max_decoded_bytes(uint64_t bytes);

/// The bytes of `shape` elements of `itemsize` bytes, or UINT64_MAX when the product overflows.
uint64_t decoded_bytes(const Shape& shape, size_t itemsize);
/// Throws ResourceError naming `what`, the shape, its size and the cap when a sample of `shape`
/// and `dtype` would take more than max_decoded_bytes().
void check_decoded_size(const Shape& shape, DType dtype, const std::string& what);
void check_decoded_size(const Shape& shape, size_t itemsize, const std::string& what);

/// "1.5 GiB", "300 MiB", "12 bytes": for messages.
std::string bytes_str(uint64_t bytes);

}  // namespace chute
