#include "chute/storage/chunk_cache.h"

#include <algorithm>
#include <stdexcept>

namespace chute {

std::shared_ptr<const Chunk> ChunkCache::get_or_load(const std::string& key, const std::function<Chunk()>& load) {
  std::shared_ptr<std::promise<std::shared_ptr<const Chunk>>> mine;
  std::shared_future<std::shared_ptr<const Chunk>> theirs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(key);
    if (it != map_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      return it->second.chunk;
    }
    theirs = begin_locked(key, mine);
  }
  if (!mine) return theirs.get();  // another load of this key is on its way: wait for it
  std::shared_ptr<const Chunk> chunk;
  try {
    chunk = std::make_shared<const Chunk>(load());
  } catch (...) {
    end(key, mine, nullptr, std::current_exception());
    throw;
  }
  end(key, mine, chunk, nullptr);
  return chunk;
}

std::shared_future<std::shared_ptr<const Chunk>> ChunkCache::begin_locked(
    const std::string& key, std::shared_ptr<std::promise<std::shared_ptr<const Chunk>>>& p) {
  auto it = loading_.find(key);
  if (it != loading_.end()) return it->second;
  p = std::make_shared<std::promise<std::shared_ptr<const Chunk>>>();
  auto f = p->get_future().share();
  loading_[key] = f;
  return f;
}

void ChunkCache::end(const std::string& key, const std::shared_ptr<std::promise<std::shared_ptr<const Chunk>>>& p,
                     std::shared_ptr<const Chunk> chunk, std::exception_ptr error) {
  if (chunk) put(key, chunk);
  {
    std::lock_guard<std::mutex> lock(mu_);
    loading_.erase(key);  // a failed load is tried afresh by the next reader
  }
  if (error)
    p->set_exception(error);
  else
    p->set_value(std::move(chunk));
}

bool ChunkCache::load_async(const std::string& key, const std::function<void(Complete)>& start) {
  std::shared_ptr<std::promise<std::shared_ptr<const Chunk>>> mine;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (map_.count(key)) return false;
    begin_locked(key, mine);
  }
  if (!mine) return false;
  try {
    std::weak_ptr<ChunkCache> self = weak_from_this();
    start([self, key, mine](std::shared_ptr<const Chunk> chunk, std::exception_ptr error) {
      if (auto cache = self.lock()) {
        cache->end(key, mine, std::move(chunk), error);
      } else {
        // nobody can be waiting: the waiters hold the cache
        mine->set_exception(error ? error : std::make_exception_ptr(std::runtime_error("chunk cache closed")));
      }
    });
  } catch (...) {
    end(key, mine, nullptr, std::current_exception());
  }
  return true;
}

void ChunkCache::reserve(size_t capacity_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  capacity_ = std::max(capacity_, capacity_bytes);
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

std::shared_ptr<const Chunk> ChunkCache::peek(const std::string& key, bool wait_loading) {
  std::shared_future<std::shared_ptr<const Chunk>> loading;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(key);
    if (it != map_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      return it->second.chunk;
    }
    auto l = loading_.find(key);
    if (!wait_loading || l == loading_.end()) return nullptr;
    loading = l->second;
  }
  try {
    return loading.get();
  } catch (...) {
    return nullptr;  // the caller reads it its own way, and reports that read's error
  }
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
