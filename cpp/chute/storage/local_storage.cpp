#include "chute/storage/local_storage.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "chute/core/error.h"

namespace fs = std::filesystem;

namespace chute {
namespace {

[[noreturn]] void throw_errno(const std::string& what, const fs::path& p) {
  if (errno == ENOENT) throw NotFoundError(what + " '" + p.string() + "': " + std::strerror(errno));
  throw IoError(what + " '" + p.string() + "': " + std::strerror(errno));
}

void write_fd(int fd, const fs::path& p, std::string_view data) {
  const char* ptr = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, ptr, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int saved = errno;
      ::close(fd);
      errno = saved;
      throw_errno("cannot write", p);
    }
    ptr += n;
    left -= static_cast<size_t>(n);
  }
}

void write_all(const fs::path& p, std::string_view data, bool sync, std::string_view more = {}) {
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw_errno("cannot create", p);
  write_fd(fd, p, data);
  write_fd(fd, p, more);
  if (sync && ::fsync(fd) != 0) {
    int saved = errno;
    ::close(fd);
    errno = saved;
    throw_errno("cannot fsync", p);
  }
  if (::close(fd) != 0) throw_errno("cannot close", p);
}

}  // namespace

void fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_errno("cannot open folder", dir);
  ::fsync(fd);
  ::close(fd);
}

LocalStorage::LocalStorage(fs::path root) : root_(std::move(root)) {}

fs::path LocalStorage::path_of(std::string_view key) const {
  return key.empty() ? root_ : root_ / fs::path(std::string(key));
}

std::string_view LocalStorage::resolve(std::string_view key) const {
  const std::string* temp = redirect_of(key);
  if (!temp) return key;
  std::error_code ec;
  return fs::exists(path_of(*temp), ec) ? std::string_view(*temp) : key;
}

std::optional<uint64_t> LocalStorage::size_of(std::string_view key) const {
  std::error_code ec;
  auto n = fs::file_size(path_of(resolve(key)), ec);
  if (ec) return std::nullopt;
  return n;
}

void LocalStorage::sync_folder(std::string_view folder_key) const { fsync_dir(path_of(folder_key)); }

bool LocalStorage::exists(std::string_view key) const {
  std::error_code ec;
  return fs::exists(path_of(resolve(key)), ec);
}

std::string LocalStorage::read(std::string_view key) const {
  fs::path p = path_of(resolve(key));
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("cannot open", p);
  std::string out;
  off_t size = ::lseek(fd, 0, SEEK_END);
  if (size > 0) out.resize(static_cast<size_t>(size));
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      int saved = errno;
      ::close(fd);
      errno = saved;
      throw_errno("cannot read", p);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(done);
  return out;
}

void LocalStorage::read_range_into(std::string_view key, uint64_t offset, uint64_t length, std::string& out) const {
  fs::path p = path_of(key);
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("cannot open", p);
  out.resize(length);
  size_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, out.data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int saved = errno;
      ::close(fd);
      if (n == 0)
        throw IoError("'" + p.string() + "' is shorter than its index says (wanted " + std::to_string(length) +
                      " bytes at offset " + std::to_string(offset) + ")");
      errno = saved;
      throw_errno("cannot read", p);
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
}

std::string LocalStorage::read_prefix(std::string_view key, uint64_t max_bytes, uint64_t& file_size) const {
  fs::path p = path_of(key);
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("cannot open", p);
  off_t size = ::lseek(fd, 0, SEEK_END);
  file_size = size < 0 ? 0 : static_cast<uint64_t>(size);
  std::string out(std::min<uint64_t>(max_bytes, file_size), '\0');
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(done);
  return out;
}

void LocalStorage::write_durable(std::string_view key, std::string_view data) const {
  fs::path p = path_of(key);
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  write_all(p, data, true);
}

void LocalStorage::write(std::string_view key, std::string_view data) const {
  fs::path p = path_of(key);
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  write_all(p, data, false);
}

void LocalStorage::write(std::string_view key, std::string_view head, std::string_view body) const {
  fs::path p = path_of(key);
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  write_all(p, head, false, body);
}

void LocalStorage::sync(std::string_view key) const {
  fs::path p = path_of(key);
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("cannot open for fsync", p);
  if (::fsync(fd) != 0) {
    int saved = errno;
    ::close(fd);
    errno = saved;
    throw_errno("cannot fsync", p);
  }
  ::close(fd);
}

void LocalStorage::sync_all(const std::vector<std::string>& keys) const {
  if (keys.size() < 4) {
    std::set<fs::path> folders;
    for (const auto& k : keys) {
      sync(k);
      folders.insert(path_of(k).parent_path());
    }
    for (const auto& f : folders) fsync_dir(f);
    return;
  }
  fs::path root = path_of("");
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_errno("cannot open for syncfs", root);
  if (::syncfs(fd) != 0) {
    int saved = errno;
    ::close(fd);
    errno = saved;
    throw_errno("cannot syncfs", root);
  }
  ::close(fd);
}

void LocalStorage::rename(std::string_view from_key, std::string_view to_key) const {
  fs::path from = path_of(from_key), to = path_of(to_key);
  if (::rename(from.c_str(), to.c_str()) != 0) throw_errno("cannot rename to", to);
  fsync_dir(to.parent_path());
}

bool LocalStorage::remove(std::string_view key) const {
  std::error_code ec;
  bool removed = fs::remove(path_of(key), ec);
  if (ec && ec != std::errc::no_such_file_or_directory)
    throw IoError("cannot remove '" + path_of(key).string() + "': " + ec.message());
  return removed;
}

void LocalStorage::remove_all(std::string_view key) const {
  std::error_code ec;
  fs::remove_all(path_of(key), ec);
}

std::vector<std::string> LocalStorage::list(std::string_view folder_key) const {
  std::vector<std::string> out;
  std::error_code ec;
  fs::directory_iterator it(path_of(folder_key), ec);
  if (ec) return out;
  for (const auto& e : it) out.push_back(e.path().filename().string());
  return out;
}

void LocalStorage::make_dirs(std::string_view key) const {
  std::error_code ec;
  fs::create_directories(path_of(key), ec);
  if (ec) throw IoError("cannot create folder '" + path_of(key).string() + "': " + ec.message());
}

}  // namespace chute
