#include "chute/remote/disk_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "chute/storage/storage.h"

namespace fs = std::filesystem;

namespace chute::remote {
namespace {

bool read_file(const fs::path& p, uint64_t offset, uint64_t length, bool whole, std::string& out) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  if (whole) {
    off_t size = ::lseek(fd, 0, SEEK_END);
    if (size < 0) {
      ::close(fd);
      return false;
    }
    offset = 0;
    length = static_cast<uint64_t>(size);
  }
  out.resize(length);
  size_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, out.data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return done == length;
}

}  // namespace

DiskCache::DiskCache(fs::path dir, uint64_t capacity_bytes) : dir_(std::move(dir)), capacity_(capacity_bytes) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  std::vector<std::pair<fs::file_time_type, std::pair<std::string, uint64_t>>> found;
  for (auto it = fs::recursive_directory_iterator(dir_, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string key = fs::relative(it->path(), dir_, ec).string();
    if (ec || is_temp_name(key)) continue;
    found.push_back({it->last_write_time(ec), {key, it->file_size(ec)}});
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [t, kv] : found) {
    lru_.push_front(kv.first);
    entries_[kv.first] = Entry{kv.second, lru_.begin()};
    used_ += kv.second;
  }
  evict_locked();
}

void DiskCache::touch_locked(const std::string& key) {
  auto it = entries_.find(key);
  if (it != entries_.end()) lru_.splice(lru_.begin(), lru_, it->second.at);
}

void DiskCache::forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  used_ -= it->second.bytes;
  lru_.erase(it->second.at);
  entries_.erase(it);
}

std::optional<std::string> DiskCache::get(const std::string& key) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!entries_.count(key)) return std::nullopt;
    touch_locked(key);
  }
  std::string out;
  if (!read_file(path_of(key), 0, 0, true, out)) {
    forget(key);  // evicted by another process meanwhile
    return std::nullopt;
  }
  std::lock_guard<std::mutex> lock(mu_);
  ++hits_;
  return out;
}

bool DiskCache::get_range(const std::string& key, uint64_t offset, uint64_t length, std::string& out) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!entries_.count(key)) return false;
    touch_locked(key);
  }
  if (!read_file(path_of(key), offset, length, false, out)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  ++hits_;
  return true;
}

void DiskCache::put(const std::string& key, std::string_view data) {
  if (data.size() > capacity_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (entries_.count(key)) return;
  }
  fs::path p = path_of(key);
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  std::string tmp = p.string() + temp_suffix();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;  // a cache that cannot be written is a cache that misses
  size_t done = 0;
  bool ok = true;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = false;
      break;
    }
    done += static_cast<size_t>(n);
  }
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), p.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.count(key)) return;
  lru_.push_front(key);
  entries_[key] = Entry{data.size(), lru_.begin()};
  used_ += data.size();
  evict_locked();
}

void DiskCache::evict_locked() {
  while (used_ > capacity_ && !lru_.empty()) {
    const std::string& key = lru_.back();
    std::error_code ec;
    fs::remove(path_of(key), ec);
    auto it = entries_.find(key);
    used_ -= it->second.bytes;
    entries_.erase(it);
    lru_.pop_back();
  }
}

uint64_t DiskCache::size_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return used_;
}

uint64_t DiskCache::hits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hits_;
}

}  // namespace chute::remote
