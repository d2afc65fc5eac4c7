// The chunk cache: loads a key once, bounds its bytes (least recently used out first), erases.
#include <gtest/gtest.h>

#include "chute/storage/chunk_cache.h"

using namespace chute;

namespace {
Chunk chunk_of(size_t bytes) {
  Chunk c;
  c.append(std::string(bytes, 'x'), {bytes});
  return c;
}
}  // namespace

TEST(ChunkCache, LoadsAKeyOnceAndEvictsTheLeastRecentlyUsed) {
  size_t one = chunk_of(100000).memory_bytes();
  ChunkCache cache(one * 2 + one / 2);  // room for two
  int loads = 0;
  auto load = [&] {
    ++loads;
    return chunk_of(100000);
  };
  auto a = cache.get_or_load("a", load);
  EXPECT_EQ(cache.get_or_load("a", load).get(), a.get());
  EXPECT_EQ(loads, 1);
  cache.get_or_load("b", load);
  cache.get_or_load("a", load);  // a is now the most recent
  cache.get_or_load("c", load);  // evicts b
  EXPECT_EQ(loads, 3);
  EXPECT_NE(cache.peek("a"), nullptr);
  EXPECT_EQ(cache.peek("b"), nullptr);
  EXPECT_NE(cache.peek("c"), nullptr);
  EXPECT_LE(cache.size_bytes(), one * 2 + one / 2);
  cache.erase("a");
  EXPECT_EQ(cache.peek("a"), nullptr);
  EXPECT_EQ(a->num_samples(), 1u);  // a holder keeps its chunk after eviction
}
