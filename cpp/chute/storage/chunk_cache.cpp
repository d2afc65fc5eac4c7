#include "chute/storage/chunk_cache.h"

namespace chute {

std::shared_ptr<const Chunk> ChunkCache::get_or_load(const std::string& key, const std::function<Chunk()>& load) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(key);
    if (it != map_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      return it->second.chunk;
    }
  }
  auto chunk = std::make_shared<const Chunk>(load());
  put(key, chunk);
  return chunk;
}

void ChunkCache::put(const std::string& key, std::shared_ptr<const Chunk> chunk) {
  std::lock_guard<std::mutex> lock(mu_);
  if (map_.count(key)) return;
  size_t bytes = chunk->memory_bytes();
  lru_.push_front(key);
  map_[key] = Entry{std::move(chunk), lru_.begin(), bytes};
  used_ += bytes;
  evict_locked();
}

std::shared_ptr<const Chunk> ChunkCache::peek(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return it->second.chunk;
}

void ChunkCache::erase(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return;
  used_ -= it->second.bytes;
  lru_.erase(it->second.lru);
  map_.erase(it);
}

size_t ChunkCache::size_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return used_;
}

void ChunkCache::evict_locked() {
  // Keep at least the newest entry: a single chunk larger than the budget is still usable.
  while (used_ > capacity_ && lru_.size() > 1) {
    auto& key = lru_.back();
    auto it = map_.find(key);
    used_ -= it->second.bytes;
    map_.erase(it);
    lru_.pop_back();
  }
}

}  // namespace chute
