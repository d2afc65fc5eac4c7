#pragma once
// LZ4 as Deep Lake 3 writes it for "lz4" sample and chunk compression: a 4-byte little-endian
// uncompressed size, then one raw LZ4 block (python-lz4's lz4.block with store_size). Zstd frames for the "zstd" chunk
// compression. Thread-safe: no shared state.
#include <string>
#include <string_view>

namespace chute {

std::string lz4_compress(std::string_view raw);
/// Throws DecodeError mentioning `what` on corrupt input.
std::string lz4_decompress(std::string_view frame, const std::string& what);
std::string zstd_compress(std::string_view raw, int level = 3);
std::string zstd_decompress(std::string_view frame, const std::string& what);

}  // namespace chute
