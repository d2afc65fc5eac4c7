#include "chute/codec/image.h"

#include <png.h>
#include <turbojpeg.h>

#include <cstring>
#include <memory>
#include <vector>

#include "chute/codec/limits.h"
#include "chute/core/error.h"

namespace chute {
namespace {

struct TjDeleter {
  void operator()(void* h) const { tjDestroy(h); }
};
using TjHandle = std::unique_ptr<void, TjDeleter>;

TjHandle& decompressor_slot() {
  thread_local TjHandle h;
  return h;
}

tjhandle decompressor() {
  TjHandle& h = decompressor_slot();
  if (!h) h.reset(tjInitDecompress());
  if (!h) throw ResourceError("cannot create a TurboJPEG decompressor");
  return h.get();
}

// TurboJPEG 2.x returns from a failed tjDecompressHeader3 without aborting libjpeg's decompressor,
// which stays mid-header: the next file read with that handle continues the broken one's marker
// parse and fails (or worse, "succeeds" with the wrong frame). A handle that failed is dropped.
[[noreturn]] void header_failed(const std::string& message) {
  decompressor_slot().reset();
  throw DecodeError(message);
}

tjhandle compressor() {
  thread_local TjHandle h(tjInitCompress());
  if (!h) throw ResourceError("cannot create a TurboJPEG compressor");
  return h.get();
}

struct TjFree {
  void operator()(unsigned char* p) const { tjFree(p); }
};

int pixel_format(uint32_t channels) {
  if (channels == 1) return TJPF_GRAY;
  if (channels == 3) return TJPF_RGB;
  if (channels == 4) return TJPF_RGBX;
  throw InvalidArgument("images must have 1, 3 or 4 channels, got " + std::to_string(channels));
}

struct PngImage {
  png_image img;
  PngImage() {
    std::memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
  }
  ~PngImage() { png_image_free(&img); }
  PngImage(const PngImage&) = delete;
  PngImage& operator=(const PngImage&) = delete;
};

uint32_t png_format(uint32_t channels) {
  switch (channels) {
    case 1:
      return PNG_FORMAT_GRAY;
    case 2:
      return PNG_FORMAT_GA;
    case 3:
      return PNG_FORMAT_RGB;
    case 4:
      return PNG_FORMAT_RGBA;
  }
  throw InvalidArgument("PNG images must have 1 to 4 channels, got " + std::to_string(channels));
}

// x * y / 255 rounded, as PIL's MULDIV255.
inline int muldiv255(int x, int y) {
  int t = x * y + 128;
  return ((t >> 8) + t) >> 8;
}

}  // namespace

// Inverted, 255 means no ink, so each RGB value is k - (255 - c) * k / 255; the same arithmetic as
// PIL's CMYK;I unpacking followed by its CMYK to RGB conversion.
void cmyk_to(const uint8_t* cmyk, size_t pixels, uint32_t channels, uint8_t* out) {
  for (size_t p = 0; p < pixels; ++p, cmyk += 4) {
    int k = cmyk[3];
    int r = k - muldiv255(255 - cmyk[0], k), g = k - muldiv255(255 - cmyk[1], k), b = k - muldiv255(255 - cmyk[2], k);
    if (channels == 1) {
      *out++ = static_cast<uint8_t>((299 * r + 587 * g + 114 * b + 500) / 1000);
    } else {
      *out++ = static_cast<uint8_t>(r);
      *out++ = static_cast<uint8_t>(g);
      *out++ = static_cast<uint8_t>(b);
    }
  }
}

bool looks_like_jpeg(std::string_view b) {
  return b.size() >= 3 && (unsigned char)b[0] == 0xFF && (unsigned char)b[1] == 0xD8 && (unsigned char)b[2] == 0xFF;
}
bool looks_like_png(std::string_view b) { return b.size() >= 8 && std::memcmp(b.data(), "\x89PNG\r\n\x1a\n", 8) == 0; }

ImageInfo jpeg_info(std::string_view jpeg, const std::string& what) {
  int w = 0, h = 0, subsamp = 0, colorspace = 0;
  if (!looks_like_jpeg(jpeg)) throw DecodeError(what + ": not a JPEG (bad magic bytes)");
  tjhandle tj = decompressor();
  if (tjDecompressHeader3(tj, reinterpret_cast<const unsigned char*>(jpeg.data()), jpeg.size(), &w, &h, &subsamp,
                          &colorspace) != 0)
    header_failed(what + ": invalid JPEG header (" + tjGetErrorStr2(tj) + ")");
  // A start marker followed by junk can come back "successfully" with no frame: refuse it here, or
  // it would be stored as a 0x0 image.
  if (w <= 0 || h <= 0)
    header_failed(what + ": invalid JPEG header (it gives a " + std::to_string(w) + "x" + std::to_string(h) +
                  " image)");
  ImageInfo info{static_cast<uint32_t>(h), static_cast<uint32_t>(w), colorspace == TJCS_GRAY ? 1u : 3u};
  info.cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  return info;
}

void jpeg_decode(std::string_view jpeg, uint8_t* out, uint32_t height, uint32_t width, uint32_t channels,
                 const std::string& what) {
  ImageInfo info = jpeg_info(jpeg, what);
  if (info.height != height || info.width != width)
    throw DecodeError(what + ": JPEG is " + std::to_string(info.height) + "x" + std::to_string(info.width) +
                      ", the stored shape says " + std::to_string(height) + "x" + std::to_string(width));
  if (channels != 1 && channels != 3)
    throw DecodeError(what + ": JPEG samples have 1 or 3 channels, the stored shape says " + std::to_string(channels));
  check_decoded_size(Shape{height, width, info.cmyk ? 4u : channels}, 1, what);
  tjhandle h = decompressor();
  const auto* src = reinterpret_cast<const unsigned char*>(jpeg.data());
  int rc;
  if (info.cmyk) {
    // libjpeg gives CMYK (YCCK converted); TurboJPEG has no CMYK to RGB conversion of its own.
    std::vector<uint8_t> cmyk(static_cast<size_t>(height) * width * 4);
    rc = tjDecompress2(h, src, jpeg.size(), cmyk.data(), static_cast<int>(width), 0, static_cast<int>(height),
                       TJPF_CMYK, TJFLAG_ACCURATEDCT);
    if (rc == 0) cmyk_to(cmyk.data(), static_cast<size_t>(height) * width, channels, out);
  } else {
    rc = tjDecompress2(h, src, jpeg.size(), out, static_cast<int>(width), 0, static_cast<int>(height),
                       pixel_format(channels), TJFLAG_ACCURATEDCT);
  }
  // A warning (e.g. premature end of data in a truncated file) is an error for us: the pixels are wrong.
  if (rc != 0) throw DecodeError(what + ": corrupt JPEG (" + tjGetErrorStr2(h) + ")");
}

std::string jpeg_encode(const uint8_t* pixels, uint32_t height, uint32_t width, uint32_t channels, int quality) {
  tjhandle h = compressor();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  int subsamp = channels == 1 ? TJSAMP_GRAY : TJSAMP_420;
  if (channels != 1 && channels != 3)
    throw InvalidArgument("JPEG needs 1 or 3 channels, got " + std::to_string(channels));
  int rc = tjCompress2(h, pixels, static_cast<int>(width), 0, static_cast<int>(height), pixel_format(channels), &buf,
                       &size, subsamp, quality, 0);
  std::unique_ptr<unsigned char, TjFree> owned(buf);
  if (rc != 0) throw Error(std::string("JPEG encoding failed: ") + tjGetErrorStr2(h));
  return std::string(reinterpret_cast<char*>(buf), size);
}

ImageInfo png_info(std::string_view png, const std::string& what) {
  if (!looks_like_png(png)) throw DecodeError(what + ": not a PNG (bad magic bytes)");
  PngImage p;
  if (!png_image_begin_read_from_memory(&p.img, png.data(), png.size()))
    throw DecodeError(what + ": invalid PNG (" + p.img.message + ")");
  uint32_t c = PNG_IMAGE_SAMPLE_CHANNELS(p.img.format);
  if (p.img.width == 0 || p.img.height == 0 || c == 0)
    throw DecodeError(what + ": invalid PNG header (a " + std::to_string(p.img.width) + "x" +
                      std::to_string(p.img.height) + " image)");
  return ImageInfo{p.img.height, p.img.width, c};
}

void png_decode(std::string_view png, uint8_t* out, uint32_t height, uint32_t width, uint32_t channels,
                const std::string& what) {
  if (!looks_like_png(png)) throw DecodeError(what + ": not a PNG (bad magic bytes)");
  PngImage p;
  if (!png_image_begin_read_from_memory(&p.img, png.data(), png.size()))
    throw DecodeError(what + ": invalid PNG (" + p.img.message + ")");
  if (p.img.height != height || p.img.width != width)
    throw DecodeError(what + ": PNG is " + std::to_string(p.img.height) + "x" + std::to_string(p.img.width) +
                      ", the stored shape says " + std::to_string(height) + "x" + std::to_string(width));
  p.img.format = png_format(channels);
  check_decoded_size(Shape{height, width, channels}, 1, what);
  if (!png_image_finish_read(&p.img, nullptr, out, 0, nullptr))
    throw DecodeError(what + ": corrupt PNG (" + p.img.message + ")");
}

std::string png_encode(const uint8_t* pixels, uint32_t height, uint32_t width, uint32_t channels) {
  PngImage p;
  p.img.width = width;
  p.img.height = height;
  p.img.format = png_format(channels);
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&p.img, nullptr, &size, 0, pixels, 0, nullptr))
    throw Error(std::string("PNG encoding failed: ") + p.img.message);
  std::string out(size, '\0');
  if (!png_image_write_to_memory(&p.img, out.data(), &size, 0, pixels, 0, nullptr))
    throw Error(std::string("PNG encoding failed: ") + p.img.message);
  out.resize(size);
  return out;
}

}  // namespace chute
