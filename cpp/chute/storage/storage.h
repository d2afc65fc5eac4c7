#pragma once
// Key-value access to a dataset's files, on local disk (LocalStorage) or in an object store
// (S3Storage, chute/remote/). Keys are '/'-separated paths relative to the dataset's root.
// Thread-safety: every method may be called from any thread; a storage holds no mutable state
// once shared (redirect_reads() is called before the storage is handed to anyone else).
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chute {

class Storage {
 public:
  virtual ~Storage() = default;

  /// The dataset's location as the user wrote it ("data/ds", "s3://bucket/prefix"): for messages
  /// only, never holding a credential.
  virtual std::string url() const = 0;
  /// True for object stores: every read is a request, so readers fetch whole chunks ahead.
  virtual bool is_remote() const { return false; }
  /// Reads of a key in `redirects` (target -> temp name) read the temp file while it exists: a
  /// read-only open sees an unfinished flush's files without renaming anything.
  void redirect_reads(std::map<std::string, std::string> redirects) { redirects_ = std::move(redirects); }

  /// Where the file of `key` is, as one name for every view of the dataset (the root key for a
  /// node of a commit tree): what the chunk cache keeps a chunk under, so a checkout keeps it.
  virtual std::string location(std::string_view key) const { return std::string(key); }
  /// Forgets what it knows of where files are, because a writer published since (a reader that
  /// found a chunk gone re-reads the indexes, and the chunk lists with them).
  virtual void refresh() const {}
  /// True when the file belongs to an older commit of the dataset: it is never modified or
  /// deleted through this storage (chute/version/node_storage.h).
  virtual bool frozen(std::string_view /*key*/) const { return false; }
  /// A chunk file another process wrote (a transform worker's segment) now belongs to this
  /// storage's dataset, as if it had been written through it.
  virtual void adopt_chunk(std::string_view /*key*/) const {}

  virtual bool exists(std::string_view key) const = 0;
  /// The whole file; NotFoundError or IoError naming the file.
  virtual std::string read(std::string_view key) const = 0;
  /// `length` bytes at `offset`; IoError when the file is shorter.
  std::string read_range(std::string_view key, uint64_t offset, uint64_t length) const;
  /// read_range into `out` (resized to length; its capacity is reused, so a caller that keeps one
  /// buffer per thread allocates nothing per read).
  virtual void read_range_into(std::string_view key, uint64_t offset, uint64_t length, std::string& out) const = 0;
  /// The first `max_bytes` of a file (fewer if it is shorter), and the file's size.
  virtual std::string read_prefix(std::string_view key, uint64_t max_bytes, uint64_t& file_size) const = 0;
  /// The file's size, or nullopt when it is not there.
  virtual std::optional<uint64_t> size_of(std::string_view key) const = 0;
  /// Starts reading a whole file and calls `done` with its bytes or its error, on a thread of the
  /// storage's choosing (an object store's I/O thread). Local storage reads before returning.
  using ReadDone = std::function<void(std::string bytes, std::exception_ptr error)>;
  virtual void read_async(std::string_view key, ReadDone done) const;

  /// Writes a new file and makes it durable. Used for chunk files, which are never rewritten once
  /// an index names them.
  virtual void write_durable(std::string_view key, std::string_view data) const = 0;
  /// Writes a new file without waiting for the disk; sync() it before anything names it.
  virtual void write(std::string_view key, std::string_view data) const = 0;
  /// The same for a file made of two parts (a chunk's header and data), without joining them.
  virtual void write(std::string_view key, std::string_view head, std::string_view body) const = 0;
  /// Makes a file written earlier durable (an object store's writes already are).
  virtual void sync(std::string_view key) const = 0;
  /// Makes the creation of the files in a folder durable (fsync of the folder on local disk).
  virtual void sync_folder(std::string_view folder_key) const = 0;
  /// Makes many files written earlier durable, with the folders that hold them (local disk: one
  /// syncfs of the file system for more than a few files, instead of an fsync each).
  virtual void sync_all(const std::vector<std::string>& keys) const;
  /// Durable write to "<key>.tmp<pid>_<n>_<n>" that a later rename makes visible.
  std::string write_temp(std::string_view key, std::string_view data) const;
  /// Moves `from` onto `to` (a rename on disk, atomic; a copy then a delete in an object store,
  /// where `to` changes in one step and `from` may outlive it).
  virtual void rename(std::string_view from_key, std::string_view to_key) const = 0;
  /// True when the file was there and is gone; false when it was not there. IoError when it is
  /// there and cannot be removed.
  virtual bool remove(std::string_view key) const = 0;
  /// Removes a folder (every key under "<key>/") and the file `key` itself.
  virtual void remove_all(std::string_view key) const = 0;
  /// File and folder names (not keys) directly inside a folder; empty when there is none.
  virtual std::vector<std::string> list(std::string_view folder_key) const = 0;
  virtual void make_dirs(std::string_view key) const = 0;

 protected:
  /// The temp name a read of `key` goes to instead, when a redirect names one.
  const std::string* redirect_of(std::string_view key) const;

 private:
  std::map<std::string, std::string> redirects_;
};

/// A new temp suffix (".tmp<pid>_<counter>_<random>"), unique across processes and threads.
std::string temp_suffix();
/// True for a name write_temp() makes ("<name>.tmp<pid>_<n>_<n>"), and only for those: a user's
/// "notes.tmp" is never taken for chute's own temp file.
bool is_temp_name(std::string_view name);
/// The name a temp name stands for ("a/b.json.tmp12_3_4" -> "a/b.json"); empty when it is none.
std::string temp_target(std::string_view name);

}  // namespace chute
