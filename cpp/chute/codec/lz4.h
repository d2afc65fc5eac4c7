#pragma once
// LZ4 frame format (magic 04 22 4D 18), the format Deep Lake 3 writes for "lz4" sample and
// chunk compression. Zstd frames for the "zstd" chunk compression. Thread-safe: no shared state.
#include <string>
#include <string_view>

namespace chute {

std::string lz4_compress(std::string_view raw);
/// Throws DecodeError mentioning `what` on corrupt input.
std::string lz4_decompress(std::string_view frame, const std::string& what);
std::string zstd_compress(std::string_view raw, int level = 3);
std::string zstd_decompress(std::string_view frame, const std::string& what);

}  // namespace chute
