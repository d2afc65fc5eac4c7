#pragma once
// A dataset's files as one node of its commit tree sees them: the tensors and the engine keep
// their keys ("x/tensor_meta.json", "x/chunks/1f2e"), and NodeStorage maps them onto the root
// storage. Metas and indexes are the node's own copies (its folder, "versions/<id>/", or the
// root for the first node). A chunk file is where the node that wrote it keeps it: the node's
// own chunk_set, then each ancestor's, says which chunks are in that node's folder; a chunk no
// chunk_set lists is in the root. Chunks written through this storage go to the node's folder
// and join its chunk_set, which the dataset publishes with its next flush.
// Thread-safety: every method may be called from any thread (the chunk maps sit under a lock).
#include <map>
#include <memory>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "chute/storage/storage.h"
#include "chute/version/diffs.h"

namespace chute::version {

class NodeStorage : public Storage {
 public:
  /// `ancestors`: parent first, up to the first node. `head`: the node takes writes.
  NodeStorage(std::shared_ptr<const Storage> root, std::string node, std::vector<std::string> ancestors);

  const std::string& node() const { return node_; }
  const std::shared_ptr<const Storage>& root() const { return root_; }
  /// The root key a key of this node stands for (a chunk goes where its chunk_set says).
  std::string root_key(std::string_view key) const;
  /// A chunk_set file the next flush publishes: the node's tensors whose chunk list grew since
  /// the last published flush (node-space key "<tensor key>/chunk_set"); none for the first node.
  struct PendingSet {
    std::string tensor_key, key, bytes;
    size_t entries;
  };
  std::vector<PendingSet> pending_chunk_sets() const;
  void chunk_sets_published(const std::vector<PendingSet>& sets);
  /// The node keeps a chunk_set for this tensor key (an empty one for a new tensor).
  void add_tensor(const std::string& tensor_key);

  std::string url() const override { return root_->url(); }
  bool is_remote() const override { return root_->is_remote(); }
  std::string location(std::string_view key) const override { return root_key(key); }
  void refresh() const override;
  bool frozen(std::string_view key) const override;
  void adopt_chunk(std::string_view key) const override;
  bool exists(std::string_view key) const override;
  std::string read(std::string_view key) const override;
  void read_range_into(std::string_view key, uint64_t offset, uint64_t length, std::string& out) const override;
  std::string read_prefix(std::string_view key, uint64_t max_bytes, uint64_t& file_size) const override;
  std::optional<uint64_t> size_of(std::string_view key) const override;
  void read_async(std::string_view key, ReadDone done) const override;
  void write_durable(std::string_view key, std::string_view data) const override;
  void write(std::string_view key, std::string_view data) const override;
  void write(std::string_view key, std::string_view head, std::string_view body) const override;
  void sync(std::string_view key) const override;
  void sync_folder(std::string_view folder_key) const override;
  void sync_all(const std::vector<std::string>& keys) const override;
  void rename(std::string_view from_key, std::string_view to_key) const override;
  bool remove(std::string_view key) const override;
  void remove_all(std::string_view key) const override;
  std::vector<std::string> list(std::string_view folder_key) const override;
  void make_dirs(std::string_view key) const override;

 private:
  struct TensorChunks {
    std::unordered_map<std::string, std::string> where;  // chunk name -> root folder of its file
    std::vector<std::pair<std::string, ChunkRef>> own;   // this node's chunk_set, in order
    std::set<std::string> own_names;
    size_t published = 0;  // entries of `own` a published chunk_set holds
    bool is_new = false;   // a tensor created in this node: its (empty) chunk_set is due
  };
  /// Splits "<tensor key>/chunks/<name>"; false for any other key.
  static bool split_chunk_key(std::string_view key, std::string& tensor_key, std::string& name);
  TensorChunks& chunks_locked(const std::string& tensor_key) const;
  /// A written chunk joins the node's chunk_set.
  void note_written(std::string_view key) const;

  std::shared_ptr<const Storage> root_;
  std::string node_, folder_;
  std::vector<std::string> ancestors_;
  bool first_;
  mutable std::shared_mutex mu_;
  mutable std::map<std::string, TensorChunks> tensors_;
};

}  // namespace chute::version
