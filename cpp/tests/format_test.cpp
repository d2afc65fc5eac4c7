#include <gtest/gtest.h>

#include "chute/codec/image.h"
#include "chute/codec/lz4.h"
#include "chute/core/error.h"
#include "chute/format/chunk.h"
#include "chute/format/encoders.h"

using namespace chute;

TEST(Chunk, RoundTripRunLengthTables) {
  Chunk c;
  c.append("aaaa", {2, 2});
  c.append("bbbb", {2, 2});
  c.append("cc", {1, 2});
  std::string file = c.serialize(Compression::None);
  Chunk p = Chunk::parse(file, Compression::None, "test");
  ASSERT_EQ(p.num_samples(), 3u);
  EXPECT_EQ(p.bytes(0), "aaaa");
  EXPECT_EQ(p.bytes(1), "bbbb");
  EXPECT_EQ(p.bytes(2), "cc");
  EXPECT_EQ(p.shape(1), (Shape{2, 2}));
  EXPECT_EQ(p.shape(2), (Shape{1, 2}));
  // header: u8 len + "3.9.52" + 2*i32 + 2 shape rows of 3 u32 + u32 + 2 byte rows of 3 u32
  EXPECT_EQ(file.size(), 1 + 6 + 8 + 24 + 4 + 24 + 10);
}

TEST(Chunk, Lz4ChunkCompression) {
  Chunk c;
  std::string big(100000, 'x');
  c.append(big, {100000});
  c.append(big, {100000});
  std::string file = c.serialize(Compression::Lz4);
  EXPECT_LT(file.size(), 10000u);
  Chunk p = Chunk::parse(file, Compression::Lz4, "test");
  EXPECT_EQ(p.bytes(1), big);
}

TEST(Chunk, TruncatedFileIsAFormatError) {
  Chunk c;
  c.append("abcdef", {6});
  std::string file = c.serialize(Compression::None);
  for (size_t cut = 0; cut < file.size(); ++cut) {
    EXPECT_THROW(Chunk::parse(file.substr(0, cut), Compression::None, "cut"), FormatError) << cut;
  }
}

TEST(Chunk, GarbageNeverCrashes) {
  std::string junk =
      "\x06"
      "3.9.52"
      "\xff\xff\xff\x7f\x02\x00\x00\x00";
  EXPECT_THROW(Chunk::parse(junk, Compression::None, "junk"), FormatError);
}

TEST(ChunkIdEncoder, LocatesSamplesAndTiles) {
  ChunkIdEncoder e;
  e.add_row(11, 4);  // samples 0-4
  e.add_row(12, 5);  // sample 5, tile 1
  e.add_row(13, 5);  // sample 5, tile 2
  e.add_row(14, 9);  // samples 6-9
  auto parsed = ChunkIdEncoder::parse(e.serialize(), "enc");
  EXPECT_EQ(parsed.num_samples(), 10u);
  auto l = parsed.locate(3);
  EXPECT_EQ(l.first_row, 0u);
  EXPECT_EQ(l.local_index, 3u);
  l = parsed.locate(5);
  EXPECT_EQ(l.first_row, 1u);
  EXPECT_EQ(l.num_rows, 2u);
  l = parsed.locate(7);
  EXPECT_EQ(l.first_row, 3u);
  EXPECT_EQ(l.local_index, 1u);
  EXPECT_THROW(parsed.locate(10), InvalidArgument);
}

TEST(TileEncoder, EmptyIsJustACount) {
  TileEncoder t;
  EXPECT_EQ(t.serialize().size(), 1u + 6u + 8u);
  t.add(3, TileLayout{{100, 90}, {25, 23}});
  auto p = TileEncoder::parse(t.serialize(), "tiles");
  ASSERT_NE(p.find(3), nullptr);
  EXPECT_EQ(p.find(3)->grid(), (Shape{4, 4}));
}

TEST(ChunkName, LowerHexUnpadded) { EXPECT_EQ(chunk_name(0x04caf15e856c43fbULL), "4caf15e856c43fb"); }

TEST(Image, PngRoundTripIsExact) {
  std::vector<uint8_t> px(7 * 5 * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 37);
  std::string png = png_encode(px.data(), 7, 5, 3);
  auto info = png_info(png, "png");
  EXPECT_EQ(info.shape(), (Shape{7, 5, 3}));
  std::vector<uint8_t> out(px.size());
  png_decode(png, out.data(), 7, 5, 3, "png");
  EXPECT_EQ(out, px);
}

TEST(Image, TruncatedJpegIsADecodeError) {
  std::vector<uint8_t> px(64 * 64 * 3, 128);
  std::string jpg = jpeg_encode(px.data(), 64, 64, 3, 90);
  std::vector<uint8_t> out(px.size());
  jpeg_decode(jpg, out.data(), 64, 64, 3, "ok");
  EXPECT_THROW(jpeg_decode(jpg.substr(0, jpg.size() / 2), out.data(), 64, 64, 3, "cut"), DecodeError);
  EXPECT_THROW(jpeg_info("not a jpeg", "junk"), DecodeError);
}

TEST(Lz4, CorruptFrameIsADecodeError) {
  std::string f = lz4_compress(std::string(1000, 'a'));
  EXPECT_EQ(lz4_decompress(f, "ok"), std::string(1000, 'a'));
  f[f.size() / 2] ^= 0x55;
  f.resize(f.size() - 3);
  EXPECT_THROW(lz4_decompress(f, "bad"), DecodeError);
}
