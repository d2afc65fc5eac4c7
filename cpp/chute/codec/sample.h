#pragma once
// Encoding and decoding of one stored sample by the tensor's sample compression.
// Thread-safe (per-thread codec handles).
#include <cstdint>
#include <string>
#include <string_view>

#include "chute/codec/limits.h"
#include "chute/core/dtype.h"
#include "chute/format/chunk.h"

namespace chute {

/// Encodes a raw C-order array of `shape` for storage. JPEG and PNG need uint8 HWC (or HW).
std::string encode_sample(Compression c, const uint8_t* raw, size_t nbytes, const Shape& shape, DType dtype,
                          int jpeg_quality = 75);
/// Decodes stored bytes into `out` (num_elements(shape) * dtype_size(dtype) bytes).
void decode_sample(Compression c, std::string_view stored, const Shape& shape, DType dtype, uint8_t* out,
                   const std::string& what);
/// The shape of an already compressed image (JPEG or PNG header); FormatError-free: DecodeError.
Shape compressed_image_shape(Compression c, std::string_view bytes, const std::string& what);
/// True for a compressed image that must not be stored as it is: a CMYK or YCCK JPEG, which chute
/// decodes to RGB but Deep Lake 3 (PIL) reads as 4 channels against a stored shape of 3. Such a
/// file is decoded and stored re-encoded.
bool image_needs_conversion(Compression c, std::string_view bytes, const std::string& what);

}  // namespace chute
