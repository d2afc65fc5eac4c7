#pragma once
// A dataset folder on local disk: durable writes (fsync of file and folder), atomic renames.
// Thread-safety: as Storage.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "chute/storage/storage.h"

namespace chute {

class LocalStorage final : public Storage {
 public:
  explicit LocalStorage(std::filesystem::path root);

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path path_of(std::string_view key) const;
  std::string url() const override { return root_.string(); }

  bool exists(std::string_view key) const override;
  std::string read(std::string_view key) const override;
  void read_range_into(std::string_view key, uint64_t offset, uint64_t length, std::string& out) const override;
  std::string read_prefix(std::string_view key, uint64_t max_bytes, uint64_t& file_size) const override;
  std::optional<uint64_t> size_of(std::string_view key) const override;
  /// Writes a new file and makes it durable (fsync of file and folder).
  void write_durable(std::string_view key, std::string_view data) const override;
  void write(std::string_view key, std::string_view data) const override;
  void write(std::string_view key, std::string_view head, std::string_view body) const override;
  /// fsync of a file written earlier.
  void sync(std::string_view key) const override;
  void sync_folder(std::string_view folder_key) const override;
  /// fsync of each file and its folder for a few files, else one syncfs of the file system.
  void sync_all(const std::vector<std::string>& keys) const override;
  /// rename(from, to) then fsync of the target's folder.
  void rename(std::string_view from_key, std::string_view to_key) const override;
  bool remove(std::string_view key) const override;
  void remove_all(std::string_view key) const override;
  std::vector<std::string> list(std::string_view folder_key) const override;
  void make_dirs(std::string_view key) const override;

 private:
  std::string_view resolve(std::string_view key) const;
  std::filesystem::path root_;
};

/// fsync a folder so that a rename or create inside it survives a power loss.
void fsync_dir(const std::filesystem::path& dir);

}  // namespace chute
