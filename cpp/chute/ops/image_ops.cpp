#include "chute/ops/image_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "chute/codec/image.h"
#include "chute/codec/jpeg_region.h"
#include "chute/codec/limits.h"
#include "chute/codec/sample.h"
#include "chute/core/error.h"
#include "chute/core/random.h"

namespace chute {
namespace {

struct Image {
  std::vector<uint8_t> px;
  uint32_t h = 0, w = 0, c = 0;
};

void crop(const Image& in, uint32_t y, uint32_t x, uint32_t h, uint32_t w, Image& out) {
  out.h = h;
  out.w = w;
  out.c = in.c;
  out.px.resize(static_cast<size_t>(h) * w * in.c);
  size_t line = static_cast<size_t>(w) * in.c;
  for (uint32_t r = 0; r < h; ++r)
    std::memcpy(out.px.data() + r * line, in.px.data() + ((static_cast<size_t>(y) + r) * in.w + x) * in.c, line);
}

void resize(const Image& in, uint32_t h, uint32_t w, Image& out) {
  out.h = h;
  out.w = w;
  out.c = in.c;
  out.px.resize(static_cast<size_t>(h) * w * in.c);
  resize_bilinear(in.px.data(), in.h, in.w, in.c, out.px.data(), h, w);
}

void flip(Image& img) {
  size_t c = img.c;
  for (uint32_t r = 0; r < img.h; ++r) {
    uint8_t* row = img.px.data() + static_cast<size_t>(r) * img.w * c;
    for (uint32_t a = 0, b = img.w - 1; a < b; ++a, --b)
      for (size_t k = 0; k < c; ++k) std::swap(row[a * c + k], row[b * c + k]);
  }
}

uint32_t channels_of(const Shape& s) { return s.size() == 3 ? static_cast<uint32_t>(s[2]) : 1; }

const char* op_name(OpKind k) {
  switch (k) {
    case OpKind::RandomResizedCrop:
      return "RandomResizedCrop";
    case OpKind::Resize:
      return "Resize";
    case OpKind::CenterCrop:
      return "CenterCrop";
    case OpKind::RandomHorizontalFlip:
      return "RandomHorizontalFlip";
    case OpKind::Normalize:
      return "Normalize";
    case OpKind::ToCHW:
      return "ToCHW";
  }
  return "?";
}

// An image of h x w x c bytes is about to be allocated for `step`: hold it to the cap first. (The
// message is built only when it fails: this runs several times per sample.)
void check_image(uint64_t h, uint64_t w, uint64_t c, size_t itemsize, const std::string& what, const char* step) {
  uint64_t n = 0;
  bool overflow = __builtin_mul_overflow(h, w, &n) || __builtin_mul_overflow(n, c, &n) ||
                  __builtin_mul_overflow(n, static_cast<uint64_t>(itemsize), &n);
  if (!overflow && n <= max_decoded_bytes()) return;
  check_decoded_size(Shape{h, w, c}, itemsize, what + " (" + step + ")");
}

void check_normalize(const ImageOp& op, uint32_t channels, const std::string& what) {
  if (op.mean.size() != 1 && op.mean.size() != channels)
    throw InvalidArgument(what + ": Normalize has " + std::to_string(op.mean.size()) +
                          " values of mean and std, the images have " + std::to_string(channels) + " channel" +
                          (channels == 1 ? "" : "s") + " (give one value, or one per channel)");
}

void convert_channels(Image& img, uint32_t want, Image& tmp) {
  if (want == 0 || img.c == want) return;
  tmp.h = img.h;
  tmp.w = img.w;
  tmp.c = want;
  size_t n = static_cast<size_t>(img.h) * img.w;
  tmp.px.resize(n * want);
  for (size_t p = 0; p < n; ++p) {
    const uint8_t* s = &img.px[p * img.c];
    uint8_t* d = &tmp.px[p * want];
    if (img.c == 1) {
      for (uint32_t k = 0; k < want; ++k) d[k] = s[0];
    } else if (want == 1) {
      d[0] = static_cast<uint8_t>((299 * s[0] + 587 * s[1] + 114 * s[2] + 500) / 1000);
    } else {
      for (uint32_t k = 0; k < want; ++k) d[k] = k < img.c ? s[k] : 255;
    }
  }
  std::swap(img, tmp);
}

// Decodes the whole image, at a reduced DCT scale when a later resize allows it.
void decode_full(Compression c, std::string_view stored, const Shape& shape, DType dt, uint32_t min_h, uint32_t min_w,
                 Image& img, const std::string& what) {
  uint32_t h = static_cast<uint32_t>(shape[0]), w = static_cast<uint32_t>(shape[1]), ch = channels_of(shape);
  check_image(h, w, ch, 1, what, "decoding");
  if (c == Compression::Jpeg && (ch == 1 || ch == 3) && min_h > 0) {
    img.px.resize(static_cast<size_t>(h) * w * ch);
    uint32_t ow = 0, oh = 0;
    jpeg_decode_region(stored, JpegRegion{0, 0, w, h}, min_w, min_h, ch, img.px.data(), ow, oh, what);
    img.h = oh;
    img.w = ow;
    img.c = ch;
    img.px.resize(static_cast<size_t>(oh) * ow * ch);
    return;
  }
  if (dt != DType::UInt8)
    throw InvalidArgument(what + ": image ops need uint8 images, the tensor is " + dtype_name(dt));
  img.h = h;
  img.w = w;
  img.c = ch;
  img.px.resize(static_cast<size_t>(h) * w * ch);
  decode_sample(c, stored, shape, dt, img.px.data(), what);
}

}  // namespace

ImagePipeline::ImagePipeline(std::vector<ImageOp> ops) : ops_(std::move(ops)) {
  for (size_t i = 0; i < ops_.size(); ++i) {
    const auto& op = ops_[i];
    bool sized = op.kind == OpKind::RandomResizedCrop || op.kind == OpKind::Resize || op.kind == OpKind::CenterCrop;
    if (sized) CHUTE_CHECK(op.height > 0 && op.width > 0, "image op sizes must be positive");
    if (op.kind == OpKind::RandomResizedCrop) {
      CHUTE_CHECK(op.scale_lo > 0 && op.scale_lo <= op.scale_hi && op.scale_hi <= 1.0,
                  "RandomResizedCrop scale must satisfy 0 < lo <= hi <= 1");
      CHUTE_CHECK(op.ratio_lo > 0 && op.ratio_lo <= op.ratio_hi, "RandomResizedCrop ratio must satisfy 0 < lo <= hi");
    }
    bool converts = op.kind == OpKind::Normalize || op.kind == OpKind::ToCHW;
    if (converts) CHUTE_CHECK(i + 1 == ops_.size(), "Normalize and ToCHW must be the last op");
    if (op.kind == OpKind::Normalize)
      CHUTE_CHECK(!op.mean.empty() && op.mean.size() == op.std.size(), "Normalize needs mean and std of equal length");
    for (float s : op.std) CHUTE_CHECK(s != 0.0f, "Normalize std must not be zero");
    // Whatever the channel count (at least one), a result this large cannot be allocated: say so
    // now rather than on every sample.
    if (sized) {
      size_t item = output_dtype() == DType::Float32 ? 4 : 1;
      if (decoded_bytes(Shape{op.height, op.width, 1}, item) > max_decoded_bytes())
        throw ResourceError(std::string(op_name(op.kind)) + "(" + std::to_string(op.height) + ", " +
                            std::to_string(op.width) + ") makes images of at least " +
                            bytes_str(decoded_bytes(Shape{op.height, op.width, 1}, item)) +
                            ", over the decoded-size cap of " + bytes_str(max_decoded_bytes()) +
                            " (set CHUTE_MAX_DECODED_BYTES to change it)");
    }
  }
}

void ImagePipeline::check_channels(uint32_t channels, const std::string& what) const {
  uint32_t c = channels_ ? channels_ : channels;
  if (c == 0) return;
  const ImageOp* last_sized = nullptr;
  for (const auto& op : ops_) {
    if (op.kind == OpKind::Normalize) check_normalize(op, c, what);
    if (op.kind == OpKind::RandomResizedCrop || op.kind == OpKind::Resize || op.kind == OpKind::CenterCrop) {
      check_image(op.height, op.width, c, 1, what, op_name(op.kind));
      last_sized = &op;
    }
  }
  if (last_sized && output_dtype() == DType::Float32)
    check_image(last_sized->height, last_sized->width, c, 4, what, "Normalize");
}

Shape ImagePipeline::output_shape(const Shape& in) const {
  if (in.size() < 2) return {};
  uint64_t h = in[0], w = in[1], c = channels_ ? channels_ : in.size() == 3 ? in[2] : 1;
  bool chw = false;
  for (const auto& op : ops_) {
    switch (op.kind) {
      case OpKind::RandomResizedCrop:
      case OpKind::Resize:
      case OpKind::CenterCrop:
        h = op.height;
        w = op.width;
        break;
      case OpKind::Normalize:
      case OpKind::ToCHW:
        chw = true;
        break;
      case OpKind::RandomHorizontalFlip:
        break;
    }
  }
  return chw ? Shape{c, h, w} : Shape{h, w, c};
}

bool ImagePipeline::fixed_size() const {
  return std::any_of(ops_.begin(), ops_.end(), [](const ImageOp& op) {
    return op.kind == OpKind::RandomResizedCrop || op.kind == OpKind::Resize || op.kind == OpKind::CenterCrop;
  });
}

DType ImagePipeline::output_dtype() const {
  return !ops_.empty() && ops_.back().kind == OpKind::Normalize ? DType::Float32 : DType::UInt8;
}

void random_resized_crop_box(uint32_t height, uint32_t width, const ImageOp& op, uint64_t key, uint32_t& y, uint32_t& x,
                             uint32_t& h, uint32_t& w) {
  Rng rng(key);
  double area = static_cast<double>(height) * width;
  double log_lo = std::log(op.ratio_lo), log_hi = std::log(op.ratio_hi);
  for (int attempt = 0; attempt < 10; ++attempt) {
    double target = area * rng.uniform(op.scale_lo, op.scale_hi);
    double aspect = std::exp(rng.uniform(log_lo, log_hi));
    long cw = std::lround(std::sqrt(target * aspect));
    long ch = std::lround(std::sqrt(target / aspect));
    if (cw > 0 && ch > 0 && cw <= static_cast<long>(width) && ch <= static_cast<long>(height)) {
      w = static_cast<uint32_t>(cw);
      h = static_cast<uint32_t>(ch);
      y = static_cast<uint32_t>(rng.below(height - h + 1));
      x = static_cast<uint32_t>(rng.below(width - w + 1));
      return;
    }
  }
  // Fallback: the largest centered crop within the ratio bounds (as torchvision).
  double in_ratio = static_cast<double>(width) / height;
  if (in_ratio < op.ratio_lo) {
    w = width;
    h = std::max<uint32_t>(1, static_cast<uint32_t>(std::lround(w / op.ratio_lo)));
  } else if (in_ratio > op.ratio_hi) {
    h = height;
    w = std::max<uint32_t>(1, static_cast<uint32_t>(std::lround(h * op.ratio_hi)));
  } else {
    w = width;
    h = height;
  }
  h = std::min(h, height);
  w = std::min(w, width);
  y = (height - h) / 2;
  x = (width - w) / 2;
}

namespace {

constexpr int kResizeBits = 11, kResizeOne = 1 << kResizeBits;

// One output row from a vertically blended row: each pixel interpolates two neighbours (C channels
// each) with its weight. Per pixel, not per channel, so the tables are read once for C values.
template <int C>
void resize_row(const int32_t* bl, const int32_t* px, const int32_t* wt, int32_t step, uint32_t dw, uint8_t* o) {
  constexpr int32_t kRound = 1 << (2 * kResizeBits - 1);
  for (uint32_t x = 0; x < dw; ++x, o += C) {
    const int32_t* p = bl + px[x];
    const int32_t w = wt[x];
    for (int k = 0; k < C; ++k) {
      int32_t a = p[k], b = p[k + step];
      o[k] = static_cast<uint8_t>(((a << kResizeBits) + (b - a) * w + kRound) >> (2 * kResizeBits));
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// resize_row<3> with AVX2, two pixels per step: a pixel's two neighbours are six consecutive
// blended values, so two 128-bit loads (at the pixel and three values on) line up a with b.
// Same arithmetic as the scalar loop, so the same bytes.
__attribute__((target("avx2"))) void resize_row3_avx2(const int32_t* bl, const int32_t* px, const int32_t* wt,
                                                      uint32_t dw, uint8_t* o) {
  const __m256i round = _mm256_set1_epi32(1 << (2 * kResizeBits - 1));
  uint32_t x = 0;
  for (; x + 2 <= dw; x += 2, o += 6) {
    const int32_t *p0 = bl + px[x], *p1 = bl + px[x + 1];
    __m256i a = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(p1), reinterpret_cast<const __m128i*>(p0));
    __m256i b = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(p1 + 3), reinterpret_cast<const __m128i*>(p0 + 3));
    __m256i w = _mm256_setr_m128i(_mm_set1_epi32(wt[x]), _mm_set1_epi32(wt[x + 1]));
    __m256i v = _mm256_add_epi32(_mm256_slli_epi32(a, kResizeBits), _mm256_mullo_epi32(_mm256_sub_epi32(b, a), w));
    v = _mm256_srai_epi32(_mm256_add_epi32(v, round), 2 * kResizeBits);
    __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
    __m128i bytes = _mm_packus_epi16(_mm_packs_epi32(lo, hi), _mm_setzero_si128());  // a0 a1 a2 _ b0 b1 b2 _
    uint64_t packed = static_cast<uint64_t>(_mm_cvtsi128_si64(bytes));
    uint32_t first = static_cast<uint32_t>(packed), second = static_cast<uint32_t>(packed >> 32);
    std::memcpy(o, &first, 3);
    std::memcpy(o + 3, &second, 3);
  }
  if (x < dw) resize_row<3>(bl, px + x, wt + x, 3, dw - x, o);
}

// The vertical pass, one source row pair into int32; the plain loop vectorizes 8 wide with AVX2.
__attribute__((target("avx2"))) void blend_rows_avx2(const uint8_t* r0, const uint8_t* r1, size_t n, int32_t wy,
                                                     int32_t* bl) {
  for (size_t q = 0; q < n; ++q) bl[q] = (static_cast<int32_t>(r0[q]) << kResizeBits) + (r1[q] - r0[q]) * wy;
}

bool has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes;
}
#endif

}  // namespace

void resize_bilinear(const uint8_t* src, uint32_t sh, uint32_t sw, uint32_t c, uint8_t* dst, uint32_t dh, uint32_t dw,
                     bool mirror, size_t src_stride) {
  // Separable fixed-point bilinear, vertical pass first: the two source rows are blended into an
  // int32 row (a contiguous, vectorizable loop; values < 2^19), then each output pixel
  // interpolates that row horizontally (< 2^31 before the final shift: no overflow).
  thread_local std::vector<int32_t> px, xw, blend;
  const size_t n = static_cast<size_t>(dw) * c, srow = static_cast<size_t>(sw) * c;
  px.resize(dw);
  xw.resize(dw);
  blend.resize(srow + c);
  const double sx = static_cast<double>(sw) / dw, sy = static_cast<double>(sh) / dh;
  for (uint32_t x = 0; x < dw; ++x) {
    double f = std::clamp((x + 0.5) * sx - 0.5, 0.0, static_cast<double>(sw - 1));
    int i = sw == 1 ? 0 : std::min(static_cast<int>(f), static_cast<int>(sw) - 2);
    uint32_t at = mirror ? dw - 1 - x : x;  // mirrored: output pixel dw-1-x samples where x would
    px[at] = static_cast<int32_t>(i * c);
    xw[at] = sw == 1 ? 0 : static_cast<int32_t>(std::lround((f - i) * kResizeOne));
  }
  const int32_t step = sw == 1 ? 0 : static_cast<int32_t>(c);
  for (uint32_t y = 0; y < dh; ++y) {
    double f = std::clamp((y + 0.5) * sy - 0.5, 0.0, static_cast<double>(sh - 1));
    int j = sh == 1 ? 0 : std::min(static_cast<int>(f), static_cast<int>(sh) - 2);
    int32_t wy = sh == 1 ? 0 : static_cast<int32_t>(std::lround((f - j) * kResizeOne));
    const size_t stride = src_stride ? src_stride : srow;
    const uint8_t* r0 = src + static_cast<size_t>(j) * stride;
    const uint8_t* r1 = sh == 1 ? r0 : r0 + stride;
    int32_t* bl = blend.data();
#if defined(__x86_64__) && defined(__GNUC__)
    if (has_avx2())
      blend_rows_avx2(r0, r1, srow, wy, bl);
    else
#endif
      for (size_t q = 0; q < srow; ++q) bl[q] = (static_cast<int32_t>(r0[q]) << kResizeBits) + (r1[q] - r0[q]) * wy;
    uint8_t* o = dst + static_cast<size_t>(y) * n;
    switch (c) {
      case 1:
        resize_row<1>(bl, px.data(), xw.data(), step, dw, o);
        break;
      case 3:
#if defined(__x86_64__) && defined(__GNUC__)
        if (step == 3 && has_avx2()) {
          resize_row3_avx2(bl, px.data(), xw.data(), dw, o);
          break;
        }
#endif
        resize_row<3>(bl, px.data(), xw.data(), step, dw, o);
        break;
      case 4:
        resize_row<4>(bl, px.data(), xw.data(), step, dw, o);
        break;
      default:
        for (uint32_t x = 0; x < dw; ++x)
          for (uint32_t k = 0; k < c; ++k) {
            int32_t a = bl[px[x] + k], b = bl[px[x] + k + step];
            o[x * c + k] = static_cast<uint8_t>(((a << kResizeBits) + (b - a) * xw[x] + (1 << (2 * kResizeBits - 1))) >>
                                                (2 * kResizeBits));
          }
    }
  }
}

void ImagePipeline::run(Compression c, std::string_view stored, const Shape& shape, DType dt, uint64_t seed,
                        uint64_t epoch, uint64_t index, uint8_t* out, const std::string& what) const {
  if (shape.size() != 3 && shape.size() != 2)
    throw InvalidArgument(what + ": image ops need HxWxC images, got shape " + shape_str(shape));
  thread_local Image a, b;
  for (uint64_t d : shape)
    if (d == 0 || d > UINT32_MAX)
      throw DecodeError(what + ": image ops cannot take an image of shape " + shape_str(shape));
  uint32_t H = static_cast<uint32_t>(shape[0]), W = static_cast<uint32_t>(shape[1]);
  size_t first = 0;
  if (!ops_.empty() && ops_[0].kind == OpKind::RandomResizedCrop) {
    const ImageOp& op = ops_[0];
    uint32_t y, x, h, w;
    random_resized_crop_box(H, W, op, mix_keys({seed, epoch, index, 0}), y, x, h, w);
    uint32_t ch = channels_ ? channels_ : channels_of(shape);
    // The crop: `a` holds rows of a.w pixels, the crop is `cw` of them starting at `left`.
    uint32_t left = 0, cw = 0;
    if (c == Compression::Jpeg && (ch == 1 || ch == 3)) {
      check_image(h, w, ch, 1, what, "RandomResizedCrop region");  // at full scale: an upper bound
      JpegRows rows;
      jpeg_decode_rows(stored, JpegRegion{x, y, w, h}, op.width, op.height, ch, a.px, rows, what);
      a.h = rows.height;
      a.w = rows.row_pixels;
      a.c = ch;
      left = rows.left;
      cw = rows.width;
    } else {
      decode_full(c, stored, shape, dt, 0, 0, b, what);
      if (channels_) check_image(b.h, b.w, channels_, 1, what, "channel conversion");
      convert_channels(b, channels_, a);
      crop(b, y, x, h, w, a);
      cw = a.w;
    }
    const uint8_t* crop_px = a.px.data() + static_cast<size_t>(left) * a.c;
    const size_t crop_stride = static_cast<size_t>(a.w) * a.c;
    // A RandomHorizontalFlip right after the crop is folded into the resize (mirrored tables), and
    // when nothing else follows, the resize writes straight into `out`.
    bool mirror = false;
    first = 1;
    if (ops_.size() > 1 && ops_[1].kind == OpKind::RandomHorizontalFlip) {
      Rng rng(mix_keys({seed, epoch, index, 1}));
      mirror = rng.uniform() < ops_[1].p;
      first = 2;
    }
    if (first == ops_.size() && (channels_ == 0 || channels_ == a.c)) {
      resize_bilinear(crop_px, a.h, cw, a.c, out, op.height, op.width, mirror, crop_stride);
      return;
    }
    check_image(op.height, op.width, a.c, 1, what, "RandomResizedCrop");
    b.h = op.height;
    b.w = op.width;
    b.c = a.c;
    b.px.resize(static_cast<size_t>(b.h) * b.w * b.c);
    resize_bilinear(crop_px, a.h, cw, a.c, b.px.data(), b.h, b.w, mirror, crop_stride);
    std::swap(a, b);
  } else {
    uint32_t min_h = 0, min_w = 0;
    if (!ops_.empty() && ops_[0].kind == OpKind::Resize) {
      min_h = ops_[0].height;
      min_w = ops_[0].width;
    }
    decode_full(c, stored, shape, dt, min_h, min_w, a, what);
  }
  if (channels_) check_image(a.h, a.w, channels_, 1, what, "channel conversion");
  convert_channels(a, channels_, b);
  for (size_t i = first; i < ops_.size(); ++i) {
    const ImageOp& op = ops_[i];
    switch (op.kind) {
      case OpKind::RandomResizedCrop: {
        uint32_t y, x, h, w;
        random_resized_crop_box(a.h, a.w, op, mix_keys({seed, epoch, index, i}), y, x, h, w);
        check_image(op.height, op.width, a.c, 1, what, "RandomResizedCrop");
        crop(a, y, x, h, w, b);
        resize(b, op.height, op.width, a);
        break;
      }
      case OpKind::Resize:
        if (a.h != op.height || a.w != op.width) {
          check_image(op.height, op.width, a.c, 1, what, "Resize");
          resize(a, op.height, op.width, b);
          std::swap(a, b);
        }
        break;
      case OpKind::CenterCrop: {
        if (a.h < op.height || a.w < op.width) {
          // Smaller than the crop: scale up first so the crop is always filled.
          double s = std::max(static_cast<double>(op.height) / a.h, static_cast<double>(op.width) / a.w);
          // A long thin image scales up a long way: the intermediate, not the crop, is the big one.
          double uh = std::max<double>(op.height, std::ceil(a.h * s)),
                 uw = std::max<double>(op.width, std::ceil(a.w * s));
          if (uh * uw * a.c > static_cast<double>(max_decoded_bytes()) || uh > UINT32_MAX || uw > UINT32_MAX)
            throw ResourceError(what + ": CenterCrop(" + std::to_string(op.height) + ", " + std::to_string(op.width) +
                                ") of a " + std::to_string(a.h) + "x" + std::to_string(a.w) +
                                " image scales it up to " + std::to_string(static_cast<uint64_t>(uh)) + "x" +
                                std::to_string(static_cast<uint64_t>(uw)) + " first, over the decoded-size cap of " +
                                bytes_str(max_decoded_bytes()));
          resize(a, static_cast<uint32_t>(uh), static_cast<uint32_t>(uw), b);
          std::swap(a, b);
        }
        crop(a, (a.h - op.height) / 2, (a.w - op.width) / 2, op.height, op.width, b);
        std::swap(a, b);
        break;
      }
      case OpKind::RandomHorizontalFlip: {
        Rng rng(mix_keys({seed, epoch, index, i}));
        if (rng.uniform() < op.p) flip(a);
        break;
      }
      case OpKind::ToCHW: {
        size_t plane = static_cast<size_t>(a.h) * a.w;
        for (size_t k = 0; k < a.c; ++k)
          for (size_t p = 0; p < plane; ++p) out[k * plane + p] = a.px[p * a.c + k];
        return;
      }
      case OpKind::Normalize: {
        // One pass over the interleaved pixels, writing each channel's plane (no strided reads).
        size_t plane = static_cast<size_t>(a.h) * a.w;
        check_normalize(op, a.c, what);
        float* f = reinterpret_cast<float*>(out);
        thread_local std::vector<float> scale, bias;
        scale.resize(a.c);
        bias.resize(a.c);
        for (size_t k = 0; k < a.c; ++k) {
          float m = op.mean[op.mean.size() == 1 ? 0 : k], sd = op.std[op.std.size() == 1 ? 0 : k];
          scale[k] = 1.0f / (255.0f * sd);
          bias[k] = -m / sd;
        }
        if (a.c == 3) {
          float *f0 = f, *f1 = f + plane, *f2 = f + 2 * plane;
          const uint8_t* px = a.px.data();
          for (size_t p = 0; p < plane; ++p) {
            f0[p] = px[3 * p] * scale[0] + bias[0];
            f1[p] = px[3 * p + 1] * scale[1] + bias[1];
            f2[p] = px[3 * p + 2] * scale[2] + bias[2];
          }
        } else {
          for (size_t k = 0; k < a.c; ++k) {
            float sc = scale[k], bi = bias[k];
            for (size_t p = 0; p < plane; ++p) f[k * plane + p] = a.px[p * a.c + k] * sc + bi;
          }
        }
        return;
      }
    }
  }
  std::memcpy(out, a.px.data(), static_cast<size_t>(a.h) * a.w * a.c);
}

}  // namespace chute
