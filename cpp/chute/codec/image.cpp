#include "chute/codec/image.h"

#include <png.h>
#include <turbojpeg.h>

#include <cstring>
#include <memory>

#include "chute/core/error.h"

namespace chute {
namespace {

struct TjDeleter {
  void operator()(void* h) const { tjDestroy(h); }
};
using TjHandle = std::unique_ptr<void, TjDeleter>;

tjhandle decompressor() {
  thread_local TjHandle h(tjInitDecompress());
  if (!h) throw Error("cannot create a TurboJPEG decompressor");
  return h.get();
}

tjhandle compressor() {
  thread_local TjHandle h(tjInitCompress());
  if (!h) throw Error("cannot create a TurboJPEG compressor");
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
    case 1: return PNG_FORMAT_GRAY;
    case 2: return PNG_FORMAT_GA;
    case 3: return PNG_FORMAT_RGB;
    case 4: return PNG_FORMAT_RGBA;
  }
  throw InvalidArgument("PNG images must have 1 to 4 channels, got " + std::to_string(channels));
}

}  // namespace

bool looks_like_jpeg(std::string_view b) { return b.size() >= 3 && (unsigned char)b[0] == 0xFF && (unsigned char)b[1] == 0xD8 && (unsigned char)b[2] == 0xFF; }
bool looks_like_png(std::string_view b) { return b.size() >= 8 && std::memcmp(b.data(), "\x89PNG\r\n\x1a\n", 8) == 0; }

ImageInfo jpeg_info(std::string_view jpeg, const std::string& what) {
  int w = 0, h = 0, subsamp = 0, colorspace = 0;
  if (!looks_like_jpeg(jpeg)) throw DecodeError(what + ": not a JPEG (bad magic bytes)");
  if (tjDecompressHeader3(decompressor(), reinterpret_cast<const unsigned char*>(jpeg.data()), jpeg.size(), &w, &h,
                          &subsamp, &colorspace) != 0)
    throw DecodeError(what + ": invalid JPEG header (" + tjGetErrorStr2(decompressor()) + ")");
  uint32_t c = colorspace == TJCS_GRAY ? 1 : 3;
  return ImageInfo{static_cast<uint32_t>(h), static_cast<uint32_t>(w), c};
}

void jpeg_decode(std::string_view jpeg, uint8_t* out, uint32_t height, uint32_t width, uint32_t channels,
                 const std::string& what) {
  ImageInfo info = jpeg_info(jpeg, what);
  if (info.height != height || info.width != width)
    throw DecodeError(what + ": JPEG is " + std::to_string(info.height) + "x" + std::to_string(info.width) +
                      ", the stored shape says " + std::to_string(height) + "x" + std::to_string(width));
  if (channels == 4) throw DecodeError(what + ": 4-channel JPEG samples are not supported");
  tjhandle h = decompressor();
  int rc = tjDecompress2(h, reinterpret_cast<const unsigned char*>(jpeg.data()), jpeg.size(), out, static_cast<int>(width),
                         0, static_cast<int>(height), pixel_format(channels), TJFLAG_ACCURATEDCT);
  // A warning (e.g. premature end of data in a truncated file) is an error for us: the pixels are wrong.
  if (rc != 0) throw DecodeError(what + ": corrupt JPEG (" + tjGetErrorStr2(h) + ")");
}

std::string jpeg_encode(const uint8_t* pixels, uint32_t height, uint32_t width, uint32_t channels, int quality) {
  tjhandle h = compressor();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  int subsamp = channels == 1 ? TJSAMP_GRAY : TJSAMP_420;
  if (channels != 1 && channels != 3) throw InvalidArgument("JPEG needs 1 or 3 channels, got " + std::to_string(channels));
  int rc = tjCompress2(h, pixels, static_cast<int>(width), 0, static_cast<int>(height), pixel_format(channels), &buf, &size,
                       subsamp, quality, 0);
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
