#pragma once
#include <cstdint>
namespace chute {
/// The Deep Lake version chute writes into chunk and encoder headers and metas. Deep Lake 3.9.52
/// reads files stamped with it as its own.
inline constexpr const char* kFormatVersion = "3.9.52";
/// Chunk sizes in Deep Lake's MB (10^6 bytes): chunks fill to max/2 and never pass max.
inline constexpr uint64_t kDefaultMaxChunkSize = 16000000;
inline constexpr uint64_t kDefaultTilingThreshold = 16000000;
}  // namespace chute
