// Bad bytes and absurd sizes in the codecs: headers that claim more than the decoded-size cap,
// shapes whose byte count overflows, JPEGs that are a start marker and junk, CMYK JPEGs.
#include <gtest/gtest.h>

#include <turbojpeg.h>

#include <cstring>
#include <string>
#include <vector>

#include "chute/codec/image.h"
#include "chute/codec/limits.h"
#include "chute/codec/lz4.h"
#include "chute/codec/sample.h"
#include "chute/core/error.h"
#include "test_util.h"

using namespace chute;

namespace {

// Restores the process-wide cap when a test that lowered it ends, pass or fail.
struct CapGuard {
  explicit CapGuard(uint64_t bytes) { set_max_decoded_bytes(bytes); }
  ~CapGuard() { set_max_decoded_bytes(0); }
};

uint32_t crc32(const std::string& s) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

void put_be32(std::string& s, uint32_t v) {
  for (int k = 3; k >= 0; --k) s.push_back(static_cast<char>((v >> (8 * k)) & 0xFF));
}

std::string png_chunk(const std::string& type, const std::string& data) {
  std::string out;
  put_be32(out, static_cast<uint32_t>(data.size()));
  std::string body = type + data;
  out += body;
  put_be32(out, crc32(body));
  return out;
}

// A well-formed PNG header claiming width x height RGB, with a token IDAT: what an adversary sends.
std::string png_claiming(uint32_t width, uint32_t height) {
  std::string ihdr;
  put_be32(ihdr, width);
  put_be32(ihdr, height);
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit RGB, deflate, no filter, no interlace
  std::string idat("\x78\x9c\x03\x00\x00\x00\x00\x01", 8);
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) + png_chunk("IDAT", idat) +
         png_chunk("IEND", "");
}

}  // namespace

TEST(DecodedSize, OverflowingShapesSaturate) {
  EXPECT_EQ(decoded_bytes({2, 3, 4}, 4), 96u);
  EXPECT_EQ(decoded_bytes({0, uint64_t{1} << 62}, 8), 0u);
  EXPECT_EQ(decoded_bytes({uint64_t{1} << 32, uint64_t{1} << 32, 2}, 1), UINT64_MAX);
  try {
    check_decoded_size({uint64_t{1} << 32, uint64_t{1} << 32, 2}, DType::UInt8, "tensor 'x' index 3");
    FAIL() << "no error";
  } catch (const ResourceError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'x' index 3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("more than 2^64 bytes"), std::string::npos) << e.what();
  }
}

TEST(DecodedSize, CapIsConfigurable) {
  EXPECT_GT(max_decoded_bytes(), uint64_t{64} << 20);
  EXPECT_LE(max_decoded_bytes(), uint64_t{4} << 30);
  {
    CapGuard cap(1000);
    EXPECT_EQ(max_decoded_bytes(), 1000u);
    EXPECT_NO_THROW(check_decoded_size({10, 10, 10}, DType::UInt8, "ok"));
    EXPECT_THROW(check_decoded_size({10, 10, 11}, DType::UInt8, "over"), ResourceError);
    EXPECT_THROW(check_decoded_size({10, 10, 10}, DType::Float32, "over"), ResourceError);
  }
  EXPECT_GT(max_decoded_bytes(), 1000u);
}

TEST(DecodedSize, PngClaimingHugeSizeIsRefusedBeforeDecoding) {
  std::string png = png_claiming(200000, 200000);
  // The header is valid, so its shape can be stored (append never decodes a same-compression file)...
  EXPECT_EQ(compressed_image_shape(Compression::Png, png, "png"), (Shape{200000, 200000, 3}));
  // ...but decoding it is refused before a byte is written (out points at one byte on purpose).
  uint8_t one = 0;
  try {
    decode_sample(Compression::Png, png, {200000, 200000, 3}, DType::UInt8, &one, "tensor 'images' index 0");
    FAIL() << "no error";
  } catch (const ResourceError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("tensor 'images' index 0"), std::string::npos) << m;
    EXPECT_NE(m.find("(200000, 200000, 3)"), std::string::npos) << m;
    EXPECT_NE(m.find("111.8 GiB"), std::string::npos) << m;
  }
  EXPECT_THROW(png_decode(png, &one, 200000, 200000, 3, "png"), ResourceError);
}

TEST(DecodedSize, JpegClaimingHugeSizeIsRefusedBeforeDecoding) {
  std::vector<uint8_t> px(16 * 16 * 3, 77);
  std::string jpg = jpeg_encode(px.data(), 16, 16, 3, 90);
  // Patch the SOF0 frame's height and width to 65000 x 65000.
  size_t sof = jpg.find(std::string("\xFF\xC0", 2));
  ASSERT_NE(sof, std::string::npos);
  jpg[sof + 5] = jpg[sof + 7] = static_cast<char>(0xFD);
  jpg[sof + 6] = jpg[sof + 8] = static_cast<char>(0xE8);
  EXPECT_EQ(jpeg_info(jpg, "jpg").shape(), (Shape{65000, 65000, 3}));
  uint8_t one = 0;
  EXPECT_THROW(decode_sample(Compression::Jpeg, jpg, {65000, 65000, 3}, DType::UInt8, &one, "j"), ResourceError);
  EXPECT_THROW(jpeg_decode(jpg, &one, 65000, 65000, 3, "j"), ResourceError);
}

TEST(DecodedSize, ZstdFrameClaimingMoreThanTheCapIsRefused) {
  std::string raw(100000, 'z');
  std::string frame = zstd_compress(raw, 3);
  EXPECT_EQ(zstd_decompress(frame, "ok"), raw);
  CapGuard cap(50000);
  EXPECT_THROW(zstd_decompress(frame, "chunk"), ResourceError);
}

TEST(DecodedSize, Lz4DataClaimingMoreThanTheCapIsRefused) {
  std::string raw(100000, 'z');
  std::string block = lz4_compress(raw);
  EXPECT_EQ(lz4_decompress(block, "ok"), raw);
  CapGuard cap(50000);
  EXPECT_THROW(lz4_decompress(block, "chunk"), ResourceError);
}

TEST(DecodedSize, ShapesPastThirtyTwoBitsAreNotTruncated) {
  std::vector<uint8_t> px(4 * 4 * 3, 1);
  std::string png = png_encode(px.data(), 4, 4, 3);
  uint8_t one = 0;
  // 2^32 + 4 would cast to 4 and match the header.
  EXPECT_THROW(decode_sample(Compression::Png, png, {(uint64_t{1} << 32) + 4, 4, 3}, DType::UInt8, &one, "p"), Error);
}

TEST(DecodedSize, ImageSamplesMustBeUint8) {
  std::vector<uint8_t> px(4 * 4 * 3, 1);
  std::string png = png_encode(px.data(), 4, 4, 3);
  std::vector<float> out(4 * 4 * 3);
  EXPECT_THROW(
      decode_sample(Compression::Png, png, {4, 4, 3}, DType::Float32, reinterpret_cast<uint8_t*>(out.data()), "p"),
      FormatError);
}

TEST(JpegHeader, StartMarkerFollowedByJunkIsRefused) {
  std::string junk("\xFF\xD8\xFF", 3);
  for (int i = 0; i < 200; ++i) junk.push_back(static_cast<char>((i * 131 + 7) & 0xFF));
  EXPECT_THROW(jpeg_info(junk, "junk"), DecodeError);
  EXPECT_THROW(compressed_image_shape(Compression::Jpeg, junk, "junk"), DecodeError);
  EXPECT_THROW(jpeg_info(std::string("\xFF\xD8\xFF", 3), "marker only"), DecodeError);
  EXPECT_THROW(jpeg_info(std::string("\xFF\xD8\xFF\xD9", 4), "SOI EOI"), DecodeError);
  // A failed header read must not poison this thread's decompressor for the next, valid file.
  std::vector<uint8_t> px(8 * 8 * 3, 50);
  std::string good = jpeg_encode(px.data(), 8, 8, 3, 90);
  for (int i = 0; i < 3; ++i) {
    EXPECT_THROW(jpeg_info(junk, "junk"), DecodeError);
    EXPECT_EQ(jpeg_info(good, "good").shape(), (Shape{8, 8, 3}));
    std::vector<uint8_t> out(px.size());
    EXPECT_THROW(jpeg_decode(junk, out.data(), 8, 8, 3, "junk"), DecodeError);
    jpeg_decode(good, out.data(), 8, 8, 3, "good");
    EXPECT_NEAR(out[0], 50, 2);
  }
}

TEST(JpegCmyk, DecodesToRgbAsAdobeInvertedCmyk) {
  // TurboJPEG writes CMYK as YCCK with an Adobe marker; values are stored inverted (255: no ink).
  const uint32_t h = 16, w = 24;
  std::string jpg = test_util::cmyk_jpeg(h, w);
  ASSERT_FALSE(jpg.empty());

  ImageInfo info = jpeg_info(jpg, "cmyk");
  EXPECT_TRUE(info.cmyk);
  EXPECT_EQ(info.shape(), (Shape{h, w, 3}));
  EXPECT_TRUE(image_needs_conversion(Compression::Jpeg, jpg, "cmyk"));
  std::vector<uint8_t> rgb(h * w * 3);
  decode_sample(Compression::Jpeg, jpg, {h, w, 3}, DType::UInt8, rgb.data(), "cmyk");
  // r = k * c / 255 on the stored values
  const int want[3] = {220 * 200 / 255, 220 * 100 / 255, 220 * 50 / 255};
  for (size_t p = 0; p < h * w; ++p)
    for (int k = 0; k < 3; ++k) ASSERT_NEAR(rgb[3 * p + k], want[k], 3) << "pixel " << p << " channel " << k;
  std::vector<uint8_t> gray(h * w);
  decode_sample(Compression::Jpeg, jpg, {h, w, 1}, DType::UInt8, gray.data(), "cmyk");
  EXPECT_NEAR(gray[0], (299 * want[0] + 587 * want[1] + 114 * want[2]) / 1000, 3);

  std::vector<uint8_t> px(8 * 8 * 3, 9);
  EXPECT_FALSE(image_needs_conversion(Compression::Jpeg, jpeg_encode(px.data(), 8, 8, 3, 90), "rgb"));
  EXPECT_FALSE(image_needs_conversion(Compression::Png, png_encode(px.data(), 8, 8, 3), "png"));
}
