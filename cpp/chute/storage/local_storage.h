#pragma once
// Key-value access to a dataset folder. Keys are '/'-separated paths relative to the root.
// Thread-safety: every method may be called from any thread; the object holds no mutable state
// once shared (redirect_reads() is called before the storage is handed to anyone else).
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace chute {

class LocalStorage {
 public:
  explicit LocalStorage(std::filesystem::path root);

  const std::filesystem::path& root() const { return root_; }
  /// Reads of a key in `redirects` (target -> temp name) read the temp file while it exists: a
  /// read-only open sees an unfinished flush's files without renaming anything.
  void redirect_reads(std::map<std::string, std::string> redirects) { redirects_ = std::move(redirects); }
  std::filesystem::path path_of(std::string_view key) const;

  bool exists(std::string_view key) const;
  /// The whole file; IoError naming the file if it is missing or unreadable.
  std::string read(std::string_view key) const;
  /// `length` bytes at `offset`; IoError when the file is shorter.
  std::string read_range(std::string_view key, uint64_t offset, uint64_t length) const;
  /// read_range into `out` (resized to length; its capacity is reused, so a caller that keeps one
  /// buffer per thread allocates nothing per read).
  void read_range_into(std::string_view key, uint64_t offset, uint64_t length, std::string& out) const;
  /// The first `max_bytes` of a file (fewer if it is shorter), and the file's size.
  std::string read_prefix(std::string_view key, uint64_t max_bytes, uint64_t& file_size) const;
  /// Writes a new file and makes it durable (fsync of file and folder). Used for chunk files,
  /// which are never rewritten once an index names them.
  void write_durable(std::string_view key, std::string_view data) const;
  /// Writes a new file without waiting for the disk; sync() it before anything names it.
  void write(std::string_view key, std::string_view data) const;
  /// The same for a file made of two parts (a chunk's header and data), without joining them.
  void write(std::string_view key, std::string_view head, std::string_view body) const;
  /// fsync of a file written earlier (its folder too).
  void sync(std::string_view key) const;
  /// Durable write to "<key>.<suffix>" that a later rename makes visible.
  std::string write_temp(std::string_view key, std::string_view data) const;
  /// rename(from, to) then fsync of the target's folder.
  void rename(std::string_view from_key, std::string_view to_key) const;
  /// True when the file was there and is gone; false when it was not there. IoError when it is
  /// there and cannot be removed.
  bool remove(std::string_view key) const;
  void remove_all(std::string_view key) const;
  /// File names (not keys) directly inside a folder; empty when the folder does not exist.
  std::vector<std::string> list(std::string_view folder_key) const;
  void make_dirs(std::string_view key) const;

 private:
  std::string_view resolve(std::string_view key) const;
  std::filesystem::path root_;
  std::map<std::string, std::string> redirects_;
};

/// True for a name write_temp() makes ("<name>.tmp<pid>_<n>_<n>"), and only for those: a user's
/// "notes.tmp" is never taken for chute's own temp file.
bool is_temp_name(std::string_view name);
/// The name a temp name stands for ("a/b.json.tmp12_3_4" -> "a/b.json"); empty when it is none.
std::string temp_target(std::string_view name);

/// fsync a folder so that a rename or create inside it survives a power loss.
void fsync_dir(const std::filesystem::path& dir);

}  // namespace chute
