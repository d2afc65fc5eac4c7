// Deep Lake 3's version control on a Dataset: loading a node (a branch head or a commit), commit,
// checkout (and branch creation), reset, delete_branch and what the log and diff read. A change to
// the commit tree writes the new node's folder and the tree's files (under temp names) first, makes
// them durable together (one syncfs), then renames the commit_info.json files and, last,
// version_control_info.json onto theirs: a killed process leaves the dataset at its last commit or
// flush. Folders no node names and the temps (all at the root) are removed when the dataset is next
// opened for writing.
#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <set>
#include <thread>

#include "chute/core/error.h"
#include "chute/dataset/dataset.h"
#include "chute/dataset/dataset_internal.h"

namespace chute {

using namespace dataset_detail;
using version::kFirstCommit;
using version::VersionInfo;

namespace {

// Files of each tensor a new node starts with, copied from the node it comes from (the chunks and
// the diffs stay behind: chunks are found through chunk_sets, diffs are per node).
constexpr const char* kTensorFiles[] = {"/tensor_meta.json",         "/tensor_info.json",
                                        "/chunks_index/unsharded",   "/tiles_index/unsharded",
                                        "/sequence_index/unsharded", "/creds_index/unsharded"};

std::string without_slash(const std::string& folder) { return folder.substr(0, folder.size() - 1); }

void check_branch_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 200 && name.find_first_of("@/\\:,") == std::string::npos && name != "." &&
            name != "..";
  for (char c : name) ok = ok && static_cast<unsigned char>(c) >= 0x20;
  if (!ok)
    throw InvalidArgument("'" + name +
                          "' cannot be a branch name: it must be non-empty text without '@', '/', '\\', ':' or ','");
}

}  // namespace

void Dataset::load(const std::string& address) {
  vc_ = storage_->exists(kVersionInfo)
            ? version::VersionInfo::parse(storage_->read(kVersionInfo), path_ + "/" + kVersionInfo)
            : version::VersionInfo::fresh();
  std::string want = address.empty() ? "main" : address;
  std::string id = vc_.resolve(want);
  if (id.empty()) {
    if (address.empty())
      id = kFirstCommit;  // a history without a main branch: its first node
    else
      throw VersionError("address '" + address + "' is neither a branch nor a commit of dataset '" + path_ +
                             "' (branches: " + nlohmann::json(vc_.branches()).dump() + ")",
                         VersionError::Kind::Checkout);
  }
  load_node(id);
}

void Dataset::load_node(const std::string& id) {
  for (auto& [name, t] : tensors_)
    t->detach("dataset '" + path_ + "' checked out another commit; take the tensor from the dataset again");
  tensors_.clear();
  std::string folder = version::VersionInfo::folder(id);
  std::string what = path_ + "/" + folder + kDatasetMeta;
  auto node = std::make_shared<version::NodeStorage>(storage_, id, vc_.ancestors(id));
  std::string text;
  try {
    text = node->read(kDatasetMeta);
  } catch (const NotFoundError&) {
    throw FormatError("dataset '" + path_ + "': commit '" + id + "' has no " + folder + kDatasetMeta +
                      " (its folder is missing)");
  }
  meta_ = parse_json(text, what);
  if (!meta_.is_object()) throw FormatError(what + ": expected a JSON object");
  if (!meta_.contains("tensors")) throw FormatError(what + ": it has no 'tensors' list");
  for (const char* k : {"tensors", "groups", "hidden_tensors"}) {
    if (meta_.contains(k) && !is_string_list(meta_[k]))
      throw FormatError(what + ": '" + k + "' must be a list of strings");
    if (!meta_.contains(k)) meta_[k] = nlohmann::json::array();
  }
  if (meta_.contains("tensor_names") && !meta_["tensor_names"].is_object())
    throw FormatError(what + ": 'tensor_names' must be an object");
  info_ = node->exists(kDatasetInfo) ? parse_json(node->read(kDatasetInfo), path_ + "/" + folder + kDatasetInfo)
                                     : nlohmann::json::object();
  ds_diff_ = node->exists("dataset_diff")
                 ? version::DatasetDiff::parse(node->read("dataset_diff"), path_ + "/" + folder + "dataset_diff")
                 : version::DatasetDiff();
  ds_diff_dirty_ = false;
  node_ = id;
  node_storage_ = node;
  meta_dirty_ = info_dirty_ = false;
  bool writable = !read_only_ && at_head_locked();

  std::map<std::string, std::string> key_to_name;
  if (meta_.contains("tensor_names"))
    for (auto it = meta_["tensor_names"].begin(); it != meta_["tensor_names"].end(); ++it) {
      if (!it.value().is_string()) throw FormatError(what + ": tensor_names['" + it.key() + "'] must be a string");
      key_to_name[it.value().get<std::string>()] = it.key();
    }
  for (const auto& k : meta_["tensors"]) {
    std::string key = k.get<std::string>();
    std::string name = key_to_name.count(key) ? key_to_name[key] : key;
    try {
      validate_name(key);
      validate_name(name);
    } catch (const InvalidArgument& e) {
      throw FormatError(what + ": " + e.what());
    }
    tensors_[name] = std::make_shared<Tensor>(node_storage_, cache_, name, key, writable);
  }
  for (auto& [name, t] : tensors_) {
    const auto& links = t->meta().json().value("links", nlohmann::json::object());
    if (!links.is_object()) continue;
    for (auto it = links.begin(); it != links.end(); ++it) {
      auto target = tensors_.find(it.key());
      if (target == tensors_.end()) continue;  // Deep Lake tolerates a missing companion; so do we
      t->add_link(target->second, it.value().value("extend", std::string()));
    }
  }
  if (!read_only_ && !at_head_locked())
    for (auto& [name, t] : tensors_) t->detach(not_at_head_message());
}

bool Dataset::at_head() const {
  std::shared_lock lock(mu_);
  return at_head_locked();
}

bool Dataset::at_head_locked() const { return !vc_.node(node_).frozen(); }

std::string Dataset::branch() const {
  std::shared_lock lock(mu_);
  return vc_.node(node_).branch;
}

std::string Dataset::pending_commit_id() const {
  std::shared_lock lock(mu_);
  return node_;
}

std::string Dataset::commit_id() const {
  std::shared_lock lock(mu_);
  return commit_id_locked();
}

std::string Dataset::commit_id_locked() const {
  const auto& n = vc_.node(node_);
  return n.frozen() ? node_ : n.parent;
}

std::string Dataset::version_info_json() const {
  std::shared_lock lock(mu_);
  return vc_.serialize();
}

bool Dataset::has_head_changes() const {
  std::shared_lock lock(mu_);
  return has_head_changes_locked();
}

// Deep Lake's rule: a head without children has changes when it is the first node (always), or
// when it holds a diff of any tensor or of the dataset, published or not yet.
bool Dataset::has_head_changes_locked() const {
  const auto& n = vc_.node(node_);
  if (n.frozen() || !n.children.empty()) return false;
  if (node_ == kFirstCommit || meta_dirty_ || ds_diff_dirty_ || node_storage_->exists("dataset_diff")) return true;
  for (const auto& [name, t] : tensors_)
    if (t->dirty()) return true;
  for (const auto& k : meta_["tensors"])
    if (node_storage_->exists(k.get<std::string>() + "/commit_diff")) return true;
  return false;
}

// Writes new files side by side (creating a file costs more than its bytes here; an object store
// takes several PUTs at once), the first error rethrown once all are done.
void Dataset::write_files(const std::vector<std::pair<std::string, std::string>>& files) const {
  size_t workers = std::min<size_t>(files.size(), storage_->is_remote() ? 8 : 2);
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mu;
  auto run = [&] {
    for (size_t i; (i = next++) < files.size();) {
      try {
        storage_->write(files[i].first, files[i].second);
      } catch (...) {
        std::lock_guard<std::mutex> g(error_mu);
        if (!error) error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 1; t < workers; ++t) threads.emplace_back(run);
  run();
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

void Dataset::grow_tree_locked(const std::string& from, const std::string& to, const VersionInfo& vc,
                               const std::vector<std::string>& changed_nodes) {
  std::string src = VersionInfo::folder(from), dst = VersionInfo::folder(to);
  std::string meta_text = storage_->read(src + kDatasetMeta);
  nlohmann::json meta = parse_json(meta_text, path_ + "/" + src + kDatasetMeta);
  std::vector<std::pair<std::string, std::string>> files;  // root key, bytes
  auto put = [&](const std::string& key, std::string bytes) { files.emplace_back(key, std::move(bytes)); };
  auto copy = [&](const std::string& key) {
    try {
      put(dst + key, storage_->read(src + key));
    } catch (const NotFoundError&) {
      // each file only where the source has it
    }
  };
  for (const auto& k : meta.value("tensors", nlohmann::json::array())) {
    std::string key = k.get<std::string>();
    for (const char* f : kTensorFiles) copy(key + f);
    put(dst + key + "/chunk_set", "");  // no chunk of its own yet
  }
  put(dst + kDatasetInfo, storage_->exists(src + kDatasetInfo) ? storage_->read(src + kDatasetInfo) : "{}");
  put(dst + "commit_info.json", vc.commit_info(to));
  put(dst + kDatasetMeta, meta_text);
  // The tree's own files under temp names, durable with the folder in one step...
  std::vector<std::pair<std::string, std::string>> renames;
  for (const auto& id : changed_nodes) {
    // at the root, where an interrupted commit's temps are collected by the next writable open
    renames.emplace_back(std::string("commit_info.json") + temp_suffix(), VersionInfo::folder(id) + "commit_info.json");
    put(renames.back().first, vc.commit_info(id));
  }
  renames.emplace_back(std::string(kVersionInfo) + temp_suffix(), kVersionInfo);
  put(renames.back().first, vc.serialize());
  write_files(files);
  std::vector<std::string> written;
  for (const auto& f : files) written.push_back(f.first);
  storage_->sync_all(written);
  // ...then each replaced in one rename, version_control_info.json last: until it is, the tree does
  // not name the new node (a commit_info.json ahead of it is only read when the tree file is lost).
  if (remote_lock_) remote_lock_->check();
  for (const auto& [tmp, key] : renames) storage_->rename(tmp, key);
}

std::string Dataset::commit(const std::optional<std::string>& message, bool allow_empty, bool checkpoint,
                            uint64_t samples_processed) {
  std::unique_lock lock(mu_);
  check_writable();
  if (!allow_empty && !has_head_changes_locked())
    throw VersionError("there are no changes, commit is not done; try again with allow_empty=True",
                       VersionError::Kind::EmptyCommit);
  return commit_locked(message, checkpoint, samples_processed);
}

std::string Dataset::commit_locked(const std::optional<std::string>& message, bool checkpoint,
                                   uint64_t samples_processed) {
  flush_locked();
  std::string frozen = node_, head = VersionInfo::new_id();
  VersionInfo vc = vc_;
  auto& s = vc.node(frozen);
  s.message = message ? nlohmann::json(*message) : nlohmann::json(nullptr);
  s.time = VersionInfo::now();
  s.user = "public";  // Deep Lake's name for a commit made without a token
  s.is_checkpoint = checkpoint;
  s.total_samples_processed = samples_processed;
  vc.add_head(head, s.branch, frozen);
  grow_tree_locked(frozen, head, vc, {frozen});
  vc_ = std::move(vc);
  load_node(head);
  return frozen;
}

std::string Dataset::checkout(const std::string& address, bool create) {
  std::unique_lock lock(mu_);
  if (!detached_.empty()) throw InvalidArgument(detached_);
  if (!create) {
    std::string id = vc_.resolve(address);
    if (id.empty())
      throw VersionError("address '" + address + "' is neither a branch nor a commit of dataset '" + path_ +
                             "' (branches: " + nlohmann::json(vc_.branches()).dump() +
                             "); pass create=True to make a branch of that name",
                         VersionError::Kind::Checkout);
    if (!read_only_ && at_head_locked()) flush_locked();
    load_node(id);
    return commit_id_locked();
  }
  if (read_only_)
    throw InvalidArgument("dataset '" + path_ + "' is open read-only; cannot create branch '" + address +
                          "' (load it with read_only=False)");
  if (vc_.branches().count(address))
    throw VersionError("branch '" + address + "' already exists; checkout('" + address + "') switches to it",
                       VersionError::Kind::Checkout);
  if (vc_.has(address))
    throw VersionError("'" + address + "' is a commit id; a branch cannot have that name",
                       VersionError::Kind::Checkout);
  check_branch_name(address);
  std::string base = node_;
  if (at_head_locked()) {
    flush_locked();
    if (has_head_changes_locked()) {
      commit_locked("auto commit before checkout to " + address, false, 0);
      base = vc_.node(node_).parent;
    } else if (!vc_.node(node_).parent.empty()) {
      base = vc_.node(node_).parent;  // an empty head stays its branch's head
    }
  }
  std::string from = node_, head = VersionInfo::new_id();
  VersionInfo vc = vc_;
  vc.add_head(head, address, base);
  grow_tree_locked(from, head, vc, {base});
  vc_ = std::move(vc);
  load_node(head);
  return commit_id_locked();
}

bool Dataset::reset(bool force) {
  std::unique_lock lock(mu_);
  if (!detached_.empty()) throw InvalidArgument(detached_);
  if (read_only_) throw InvalidArgument("dataset '" + path_ + "' is open read-only; cannot reset it");
  if (!at_head_locked() || !vc_.node(node_).children.empty())
    throw VersionError("dataset '" + path_ + "' is at commit '" + node_ +
                       "', not at the head of a branch; only a head's uncommitted changes can be reset");
  if (!force && !has_head_changes_locked()) return false;
  const auto old = vc_.node(node_);
  if (old.parent.empty()) {
    // No commit yet: the dataset goes back to empty (Deep Lake clears it).
    std::vector<std::string> keys;
    for (const auto& k : meta_["tensors"]) keys.push_back(k.get<std::string>());
    publish_locked({{kDatasetMeta, initial_meta().dump()}, {kDatasetInfo, "{}"}}, nlohmann::json::array());
    for (const auto& k : keys) storage_->remove_all(k);
    storage_->remove("dataset_diff");
    load_node(kFirstCommit);
    return true;
  }
  std::string head = VersionInfo::new_id();
  VersionInfo vc = vc_;
  vc.remove(old.id);
  vc.add_head(head, old.branch, old.parent);
  grow_tree_locked(old.parent, head, vc, {});
  vc_ = std::move(vc);
  load_node(head);
  storage_->remove_all(without_slash(VersionInfo::folder(old.id)));
  return true;
}

void Dataset::delete_branch(const std::string& name) {
  std::unique_lock lock(mu_);
  if (!detached_.empty()) throw InvalidArgument(detached_);
  if (read_only_)
    throw InvalidArgument("dataset '" + path_ + "' is open read-only; cannot delete branch '" + name + "'");
  if (!vc_.branches().count(name))
    throw VersionError("branch '" + name + "' does not exist (branches: " + nlohmann::json(vc_.branches()).dump() +
                       ")");
  if (name == "main") throw VersionError("branch 'main' cannot be deleted");
  if (name == vc_.node(node_).branch)
    throw VersionError("branch '" + name + "' is checked out; checkout another branch before deleting it");
  std::set<std::string> nodes;
  for (std::string id = vc_.branches().at(name); !id.empty() && vc_.node(id).branch == name; id = vc_.node(id).parent)
    nodes.insert(id);
  for (const auto& id : nodes)
    for (const auto& child : vc_.node(id).children)
      if (!nodes.count(child))
        throw VersionError("branch '" + name + "' cannot be deleted because it has sub-branches (branch '" +
                           vc_.node(child).branch + "' starts at its commit '" + id + "')");
  VersionInfo vc = vc_;
  for (const auto& id : nodes) vc.remove(id);
  vc.remove_branch(name);
  publish_locked({{kVersionInfo, vc.serialize()}}, nlohmann::json::array());
  vc_ = std::move(vc);
  for (const auto& id : nodes) storage_->remove_all(without_slash(VersionInfo::folder(id)));
}

void Dataset::delete_tensor(const std::string& name) {
  std::unique_lock lock(mu_);
  check_writable();
  auto it = tensors_.find(name);
  const auto& hidden = meta_["hidden_tensors"];
  if (it == tensors_.end() || std::find(hidden.begin(), hidden.end(), name) != hidden.end())
    throw KeyError("tensor '" + name + "' does not exist in dataset '" + path_ + "'");
  std::vector<std::string> names{name};
  for (const auto& l : it->second->link_names())
    if (tensors_.count(l)) names.push_back(l);
  if (!it->second->created_here()) {
    ds_diff_.deleted.push_back(name);
    ds_diff_dirty_ = true;
  }
  std::vector<std::string> keys;
  for (const auto& n : names) {
    auto t = tensors_.at(n);
    keys.push_back(t->key());
    t->detach("tensor '" + n + "' was deleted");
    tensors_.erase(n);
    auto drop = [&](nlohmann::json& list, const std::string& v) {
      list.erase(std::remove(list.begin(), list.end(), v), list.end());
    };
    drop(meta_["tensors"], t->key());
    drop(meta_["hidden_tensors"], t->key());
    if (meta_.contains("tensor_names")) meta_["tensor_names"].erase(n);
  }
  meta_dirty_ = true;
  flush_locked();
  // Published: its files in this node's folder go (an older commit's chunks are in their own folders).
  for (const auto& k : keys) node_storage_->remove_all(k);
}

size_t Dataset::collect_orphan_nodes() {
  size_t n = 0;
  if (!storage_->exists(kVersionInfo)) return n;
  for (const auto& name : storage_->list("versions")) {
    if (vc_.listed(name) || name.size() != 40 || name.find_first_not_of("0123456789abcdef") != std::string::npos)
      continue;
    storage_->remove_all("versions/" + name);
    ++n;
  }
  return n;
}

nlohmann::json Dataset::node_changes(const std::string& id) const {
  std::shared_lock lock(mu_);
  if (!vc_.has(id))
    throw VersionError("commit '" + id + "' is not in dataset '" + path_ + "'", VersionError::Kind::Checkout);
  std::string folder = VersionInfo::folder(id);
  nlohmann::json meta = parse_json(storage_->read(folder + kDatasetMeta), path_ + "/" + folder + kDatasetMeta);
  version::DatasetDiff dd;
  if (storage_->exists(folder + "dataset_diff"))
    dd = version::DatasetDiff::parse(storage_->read(folder + "dataset_diff"), path_ + "/" + folder + "dataset_diff");
  nlohmann::json renamed = nlohmann::json::object();
  for (const auto& [a, b] : dd.renamed) renamed[a] = b;
  nlohmann::json out = {{"dataset", {{"info_updated", dd.info_updated}, {"renamed", renamed}, {"deleted", dd.deleted}}},
                        {"tensors", nlohmann::json::object()}};
  std::map<std::string, std::string> key_to_name;
  const auto names = meta.value("tensor_names", nlohmann::json::object());
  for (auto it = names.begin(); it != names.end(); ++it)
    if (it.value().is_string()) key_to_name[it.value().get<std::string>()] = it.key();
  const auto hidden = meta.value("hidden_tensors", nlohmann::json::array());
  for (const auto& k : meta.value("tensors", nlohmann::json::array())) {
    if (std::find(hidden.begin(), hidden.end(), k) != hidden.end()) continue;
    std::string key = k.get<std::string>();
    std::string file = folder + key + "/commit_diff";
    version::CommitDiff d;
    if (storage_->exists(file)) d = version::CommitDiff::parse(storage_->read(file), path_ + "/" + file);
    out["tensors"][key_to_name.count(key) ? key_to_name[key] : key] = d.to_json();
  }
  return out;
}

}  // namespace chute
