#include "chute/storage/storage.h"

#include <unistd.h>

#include <atomic>
#include <random>

namespace chute {

std::string Storage::read_range(std::string_view key, uint64_t offset, uint64_t length) const {
  std::string out;
  read_range_into(key, offset, length, out);
  return out;
}

void Storage::read_async(std::string_view key, ReadDone done) const {
  std::string bytes;
  try {
    bytes = read(key);
  } catch (...) {
    done(std::string(), std::current_exception());
    return;
  }
  done(std::move(bytes), nullptr);
}

void Storage::sync_all(const std::vector<std::string>& keys) const {
  for (const auto& k : keys) sync(k);
}

std::string Storage::write_temp(std::string_view key, std::string_view data) const {
  std::string tmp = std::string(key) + temp_suffix();
  write_durable(tmp, data);
  return tmp;
}

const std::string* Storage::redirect_of(std::string_view key) const {
  if (redirects_.empty()) return nullptr;
  auto it = redirects_.find(std::string(key));
  return it == redirects_.end() ? nullptr : &it->second;
}

std::string temp_suffix() {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return ".tmp" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" + std::to_string(rng() % 100000);
}

std::string temp_target(std::string_view name) {
  // "<target>.tmp<digits>_<digits>_<digits>", as temp_suffix() writes it
  size_t at = name.rfind(".tmp");
  if (at == std::string_view::npos || at == 0) return {};
  std::string_view tail = name.substr(at + 4);
  int groups = 0;
  size_t digits = 0;
  for (char c : tail) {
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c == '_' && digits > 0 && groups < 2) {
      ++groups;
      digits = 0;
    } else {
      return {};
    }
  }
  if (groups != 2 || digits == 0) return {};
  return std::string(name.substr(0, at));
}

bool is_temp_name(std::string_view name) { return !temp_target(name).empty(); }

}  // namespace chute
