#pragma once
// A byte-bounded LRU of parsed chunks, shared by the tensors of a dataset.
// Thread-safety: all methods may be called concurrently. Loading happens outside the lock, so
// two threads that miss on the same key may both parse it; the first insert wins.
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "chute/format/chunk.h"

namespace chute {

class ChunkCache {
 public:
  explicit ChunkCache(size_t capacity_bytes) : capacity_(capacity_bytes) {}

  std::shared_ptr<const Chunk> get_or_load(const std::string& key, const std::function<Chunk()>& load);
  void put(const std::string& key, std::shared_ptr<const Chunk> chunk);
  /// The cached chunk or nullptr; never loads.
  std::shared_ptr<const Chunk> peek(const std::string& key);
  void erase(const std::string& key);
  size_t size_bytes() const;

 private:
  void evict_locked();
  struct Entry {
    std::shared_ptr<const Chunk> chunk;
    std::list<std::string>::iterator lru;
    size_t bytes;
  };
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> map_;
  std::list<std::string> lru_;  // front = most recent
  size_t capacity_;
  size_t used_ = 0;
};

}  // namespace chute
