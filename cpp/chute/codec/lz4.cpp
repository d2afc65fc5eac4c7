#include "chute/codec/lz4.h"

#include <lz4.h>

#include <zstd.h>
#include <cstring>

#include <memory>

#include "chute/codec/limits.h"
#include "chute/core/error.h"

namespace chute {
std::string lz4_compress(std::string_view raw) {
  if (raw.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE))
    throw InvalidArgument("sample too large for lz4 (" + std::to_string(raw.size()) + " bytes)");
  int bound = LZ4_compressBound(static_cast<int>(raw.size()));
  std::string out(4 + static_cast<size_t>(bound), '\0');
  uint32_t n = static_cast<uint32_t>(raw.size());
  std::memcpy(out.data(), &n, 4);
  int written = LZ4_compress_default(raw.data(), out.data() + 4, static_cast<int>(raw.size()), bound);
  if (written <= 0 && !raw.empty()) throw Error("lz4 compression failed");
  out.resize(4 + static_cast<size_t>(written));
  return out;
}

std::string lz4_decompress(std::string_view block, const std::string& what) {
  if (block.size() < 4) throw DecodeError(what + ": lz4 data shorter than its 4-byte size prefix");
  uint32_t n;
  std::memcpy(&n, block.data(), 4);
  // LZ4 cannot expand more than ~255x: a larger claimed size is corruption, not a reason to allocate.
  if (n > 255 * (block.size() - 4) + 64)
    throw DecodeError(what + ": corrupt lz4 data (claims " + std::to_string(n) + " bytes)");
  check_decoded_size(Shape{n}, 1, what + " (lz4 data)");
  std::string out(n, '\0');
  int got = LZ4_decompress_safe(block.data() + 4, out.data(), static_cast<int>(block.size() - 4), static_cast<int>(n));
  if (got < 0 || static_cast<uint32_t>(got) != n) throw DecodeError(what + ": corrupt lz4 data");
  return out;
}

std::string zstd_compress(std::string_view raw, int level) {
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), level);
  if (ZSTD_isError(n)) throw Error(std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

std::string zstd_decompress(std::string_view frame, const std::string& what) {
  unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN)
    throw DecodeError(what + ": not a zstd frame with a known size");
  // The frame header's claim, not yet backed by any data: hold it to the decoded-size cap.
  check_decoded_size(Shape{size}, 1, what + " (zstd frame)");
  std::string out(size, '\0');
  size_t n = ZSTD_decompress(out.data(), out.size(), frame.data(), frame.size());
  if (ZSTD_isError(n)) throw DecodeError(what + ": corrupt zstd data (" + ZSTD_getErrorName(n) + ")");
  out.resize(n);
  return out;
}

}  // namespace chute
