#pragma once
// JPEG (libjpeg-turbo, one TurboJPEG handle per thread) and PNG (libpng's simplified API, whose
// setjmp stays inside libpng) for 8-bit images in HWC layout. Thread-safe.
#include <cstdint>
#include <string>
#include <string_view>

#include "chute/core/dtype.h"

namespace chute {

struct ImageInfo {
  uint32_t height = 0, width = 0, channels = 0;
  /// A CMYK or YCCK JPEG: `channels` is 3, the RGB it decodes to (other JPEG readers, Deep Lake's
  /// PIL among them, give 4 CMYK channels, so such a file is converted, not stored as is).
  bool cmyk = false;
  Shape shape() const { return {height, width, channels}; }
};

/// The header's size and channels; DecodeError unless it parses to a non-zero width and height.
ImageInfo jpeg_info(std::string_view jpeg, const std::string& what);
/// Decodes into out (height*width*channels bytes); channels 1 gives luminance, 3 gives RGB (CMYK
/// and YCCK JPEGs too, converted as Adobe's inverted CMYK, the way PIL and libjpeg's tools read it).
void jpeg_decode(std::string_view jpeg, uint8_t* out, uint32_t height, uint32_t width, uint32_t channels,
                 const std::string& what);
std::string jpeg_encode(const uint8_t* pixels, uint32_t height, uint32_t width, uint32_t channels, int quality);

ImageInfo png_info(std::string_view png, const std::string& what);
void png_decode(std::string_view png, uint8_t* out, uint32_t height, uint32_t width, uint32_t channels,
                const std::string& what);
std::string png_encode(const uint8_t* pixels, uint32_t height, uint32_t width, uint32_t channels);

/// Stored (Adobe-inverted) CMYK pixels, 4 bytes each, to `channels` 3 (RGB) or 1 (luminance).
void cmyk_to(const uint8_t* cmyk, size_t pixels, uint32_t channels, uint8_t* out);

bool looks_like_jpeg(std::string_view bytes);
bool looks_like_png(std::string_view bytes);

}  // namespace chute
