#include "chute/codec/lz4.h"

#include <lz4frame.h>
#include <zstd.h>

#include <memory>

#include "chute/core/error.h"

namespace chute {
namespace {
struct DctxDeleter {
  void operator()(LZ4F_dctx* d) const { LZ4F_freeDecompressionContext(d); }
};
using Lz4Dctx = std::unique_ptr<LZ4F_dctx, DctxDeleter>;
}  // namespace

std::string lz4_compress(std::string_view raw) {
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.contentSize = raw.size();
  std::string out(LZ4F_compressFrameBound(raw.size(), &prefs), '\0');
  size_t n = LZ4F_compressFrame(out.data(), out.size(), raw.data(), raw.size(), &prefs);
  if (LZ4F_isError(n)) throw Error(std::string("lz4 compression failed: ") + LZ4F_getErrorName(n));
  out.resize(n);
  return out;
}

std::string lz4_decompress(std::string_view frame, const std::string& what) {
  LZ4F_dctx* raw_ctx = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&raw_ctx, LZ4F_VERSION))) throw Error("lz4: out of memory");
  Lz4Dctx ctx(raw_ctx);
  LZ4F_frameInfo_t info{};
  size_t consumed = frame.size();
  size_t hint = LZ4F_getFrameInfo(ctx.get(), &info, frame.data(), &consumed);
  if (LZ4F_isError(hint)) throw DecodeError(what + ": not an lz4 frame (" + LZ4F_getErrorName(hint) + ")");
  std::string out;
  out.resize(info.contentSize ? info.contentSize : frame.size() * 4 + 64);
  size_t in_pos = consumed, out_pos = 0;
  while (true) {
    if (out_pos == out.size()) out.resize(out.size() * 2);
    size_t dst = out.size() - out_pos, src = frame.size() - in_pos;
    size_t r = LZ4F_decompress(ctx.get(), out.data() + out_pos, &dst, frame.data() + in_pos, &src, nullptr);
    if (LZ4F_isError(r)) throw DecodeError(what + ": corrupt lz4 data (" + LZ4F_getErrorName(r) + ")");
    in_pos += src;
    out_pos += dst;
    if (r == 0) break;
    if (src == 0 && dst == 0 && in_pos >= frame.size()) throw DecodeError(what + ": truncated lz4 frame");
  }
  out.resize(out_pos);
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
  std::string out(size, '\0');
  size_t n = ZSTD_decompress(out.data(), out.size(), frame.data(), frame.size());
  if (ZSTD_isError(n)) throw DecodeError(what + ": corrupt zstd data (" + ZSTD_getErrorName(n) + ")");
  out.resize(n);
  return out;
}

}  // namespace chute
