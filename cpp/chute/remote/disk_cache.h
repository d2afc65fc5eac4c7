#pragma once
// A local on-disk LRU of an object store's chunk files, bounded in bytes: later epochs read chunks
// from disk instead of the network. Chunk files are immutable once an index names them (a new
// write takes a new id), so a cached copy never goes stale. Entries are written under a temporary
// name and renamed, so a reader (of this or another process sharing the folder) never sees half a
// file; a file evicted under a reader makes that read a miss, served from the object store.
// Thread-safety: every method may be called from any thread (one mutex over the index; file I/O
// outside it).
#include <cstdint>
#include <filesystem>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace chute::remote {

class DiskCache {
 public:
  /// Takes over what `dir` already holds (oldest first in the LRU) and trims it to `capacity`.
  DiskCache(std::filesystem::path dir, uint64_t capacity_bytes);

  std::optional<std::string> get(const std::string& key);
  /// `length` bytes at `offset` of a cached file into `out`; false on a miss.
  bool get_range(const std::string& key, uint64_t offset, uint64_t length, std::string& out);
  void put(const std::string& key, std::string_view data);
  uint64_t size_bytes() const;
  uint64_t hits() const;

 private:
  void touch_locked(const std::string& key);
  void evict_locked();
  void forget(const std::string& key);
  std::filesystem::path path_of(const std::string& key) const { return dir_ / key; }

  std::filesystem::path dir_;
  uint64_t capacity_;
  mutable std::mutex mu_;
  std::list<std::string> lru_;  // front: most recent
  struct Entry {
    uint64_t bytes;
    std::list<std::string>::iterator at;
  };
  std::unordered_map<std::string, Entry> entries_;
  uint64_t used_ = 0;
  uint64_t hits_ = 0;
};

}  // namespace chute::remote
