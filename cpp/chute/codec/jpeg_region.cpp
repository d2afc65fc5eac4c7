#include "chute/codec/jpeg_region.h"

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>

// jpeglib.h needs FILE and size_t declared first.
#include <jpeglib.h>

#include "chute/codec/image.h"
#include "chute/core/error.h"

namespace chute {
namespace {

struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

extern "C" void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

extern "C" void on_warning(j_common_ptr cinfo, int level) {
  // Corrupt-data warnings (level -1) mean wrong pixels: treat them as errors.
  if (level < 0) on_error(cinfo);
}

struct Params {
  const unsigned char* data;
  unsigned long size;
  JpegRegion region;
  uint32_t min_w, min_h, channels;
  uint8_t* out;                    // the region, packed (jpeg_decode_region)
  std::vector<uint8_t>* rows_out;  // or libjpeg's rows as they come (jpeg_decode_rows)
  uint32_t out_w, out_h, left, row_px;
};

// Returns 0 on success; on failure fills `message`. Only trivially destructible locals live
// between setjmp and a possible longjmp.
int decode_region_c(Params* p, char* message) {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  unsigned char* volatile row = nullptr;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.emit_message = on_warning;
  if (setjmp(err.jump)) {
    std::snprintf(message, JMSG_LENGTH_MAX, "%s", err.message);
    jpeg_destroy_decompress(&cinfo);
    std::free(row);
    return 1;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, p->data, p->size);
  jpeg_read_header(&cinfo, TRUE);
  const JpegRegion& r = p->region;
  if (r.width == 0 || r.height == 0 || r.x + r.width > cinfo.image_width || r.y + r.height > cinfo.image_height) {
    std::snprintf(message, JMSG_LENGTH_MAX, "region %ux%u+%u+%u is outside the %ux%u image", r.width, r.height, r.x,
                  r.y, cinfo.image_width, cinfo.image_height);
    jpeg_destroy_decompress(&cinfo);
    return 1;
  }
  unsigned denom = 8;
  while (denom > 1 && ((r.width + denom - 1) / denom < p->min_w || (r.height + denom - 1) / denom < p->min_h))
    denom /= 2;
  cinfo.scale_num = 1;
  cinfo.scale_denom = denom;
  // libjpeg has no CMYK to RGB conversion: take CMYK (YCCK converted) and convert each row.
  const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  cinfo.out_color_space = cmyk ? JCS_CMYK : p->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  cinfo.dct_method = JDCT_ISLOW;
  jpeg_start_decompress(&cinfo);
  // The region in scaled coordinates, clipped to the scaled image.
  JDIMENSION sx = r.x / denom, sy = r.y / denom;
  JDIMENSION sw = (r.width + denom - 1) / denom, sh = (r.height + denom - 1) / denom;
  if (sx + sw > cinfo.output_width) sw = cinfo.output_width - sx;
  if (sy + sh > cinfo.output_height) sh = cinfo.output_height - sy;
  JDIMENSION xoff = sx, cw = sw;
  if (sw < cinfo.output_width)
    jpeg_crop_scanline(&cinfo, &xoff, &cw);
  else
    xoff = 0, cw = cinfo.output_width;
  size_t comps = static_cast<size_t>(cinfo.output_components);
  if (sy > 0) jpeg_skip_scanlines(&cinfo, sy);
  p->out_w = sw;
  p->out_h = sh;
  p->left = sx - xoff;
  p->row_px = cw;
  if (p->rows_out && !cmyk) {  // straight into the caller's rows: no copy
    size_t stride = static_cast<size_t>(cw) * comps;
    p->rows_out->resize(stride * sh);
    for (JDIMENSION y = 0; y < sh; ++y) {
      JSAMPROW rows[1] = {p->rows_out->data() + y * stride};
      jpeg_read_scanlines(&cinfo, rows, 1);
    }
    jpeg_abort_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return 0;
  }
  row = static_cast<unsigned char*>(std::malloc(static_cast<size_t>(cw) * comps));
  if (!row) {
    std::snprintf(message, JMSG_LENGTH_MAX, "out of memory");
    jpeg_destroy_decompress(&cinfo);
    return 1;
  }
  if (p->rows_out) {  // CMYK rows converted into the caller's rows
    size_t stride = static_cast<size_t>(cw) * p->channels;
    p->rows_out->resize(stride * sh);
    for (JDIMENSION y = 0; y < sh; ++y) {
      JSAMPROW rows[1] = {row};
      jpeg_read_scanlines(&cinfo, rows, 1);
      cmyk_to(row, cw, p->channels, p->rows_out->data() + y * stride);
    }
  } else {
    size_t left = static_cast<size_t>(sx - xoff) * comps;
    size_t line = static_cast<size_t>(sw) * comps, out_line = static_cast<size_t>(sw) * p->channels;
    for (JDIMENSION y = 0; y < sh; ++y) {
      JSAMPROW rows[1] = {row};
      jpeg_read_scanlines(&cinfo, rows, 1);
      if (cmyk)
        cmyk_to(row + left, sw, p->channels, p->out + y * out_line);
      else
        std::memcpy(p->out + y * line, row + left, line);
    }
  }
  jpeg_abort_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  std::free(row);
  row = nullptr;
  return 0;
}

}  // namespace

void jpeg_decode_region(std::string_view jpeg, const JpegRegion& region, uint32_t min_width, uint32_t min_height,
                        uint32_t channels, uint8_t* out, uint32_t& out_width, uint32_t& out_height,
                        const std::string& what) {
  if (channels != 1 && channels != 3) throw DecodeError(what + ": region decode needs 1 or 3 channels");
  Params p{reinterpret_cast<const unsigned char*>(jpeg.data()),
           static_cast<unsigned long>(jpeg.size()),
           region,
           min_width,
           min_height,
           channels,
           out,
           nullptr,
           0,
           0,
           0,
           0};
  char message[JMSG_LENGTH_MAX] = {0};
  if (decode_region_c(&p, message) != 0) throw DecodeError(what + ": corrupt JPEG (" + message + ")");
  out_width = p.out_w;
  out_height = p.out_h;
}

void jpeg_decode_rows(std::string_view jpeg, const JpegRegion& region, uint32_t min_width, uint32_t min_height,
                      uint32_t channels, std::vector<uint8_t>& out, JpegRows& rows, const std::string& what) {
  if (channels != 1 && channels != 3) throw DecodeError(what + ": region decode needs 1 or 3 channels");
  Params p{reinterpret_cast<const unsigned char*>(jpeg.data()),
           static_cast<unsigned long>(jpeg.size()),
           region,
           min_width,
           min_height,
           channels,
           nullptr,
           &out,
           0,
           0,
           0,
           0};
  char message[JMSG_LENGTH_MAX] = {0};
  if (decode_region_c(&p, message) != 0) throw DecodeError(what + ": corrupt JPEG (" + message + ")");
  rows = JpegRows{p.out_w, p.out_h, p.left, p.row_px};
}

}  // namespace chute
