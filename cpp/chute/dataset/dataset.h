#pragma once
// A Deep Lake 3 dataset folder: dataset_meta.json, version_control_info.json and one folder per
// tensor. Publishing is crash-safe: a flush writes every changed meta and index file under a
// temporary name, then a journal naming the renames, then renames. Opening a dataset finishes
// (or discards) an interrupted flush, so a killed writer leaves the dataset at its last flush.
// Processes: one writer per dataset (flock on .chute_lock, holding the writer's pid; in an object
// store, a lock object with an expiry, remote/write_lock.h). Readers never write: they read the
// last published state, waiting for a flush in progress (an OFD read lock on .chute_lock that a
// publishing writer holds for writing; in an object store, reading the metas again when the
// journal changed while they read), and see a dead writer's unfinished flush through its temp
// files without renaming them.
// Thread-safety: every method may be called from any thread. create_tensor, create_group,
// set_info and flush take the dataset's lock exclusively, the lookups share it; samples go
// through Tensor, which has its own lock (appends exclusive, reads shared).
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chute/dataset/tensor.h"
#include "chute/remote/open_storage.h"
#include "chute/remote/write_lock.h"
#include "chute/storage/chunk_cache.h"
#include "chute/version/diffs.h"
#include "chute/version/node_storage.h"
#include "chute/version/version_info.h"

namespace chute {

/// What create_tensor needs. Empty strings and zeros take the format's defaults (generic htype,
/// dtype set by the first sample, no compression, 8 MB chunks, 16 MB tiling threshold).
struct TensorSpec {
  std::string name;
  std::string htype = "generic";
  std::string dtype;
  std::string sample_compression;
  std::string chunk_compression;
  int64_t max_chunk_size = 0;
  int64_t tiling_threshold = 0;
  nlohmann::json meta_extra = nlohmann::json::object();  // extra tensor_meta.json keys of the htype
  nlohmann::json info = nlohmann::json::object();        // tensor_info.json (class_names, coords...)
};

class Dataset {
 public:
  /// `path` is a folder or "s3://bucket/prefix"; `remote` holds the object store's credentials and
  /// endpoint (ignored for local paths).
  /// `address`: a branch or commit id to check out ("" for main, Deep Lake's "path@address").
  static std::shared_ptr<Dataset> open(const std::string& path, bool read_only, const remote::S3Options& remote = {},
                                       const std::string& address = "");
  /// overwrite=True replaces a dataset: refused (LockedError) while another process writes it; a
  /// writable handle of this process on it is detached first (its later writes raise).
  static std::shared_ptr<Dataset> create(const std::string& path, bool overwrite, const remote::S3Options& remote = {});
  static bool exists(const std::string& path, const remote::S3Options& remote = {});
  /// Deletes the dataset folder: refused (LockedError) while another process writes it; a writable
  /// handle of this process on it is detached first (its later writes raise with `why`).
  static void remove(const std::string& path, const std::string& why, const remote::S3Options& remote = {});
  /// Throws InvalidNameError when `name` is not a safe tensor or group name (including the names of
  /// files chute or Deep Lake 3 keep at a dataset's root).
  static void validate_name(const std::string& name);

  ~Dataset();
  Dataset(const Dataset&) = delete;
  Dataset& operator=(const Dataset&) = delete;

  const std::string& path() const { return path_; }
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  bool read_only() const { return read_only_; }
  /// Visible tensor names in creation order (group members as "group/name").
  std::vector<std::string> tensor_names() const;
  std::vector<std::string> hidden_tensor_names() const;
  std::vector<std::string> groups() const;
  bool has_tensor(const std::string& name) const;
  std::shared_ptr<Tensor> tensor(const std::string& name) const;

  /// Creates a tensor (published by the next flush). Throws InvalidNameError, InvalidArgument.
  std::shared_ptr<Tensor> create_tensor(const TensorSpec& spec);
  void create_group(const std::string& name);
  /// Removes a tensor (and its hidden companions) from the checked-out head, at once: older commits
  /// keep it. Deep Lake's dataset_diff records the deletion unless the tensor was created here.
  void delete_tensor(const std::string& name);
  /// Publishes everything appended since the last flush, atomically.
  void flush();
  bool dirty() const;
  nlohmann::json info() const;
  void set_info(nlohmann::json info);
  /// Chunk files and temp files no index names; removed when a dataset is opened for writing.
  size_t orphans_collected() const { return orphans_collected_; }
  /// Removes the chunk files and temp files that no index names (what a failed transform wrote),
  /// as opening for writing does. Returns how many were removed.
  size_t collect_orphans();
  /// Releases the write lock and makes every later write through this object or its tensors
  /// raise (the dataset was replaced or deleted). Idempotent.
  void detach(const std::string& why);

  // ---- version control (Deep Lake 3's commits and branches; dataset_version.cpp) ----
  /// Freezes the head as a commit and starts a new empty head on the same branch; returns the
  /// frozen commit's id. VersionError(EmptyCommit) when the head has no changes, unless allow_empty.
  std::string commit(const std::optional<std::string>& message, bool allow_empty, bool checkpoint = false,
                     uint64_t samples_processed = 0);
  /// Checks out a branch (its head) or a commit; create=true makes branch `address` from here.
  /// Returns commit_id() afterwards. Tensors taken before are detached (reads go on; writes raise).
  std::string checkout(const std::string& address, bool create);
  /// Drops the head's uncommitted changes (a new empty head replaces it). Without commits, empties
  /// the dataset. False when there was nothing to drop (and force is false).
  bool reset(bool force);
  void delete_branch(const std::string& name);
  std::string branch() const;
  /// The node being read or written (a branch head, or a commit).
  std::string pending_commit_id() const;
  /// The last commit: this node when it is one, else the head's parent; "" when there is none.
  std::string commit_id() const;
  bool has_head_changes() const;
  /// True when this node is a branch head (it takes writes).
  bool at_head() const;
  /// version_control_info.json as loaded (commits and branches).
  std::string version_info_json() const;
  /// What node `id` changed (its commit_diff and dataset_diff files): {"dataset": {info_updated,
  /// renamed, deleted}, "tensors": {name: commit diff}} for the node's visible tensors.
  nlohmann::json node_changes(const std::string& id) const;

 private:
  Dataset(std::string path, bool read_only, std::shared_ptr<Storage> storage);
  static std::shared_ptr<Dataset> open_remote(const std::string& path, bool read_only, const remote::S3Options& opts,
                                              const std::string& address);
  static std::shared_ptr<Dataset> create_remote(const std::string& path, bool overwrite,
                                                const remote::S3Options& remote);
  /// Reads the journal and the metas until the journal did not change meanwhile (a writer
  /// published in between): an object store has no lock a reader could wait on.
  void load_remote_snapshot(const std::string& address);
  std::string not_at_head_message() const;
  /// Reads version_control_info.json and loads the node `address` names.
  void load(const std::string& address = "");
  /// Loads the metas and tensors of node `id` (tensors taken before are detached).
  void load_node(const std::string& id);
  /// Publishes crash-safely: `files` (root keys) under temp names, then a journal, then renames;
  /// `obsolete` chunk files (root keys) are deleted after.
  void publish_locked(const std::vector<std::pair<std::string, std::string>>& files, const nlohmann::json& obsolete);
  void flush_locked();
  bool has_head_changes_locked() const;
  /// Publishes the tree `vc` that adds node `to`: its folder gets copies of node `from`'s metas and
  /// empty chunk_sets, `changed_nodes` their commit_info.json (dataset_version.cpp has the order).
  void write_files(const std::vector<std::pair<std::string, std::string>>& files) const;
  void grow_tree_locked(const std::string& from, const std::string& to, const version::VersionInfo& vc,
                        const std::vector<std::string>& changed_nodes);
  std::string commit_locked(const std::optional<std::string>& message, bool checkpoint, uint64_t samples_processed);
  bool at_head_locked() const;
  std::string commit_id_locked() const;
  /// Removes versions/ folders that no node of the commit tree names (a killed commit's).
  size_t collect_orphan_nodes();
  /// What a killed writer left (orphan version folders, chunks no index names, temps at the root),
  /// removed by a writable open and collect_orphans(); returns how many.
  size_t collect_leftovers();
  /// Writer: finishes an unfinished flush (validating its journal first). Reader: reads through it.
  void recover_journal();
  void replay_journal(const nlohmann::json& journal);
  void release_lock();
  void check_writable() const;
  std::vector<std::string> tensor_names_locked() const;
  void create_group_locked(const std::string& name);

  std::string path_;
  bool read_only_;
  std::shared_ptr<Storage> storage_;                    // the dataset's root
  std::shared_ptr<version::NodeStorage> node_storage_;  // the checked-out node's view of it
  version::VersionInfo vc_ = version::VersionInfo::fresh();
  std::string node_ = version::kFirstCommit;
  version::DatasetDiff ds_diff_;
  bool ds_diff_dirty_ = false;
  std::shared_ptr<ChunkCache> cache_;
  nlohmann::json meta_;
  nlohmann::json info_ = nlohmann::json::object();
  bool meta_dirty_ = false;
  std::map<std::string, std::shared_ptr<Tensor>> tensors_;
  mutable std::shared_mutex mu_;
  bool info_dirty_ = false;
  std::string detached_;  // why writes are refused, once detach() ran
  int lock_fd_ = -1;
  std::unique_ptr<remote::WriteLock> remote_lock_;
  size_t orphans_collected_ = 0;
};

}  // namespace chute
