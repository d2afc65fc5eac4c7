#include "chute/codec/sample.h"

#include <cstring>

#include "chute/codec/image.h"
#include "chute/codec/limits.h"
#include "chute/codec/lz4.h"
#include "chute/core/error.h"

namespace chute {
namespace {

void image_dims(const Shape& shape, uint32_t& h, uint32_t& w, uint32_t& c) {
  // Casting a corrupt 2^32+10 to 10 would let it match the header and decode a wrong-sized image.
  for (uint64_t d : shape)
    if (d > UINT32_MAX) throw InvalidArgument("image dimensions must fit 32 bits, got shape " + shape_str(shape));
  if (shape.size() == 2) {
    h = static_cast<uint32_t>(shape[0]);
    w = static_cast<uint32_t>(shape[1]);
    c = 1;
  } else if (shape.size() == 3) {
    h = static_cast<uint32_t>(shape[0]);
    w = static_cast<uint32_t>(shape[1]);
    c = static_cast<uint32_t>(shape[2]);
  } else {
    throw InvalidArgument("images must be HxW or HxWxC, got shape " + shape_str(shape));
  }
}

}  // namespace

std::string encode_sample(Compression c, const uint8_t* raw, size_t nbytes, const Shape& shape, DType dtype,
                          int jpeg_quality) {
  switch (c) {
    case Compression::None:
    case Compression::Zstd:
      return std::string(reinterpret_cast<const char*>(raw), nbytes);
    case Compression::Lz4:
      return lz4_compress(std::string_view(reinterpret_cast<const char*>(raw), nbytes));
    case Compression::Jpeg:
    case Compression::Png: {
      if (dtype != DType::UInt8)
        throw InvalidArgument(std::string(compression_name(c)) + " samples must be uint8, got " + dtype_name(dtype));
      uint32_t h, w, ch;
      image_dims(shape, h, w, ch);
      if (h == 0 || w == 0) throw InvalidArgument("cannot compress an empty image of shape " + shape_str(shape));
      return c == Compression::Jpeg ? jpeg_encode(raw, h, w, ch, jpeg_quality) : png_encode(raw, h, w, ch);
    }
  }
  return {};
}

void decode_sample(Compression c, std::string_view stored, const Shape& shape, DType dtype, uint8_t* out,
                   const std::string& what) {
  // A shape from a corrupt header can be absurd or overflow 64 bits (a product that wraps to a
  // small number would make the caller's buffer too small): decoded_bytes saturates instead.
  uint64_t nbytes = decoded_bytes(shape, dtype_size(dtype));
  // Uncompressed bytes are already in memory, so their size is the check; anything that expands
  // is held to the cap before a byte is written.
  if (c != Compression::None && c != Compression::Zstd) check_decoded_size(shape, dtype, what);
  switch (c) {
    case Compression::None:
    case Compression::Zstd:
      if (stored.size() != nbytes)
        throw FormatError(what + ": holds " + std::to_string(stored.size()) + " bytes, shape " + shape_str(shape) +
                          " of " + dtype_name(dtype) + " needs " + std::to_string(nbytes));
      if (nbytes) std::memcpy(out, stored.data(), nbytes);
      return;
    case Compression::Lz4: {
      if (nbytes == 0 && stored.empty()) return;
      std::string raw = lz4_decompress(stored, what);
      if (raw.size() != nbytes)
        throw DecodeError(what + ": lz4 data holds " + std::to_string(raw.size()) + " bytes, expected " +
                          std::to_string(nbytes));
      std::memcpy(out, raw.data(), nbytes);
      return;
    }
    case Compression::Jpeg:
    case Compression::Png: {
      // The decoders write one byte per value: any other dtype (a corrupt or foreign meta) would
      // leave most of the caller's buffer unwritten.
      if (dtype != DType::UInt8)
        throw FormatError(what + ": " + compression_name(c) + " samples are uint8, the tensor says " +
                          dtype_name(dtype));
      if (nbytes == 0) return;
      uint32_t h, w, ch;
      image_dims(shape, h, w, ch);
      if (c == Compression::Jpeg)
        jpeg_decode(stored, out, h, w, ch, what);
      else
        png_decode(stored, out, h, w, ch, what);
      return;
    }
  }
}

Shape compressed_image_shape(Compression c, std::string_view bytes, const std::string& what) {
  if (c == Compression::Jpeg) return jpeg_info(bytes, what).shape();
  if (c == Compression::Png) return png_info(bytes, what).shape();
  throw InvalidArgument(std::string("not an image compression: ") + compression_name(c));
}

bool image_needs_conversion(Compression c, std::string_view bytes, const std::string& what) {
  return c == Compression::Jpeg && jpeg_info(bytes, what).cmyk;
}

}  // namespace chute
