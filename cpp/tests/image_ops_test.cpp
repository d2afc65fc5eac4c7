// The bilinear resize against a direct per-pixel evaluation of the same fixed-point formula, for
// the sizes and channel counts that take different code paths (AVX2 for 3 channels, odd widths,
// one-pixel sources).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "chute/codec/limits.h"
#include "chute/codec/sample.h"
#include "chute/core/error.h"
#include "chute/ops/image_ops.h"
#include "test_util.h"

using namespace chute;

namespace {

std::vector<uint8_t> reference(const std::vector<uint8_t>& src, uint32_t sh, uint32_t sw, uint32_t c, uint32_t dh,
                               uint32_t dw) {
  constexpr int kBits = 11;
  auto coord = [](uint32_t d, uint32_t n, uint32_t s, int& i, int32_t& w) {
    double f = std::clamp((d + 0.5) * (static_cast<double>(s) / n) - 0.5, 0.0, static_cast<double>(s - 1));
    i = s == 1 ? 0 : std::min(static_cast<int>(f), static_cast<int>(s) - 2);
    w = s == 1 ? 0 : static_cast<int32_t>(std::lround((f - i) * (1 << kBits)));
  };
  std::vector<uint8_t> out(static_cast<size_t>(dh) * dw * c);
  for (uint32_t y = 0; y < dh; ++y) {
    int j;
    int32_t wy;
    coord(y, dh, sh, j, wy);
    uint32_t j1 = sh == 1 ? j : j + 1;
    for (uint32_t x = 0; x < dw; ++x) {
      int i;
      int32_t wx;
      coord(x, dw, sw, i, wx);
      uint32_t i1 = sw == 1 ? i : i + 1;
      for (uint32_t k = 0; k < c; ++k) {
        auto px = [&](uint32_t r, uint32_t col) {
          return static_cast<int32_t>(src[(static_cast<size_t>(r) * sw + col) * c + k]);
        };
        int32_t a = (px(j, i) << kBits) + (px(j1, i) - px(j, i)) * wy;
        int32_t b = (px(j, i1) << kBits) + (px(j1, i1) - px(j, i1)) * wy;
        out[(static_cast<size_t>(y) * dw + x) * c + k] =
            static_cast<uint8_t>(((a << kBits) + (b - a) * wx + (1 << (2 * kBits - 1))) >> (2 * kBits));
      }
    }
  }
  return out;
}

}  // namespace

TEST(Resize, EqualsTheFixedPointFormulaOnEveryPath) {
  std::mt19937 rng(1);
  struct Case {
    uint32_t sh, sw, c, dh, dw;
  };
  for (Case t : {Case{70, 90, 3, 17, 23}, Case{300, 451, 3, 224, 224}, Case{5, 1, 3, 7, 3}, Case{1, 9, 3, 2, 5},
                 Case{33, 47, 1, 20, 31}, Case{40, 40, 4, 57, 13}, Case{64, 64, 3, 64, 64}, Case{10, 12, 2, 7, 9}}) {
    std::vector<uint8_t> src(static_cast<size_t>(t.sh) * t.sw * t.c);
    for (auto& v : src) v = static_cast<uint8_t>(rng());
    std::vector<uint8_t> got(static_cast<size_t>(t.dh) * t.dw * t.c);
    resize_bilinear(src.data(), t.sh, t.sw, t.c, got.data(), t.dh, t.dw);
    auto want = reference(src, t.sh, t.sw, t.c, t.dh, t.dw);
    EXPECT_EQ(got, want) << t.sh << "x" << t.sw << "x" << t.c << " -> " << t.dh << "x" << t.dw;
    // mirror: the same bytes as flipping the result left to right
    resize_bilinear(src.data(), t.sh, t.sw, t.c, got.data(), t.dh, t.dw, true);
    for (uint32_t y = 0; y < t.dh; ++y)
      for (uint32_t x = 0; x < t.dw; ++x)
        for (uint32_t k = 0; k < t.c; ++k)
          ASSERT_EQ(got[(static_cast<size_t>(y) * t.dw + x) * t.c + k],
                    want[(static_cast<size_t>(y) * t.dw + (t.dw - 1 - x)) * t.c + k]);
  }
}

// ---- bad sizes and channel counts ----

namespace {

struct CapGuard {
  explicit CapGuard(uint64_t bytes) { set_max_decoded_bytes(bytes); }
  ~CapGuard() { set_max_decoded_bytes(0); }
};

ImageOp sized(OpKind k, uint32_t h, uint32_t w) {
  ImageOp op{k};
  op.height = h;
  op.width = w;
  return op;
}

ImageOp normalize(size_t n) {
  ImageOp op{OpKind::Normalize};
  op.mean.assign(n, 0.5f);
  op.std.assign(n, 0.25f);
  return op;
}

std::string raw_image(uint32_t h, uint32_t w, uint32_t c) {
  std::string s(static_cast<size_t>(h) * w * c, '\0');
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(i * 7);
  return s;
}

}  // namespace

TEST(ImagePipelineChecks, NormalizeNeedsOneValueOrOnePerChannel) {
  for (size_t n : {2u, 4u}) {
    ImagePipeline p({sized(OpKind::Resize, 8, 8), normalize(n)});
    try {
      p.check_channels(3, "tensor 'images'");
      FAIL() << n << " values accepted for 3 channels";
    } catch (const InvalidArgument& e) {
      std::string m = e.what();
      EXPECT_NE(m.find("tensor 'images'"), std::string::npos) << m;
      EXPECT_NE(m.find(std::to_string(n) + " values"), std::string::npos) << m;
      EXPECT_NE(m.find("3 channels"), std::string::npos) << m;
    }
    // Channel count unknown up front: the first sample says it, naming tensor and index.
    std::string img = raw_image(10, 12, 3);
    std::vector<float> out(3 * 8 * 8);
    try {
      p.run(Compression::None, img, {10, 12, 3}, DType::UInt8, 0, 0, 5, reinterpret_cast<uint8_t*>(out.data()),
            "tensor 'images' index 5");
      FAIL() << "run accepted " << n << " values";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("tensor 'images' index 5"), std::string::npos) << e.what();
    }
  }
  for (size_t n : {1u, 3u}) {
    ImagePipeline p({sized(OpKind::Resize, 8, 8), normalize(n)});
    EXPECT_NO_THROW(p.check_channels(3, "t"));
    std::string img = raw_image(10, 12, 3);
    std::vector<float> out(3 * 8 * 8);
    p.run(Compression::None, img, {10, 12, 3}, DType::UInt8, 0, 0, 0, reinterpret_cast<uint8_t*>(out.data()), "t");
  }
  // Four channels with four values: every channel gets its own (the old code had room for 4 only).
  ImageOp four = normalize(4);
  four.mean = {0.f, 0.f, 0.f, 1.f};
  four.std = {1.f, 1.f, 1.f, 1.f};
  ImagePipeline p4({four});
  std::string img(2 * 2 * 4, static_cast<char>(255));
  std::vector<float> out(16);
  p4.run(Compression::None, img, {2, 2, 4}, DType::UInt8, 0, 0, 0, reinterpret_cast<uint8_t*>(out.data()), "t");
  EXPECT_FLOAT_EQ(out[0], 1.f);
  EXPECT_FLOAT_EQ(out[12], 0.f);
}

TEST(ImagePipelineChecks, OpSizesOverTheCapAreRefusedBeforeAllocating) {
  CapGuard cap(1 << 20);  // 1 MiB
  // At least 2000 x 2000 x 1 bytes whatever the channels: refused when the ops are built.
  EXPECT_THROW(ImagePipeline({sized(OpKind::Resize, 2000, 2000)}), ResourceError);
  EXPECT_THROW(ImagePipeline({sized(OpKind::RandomResizedCrop, 2000, 2000)}), ResourceError);
  EXPECT_THROW(ImagePipeline({sized(OpKind::CenterCrop, 2000, 2000)}), ResourceError);
  // 600 x 600 x 1 fits, x 3 does not: known channels refuse it up front...
  ImagePipeline p({sized(OpKind::Resize, 600, 600)});
  EXPECT_NO_THROW(p.check_channels(1, "t"));
  EXPECT_THROW(p.check_channels(3, "tensor 'images'"), ResourceError);
  // ...unknown channels refuse it on the sample, before the resize allocates.
  std::string img = raw_image(10, 10, 3);
  uint8_t one = 0;
  EXPECT_THROW(p.run(Compression::None, img, {10, 10, 3}, DType::UInt8, 0, 0, 0, &one, "t"), ResourceError);
  // A stored shape over the cap is refused before decoding.
  ImagePipeline flip({ImageOp{OpKind::RandomHorizontalFlip}});
  EXPECT_THROW(flip.run(Compression::None, img, {1000, 1000, 3}, DType::UInt8, 0, 0, 0, &one, "t"), ResourceError);
}

TEST(ImagePipelineChecks, CenterCropOfAThinImageDoesNotScaleUpPastTheCap) {
  CapGuard cap(1 << 20);
  // 1 x 400 up to a 300 x 300 crop first scales to 300 x 120000: 108 MB.
  ImagePipeline p({sized(OpKind::CenterCrop, 300, 300)});
  std::string img = raw_image(1, 400, 3);
  std::vector<uint8_t> out(300 * 300 * 3);
  try {
    p.run(Compression::None, img, {1, 400, 3}, DType::UInt8, 0, 0, 7, out.data(), "tensor 'images' index 7");
    FAIL() << "no error";
  } catch (const ResourceError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'images' index 7"), std::string::npos) << e.what();
  }
}

TEST(ImagePipelineChecks, CmykJpegsDecodeToRgbThroughTheRegionDecoder) {
  const uint32_t h = 64, w = 48;
  std::string jpg = test_util::cmyk_jpeg(h, w);
  ASSERT_FALSE(jpg.empty());
  const int want[3] = {220 * 200 / 255, 220 * 100 / 255, 220 * 50 / 255};
  ImageOp rrc = sized(OpKind::RandomResizedCrop, 16, 16);
  for (ImagePipeline p :
       {ImagePipeline({sized(OpKind::Resize, 16, 16)}), ImagePipeline({rrc}),
        ImagePipeline({rrc, ImageOp{OpKind::RandomHorizontalFlip}, sized(OpKind::CenterCrop, 8, 8)})}) {
    p.set_channels(3);
    Shape out_shape = p.output_shape({h, w, 3});
    std::vector<uint8_t> out(num_elements(out_shape));
    p.run(Compression::Jpeg, jpg, {h, w, 3}, DType::UInt8, 1, 0, 3, out.data(), "cmyk");
    for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], want[i % 3], 3) << i;
  }
}
