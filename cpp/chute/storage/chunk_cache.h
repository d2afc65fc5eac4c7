#pragma once
// A byte-bounded LRU of parsed chunks, shared by the tensors of a dataset.
// Thread-safety: all methods may be called concurrently. Loading happens outside the lock; a key
// is loaded once at a time (single flight): a thread that misses on a key another thread or a
// background read is loading waits for that load (an object store's GET is too dear to repeat).
#include <cstddef>
#include <exception>
#include <functional>
#include <future>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "chute/format/chunk.h"

namespace chute {

class ChunkCache : public std::enable_shared_from_this<ChunkCache> {
 public:
  explicit ChunkCache(size_t capacity_bytes) : capacity_(capacity_bytes) {}

  std::shared_ptr<const Chunk> get_or_load(const std::string& key, const std::function<Chunk()>& load);
  /// A load that finishes later (a background read): `start` is called, outside the lock, only
  /// when the key is neither cached nor being loaded, with the function that completes the load
  /// (a chunk, or the error that waiters get). Returns whether it started one. The completion may
  /// run after the cache is gone (a dataset dropped with reads in flight): it then does nothing.
  /// The cache must be owned by a shared_ptr.
  using Complete = std::function<void(std::shared_ptr<const Chunk>, std::exception_ptr)>;
  bool load_async(const std::string& key, const std::function<void(Complete)>& start);
  /// Bytes the cache may hold; growing it never evicts.
  void reserve(size_t capacity_bytes);
  void put(const std::string& key, std::shared_ptr<const Chunk> chunk);
  /// The cached chunk or nullptr; never loads. With `wait_loading`, a chunk on its way (a
  /// background read) is waited for instead of reported missing.
  std::shared_ptr<const Chunk> peek(const std::string& key, bool wait_loading = false);
  void erase(const std::string& key);
  size_t size_bytes() const;

 private:
  void evict_locked();
  struct Entry {
    std::shared_ptr<const Chunk> chunk;
    std::list<std::string>::iterator lru;
    size_t bytes;
  };
  std::shared_future<std::shared_ptr<const Chunk>> begin_locked(
      const std::string& key, std::shared_ptr<std::promise<std::shared_ptr<const Chunk>>>& p);
  void end(const std::string& key, const std::shared_ptr<std::promise<std::shared_ptr<const Chunk>>>& p,
           std::shared_ptr<const Chunk> chunk, std::exception_ptr error);
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_future<std::shared_ptr<const Chunk>>> loading_;
  std::unordered_map<std::string, Entry> map_;
  std::list<std::string> lru_;  // front = most recent
  size_t capacity_;
  size_t used_ = 0;
};

}  // namespace chute
