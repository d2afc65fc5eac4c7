#pragma once
// The per-node change records of Deep Lake 3's version control (big-endian integers):
// commit_diff (per tensor: created, appended range, updated and deleted rows), dataset_diff (per
// node: renamed and deleted tensors, info changed) and chunk_set (per tensor: the chunks whose
// files live in this node's folder, "name" or "name:commit[:key]" entries joined by ',').
// Thread-safety: none (plain values).
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace chute::version {

struct CommitDiff {
  bool created = false, info_updated = false, data_transformed = false, cleared = false;
  uint64_t added_start = 0, added_end = 0;  // rows appended in this node: [start, end)
  std::set<uint64_t> updated;               // rows older than this node that it changed
  std::vector<uint64_t> deleted, deleted_ids;

  /// An untouched tensor of `length` rows in a new node.
  static CommitDiff starting_at(uint64_t length) {
    CommitDiff d;
    d.added_start = d.added_end = length;
    return d;
  }
  static CommitDiff parse(std::string_view bytes, const std::string& what);
  std::string serialize() const;
  /// Row `i` changed: recorded when it is older than this node's appends.
  void on_update(uint64_t i) {
    if (i < added_start || i >= added_end) updated.insert(i);
  }
  nlohmann::json to_json() const;
};

struct DatasetDiff {
  bool info_updated = false;
  std::vector<std::pair<std::string, std::string>> renamed;  // old name, new name
  std::vector<std::string> deleted;                          // tensor names
  bool empty() const { return !info_updated && renamed.empty() && deleted.empty(); }
  static DatasetDiff parse(std::string_view bytes, const std::string& what);
  std::string serialize() const;
};

/// One chunk_set entry: where a chunk's file is when it is not in this node's own folder.
struct ChunkRef {
  std::string commit;  // empty: this node
  std::string key;     // empty: the same tensor key
};
/// Entries in file order.
std::vector<std::pair<std::string, ChunkRef>> parse_chunk_set(std::string_view bytes);
std::string serialize_chunk_set(const std::vector<std::pair<std::string, ChunkRef>>& entries);

}  // namespace chute::version
