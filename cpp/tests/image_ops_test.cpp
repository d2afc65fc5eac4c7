// The bilinear resize against a direct per-pixel evaluation of the same fixed-point formula, for
// the sizes and channel counts that take different code paths (AVX2 for 3 channels, odd widths,
// one-pixel sources).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "chute/ops/image_ops.h"

using namespace chute;

namespace {

std::vector<uint8_t> reference(const std::vector<uint8_t>& src, uint32_t sh, uint32_t sw, uint32_t c, uint32_t dh, uint32_t dw) {
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
        auto px = [&](uint32_t r, uint32_t col) { return static_cast<int32_t>(src[(static_cast<size_t>(r) * sw + col) * c + k]); };
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
          ASSERT_EQ(got[(static_cast<size_t>(y) * t.dw + x) * t.c + k], want[(static_cast<size_t>(y) * t.dw + (t.dw - 1 - x)) * t.c + k]);
  }
}
