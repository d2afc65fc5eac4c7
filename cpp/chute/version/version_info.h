#pragma once
// Deep Lake 3's version_control_info.json: the commit tree and the branches. Every node is a
// folder of metadata (the dataset root for the first node, versions/<id>/ for the others); a
// branch names its head, the one node of the branch that is still written (commit_time null).
// commit() freezes the head and makes a new empty head its child. See
// docs/dl3_version_control_notes.md for the facts this follows.
// Thread-safety: none; the Dataset that owns one guards it.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace chute::version {

/// The id of the first node, which lives at the dataset's root.
inline constexpr const char* kFirstCommit = "firstdbf9474d461a19e9333c2fd19b46115348f";

struct CommitNode {
  std::string id;
  std::string branch;
  std::string parent;  // empty for the first node
  std::vector<std::string> children;
  nlohmann::json message = nullptr;  // string or null
  nlohmann::json time = nullptr;     // float (Deep Lake's utcnow().timestamp()) or null
  nlohmann::json user = nullptr;
  bool is_checkpoint = false;
  uint64_t total_samples_processed = 0;
  /// Frozen nodes are commits; a node without a commit time is its branch's head.
  bool frozen() const { return !time.is_null(); }
};

class VersionInfo {
 public:
  /// One node (the first), branch main: what a fresh dataset has.
  static VersionInfo fresh();
  /// FormatError naming `what` when the file is not Deep Lake's layout.
  static VersionInfo parse(const std::string& text, const std::string& what);
  /// version_control_info.json (Deep Lake's key order).
  std::string serialize() const;
  /// <node folder>/commit_info.json of one node.
  std::string commit_info(const std::string& id) const;

  bool has(const std::string& id) const { return nodes_.count(id) > 0; }
  /// True when the file named the id, reachable or not (its folder is not an orphan).
  bool listed(const std::string& id) const { return nodes_.count(id) > 0 || listed_.count(id) > 0; }
  const CommitNode& node(const std::string& id) const;
  CommitNode& node(const std::string& id);
  const std::map<std::string, std::string>& branches() const { return branches_; }
  /// Nodes in the order a walk from the first node through children meets them.
  std::vector<std::string> ids() const;
  /// A branch's head, else a node id, else "" (branch names are tried first, as Deep Lake does).
  std::string resolve(const std::string& address) const;
  /// parent, grandparent, ... up to the first node.
  std::vector<std::string> ancestors(const std::string& id) const;

  /// A new head `id` on `branch` under `parent`; the branch now names it.
  void add_head(const std::string& id, const std::string& branch, const std::string& parent);
  /// Drops a node (from its parent's children too); the caller fixes the branches.
  void remove(const std::string& id);
  void set_branch(const std::string& branch, const std::string& head) { branches_[branch] = head; }
  void remove_branch(const std::string& branch) { branches_.erase(branch); }

  /// The folder of a node's files: "" for the first node, "versions/<id>/" for the others.
  static std::string folder(const std::string& id);
  /// A new random 40-hex id (Deep Lake's ids are sha1 digests of the time and a random number).
  static std::string new_id();
  /// Deep Lake's commit time: datetime.utcnow().timestamp(), the UTC wall clock read as local time.
  static double now();

 private:
  std::map<std::string, CommitNode> nodes_;
  std::map<std::string, std::string> branches_;
  std::set<std::string> listed_;  // every id the parsed file had
};

}  // namespace chute::version
