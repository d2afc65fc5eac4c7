#pragma once
// Decoding a region of a JPEG at a reduced DCT scale (libjpeg's scale_denom, crop_scanline and
// skip_scanlines), so RandomResizedCrop never decodes pixels it throws away. libjpeg's error
// longjmp stays inside one C-style function with no C++ objects alive across it.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chute {

struct JpegRegion {
  uint32_t x = 0, y = 0, width = 0, height = 0;  // in full-resolution pixels
};

/// Decodes `region` of the JPEG into `out` (room for region.width*region.height*channels bytes),
/// using the largest DCT downscale (1, 1/2, 1/4, 1/8) that keeps the decoded region at least
/// min_width x min_height. Sets out_width/out_height to the decoded size. Throws DecodeError.
void jpeg_decode_region(std::string_view jpeg, const JpegRegion& region, uint32_t min_width, uint32_t min_height,
                        uint32_t channels, uint8_t* out, uint32_t& out_width, uint32_t& out_height,
                        const std::string& what);

/// Where jpeg_decode_rows put the region: `height` rows of `row_pixels` pixels (libjpeg's
/// iMCU-aligned columns), the region's `width` pixels starting `left` pixels into each row.
struct JpegRows {
  uint32_t width = 0, height = 0, left = 0, row_pixels = 0;
};

/// jpeg_decode_region without copying the region out of libjpeg's rows (for a consumer that reads
/// with a row stride). `out` is resized to height * row_pixels * channels.
void jpeg_decode_rows(std::string_view jpeg, const JpegRegion& region, uint32_t min_width, uint32_t min_height,
                      uint32_t channels, std::vector<uint8_t>& out, JpegRows& rows, const std::string& what);

}  // namespace chute
