#include "chute/version/node_storage.h"

#include <algorithm>
#include <mutex>

#include "chute/core/error.h"
#include "chute/format/encoders.h"
#include "chute/version/version_info.h"

namespace chute::version {

NodeStorage::NodeStorage(std::shared_ptr<const Storage> root, std::string node, std::vector<std::string> ancestors)
    : root_(std::move(root)),
      node_(std::move(node)),
      folder_(VersionInfo::folder(node_)),
      ancestors_(std::move(ancestors)),
      first_(node_ == kFirstCommit) {}

bool NodeStorage::split_chunk_key(std::string_view key, std::string& tensor_key, std::string& name) {
  auto at = key.rfind("/chunks/");
  if (at == std::string_view::npos || at == 0) return false;
  name = std::string(key.substr(at + 8));
  if (name.empty() || name.find('/') != std::string::npos) return false;
  tensor_key = std::string(key.substr(0, at));
  return true;
}

NodeStorage::TensorChunks& NodeStorage::chunks_locked(const std::string& tensor_key) const {
  auto it = tensors_.find(tensor_key);
  if (it != tensors_.end()) return it->second;
  TensorChunks tc;
  auto folder_of = [&](const std::string& node, const ChunkRef& ref) {
    return VersionInfo::folder(ref.commit.empty() ? node : ref.commit) + (ref.key.empty() ? tensor_key : ref.key) +
           "/chunks/";
  };
  auto read_set = [&](const std::string& node) {
    std::string key = VersionInfo::folder(node) + tensor_key + "/chunk_set";
    try {
      return parse_chunk_set(root_->read(key));
    } catch (const NotFoundError&) {
      return std::vector<std::pair<std::string, ChunkRef>>();  // a missing chunk_set lists nothing
    }
  };
  if (!first_) {
    tc.own = read_set(node_);
    tc.published = tc.own.size();
    for (const auto& [name, ref] : tc.own) {
      tc.own_names.insert(name);
      tc.where.emplace(name, folder_of(node_, ref));
    }
  }
  // The nearest node listing a chunk has its file; the first node lists none (its chunks are in the root).
  for (const auto& a : ancestors_) {
    if (a == kFirstCommit) continue;
    for (const auto& [name, ref] : read_set(a)) tc.where.emplace(name, folder_of(a, ref));
  }
  return tensors_.emplace(tensor_key, std::move(tc)).first->second;
}

std::string NodeStorage::root_key(std::string_view key) const {
  if (first_) return std::string(key);
  std::string tensor_key, name;
  if (!split_chunk_key(key, tensor_key, name)) return folder_ + std::string(key);
  {
    std::shared_lock lock(mu_);
    auto it = tensors_.find(tensor_key);
    if (it != tensors_.end()) {
      auto w = it->second.where.find(name);
      return w == it->second.where.end() ? std::string(key) : w->second + name;
    }
  }
  std::unique_lock lock(mu_);
  const auto& tc = chunks_locked(tensor_key);
  auto w = tc.where.find(name);
  return w == tc.where.end() ? std::string(key) : w->second + name;
}

void NodeStorage::refresh() const {
  std::unique_lock lock(mu_);
  for (auto it = tensors_.begin(); it != tensors_.end();) {
    // Unpublished names of this process (a writer's) must stay: only readers refresh.
    it = it->second.own.size() == it->second.published && !it->second.is_new ? tensors_.erase(it) : std::next(it);
  }
}

bool NodeStorage::frozen(std::string_view key) const {
  if (first_) return false;
  std::string tensor_key, name;
  if (!split_chunk_key(key, tensor_key, name)) return false;
  std::unique_lock lock(mu_);
  const auto& tc = chunks_locked(tensor_key);
  auto w = tc.where.find(name);
  return !(tc.own_names.count(name) && w != tc.where.end() && w->second == folder_ + tensor_key + "/chunks/");
}

void NodeStorage::note_written(std::string_view key) const {
  if (first_) return;
  std::string tensor_key, name;
  if (!split_chunk_key(key, tensor_key, name) || !is_chunk_name(name)) return;
  std::unique_lock lock(mu_);
  auto& tc = chunks_locked(tensor_key);
  tc.where[name] = folder_ + tensor_key + "/chunks/";
  if (tc.own_names.insert(name).second) tc.own.emplace_back(name, ChunkRef{});
}

void NodeStorage::adopt_chunk(std::string_view key) const { note_written(key); }

void NodeStorage::add_tensor(const std::string& tensor_key) {
  if (first_) return;
  std::unique_lock lock(mu_);
  chunks_locked(tensor_key).is_new = true;
}

std::vector<NodeStorage::PendingSet> NodeStorage::pending_chunk_sets() const {
  std::vector<PendingSet> out;
  if (first_) return out;
  std::unique_lock lock(mu_);
  for (auto& [key, tc] : tensors_) {
    if (tc.own.size() == tc.published && !tc.is_new) continue;
    out.push_back({key, key + "/chunk_set", serialize_chunk_set(tc.own), tc.own.size()});
  }
  return out;
}

void NodeStorage::chunk_sets_published(const std::vector<PendingSet>& sets) {
  std::unique_lock lock(mu_);
  for (const auto& s : sets) {
    auto it = tensors_.find(s.tensor_key);
    if (it == tensors_.end()) continue;
    it->second.published = std::max(it->second.published, s.entries);
    it->second.is_new = false;
  }
}

bool NodeStorage::exists(std::string_view key) const { return root_->exists(root_key(key)); }

std::string NodeStorage::read(std::string_view key) const { return root_->read(root_key(key)); }

void NodeStorage::read_range_into(std::string_view key, uint64_t offset, uint64_t length, std::string& out) const {
  root_->read_range_into(root_key(key), offset, length, out);
}

std::string NodeStorage::read_prefix(std::string_view key, uint64_t max_bytes, uint64_t& file_size) const {
  return root_->read_prefix(root_key(key), max_bytes, file_size);
}

std::optional<uint64_t> NodeStorage::size_of(std::string_view key) const { return root_->size_of(root_key(key)); }

void NodeStorage::read_async(std::string_view key, ReadDone done) const {
  root_->read_async(root_key(key), std::move(done));
}

void NodeStorage::write_durable(std::string_view key, std::string_view data) const {
  note_written(key);
  root_->write_durable(root_key(key), data);
}

void NodeStorage::write(std::string_view key, std::string_view data) const {
  note_written(key);
  root_->write(root_key(key), data);
}

void NodeStorage::write(std::string_view key, std::string_view head, std::string_view body) const {
  note_written(key);
  root_->write(root_key(key), head, body);
}

void NodeStorage::sync(std::string_view key) const { root_->sync(root_key(key)); }

void NodeStorage::sync_folder(std::string_view folder_key) const {
  root_->sync_folder(folder_ + std::string(folder_key));
}

void NodeStorage::sync_all(const std::vector<std::string>& keys) const {
  std::vector<std::string> mapped;
  for (const auto& k : keys) mapped.push_back(root_key(k));
  root_->sync_all(mapped);
}

void NodeStorage::rename(std::string_view from_key, std::string_view to_key) const {
  root_->rename(root_key(from_key), root_key(to_key));
}

bool NodeStorage::remove(std::string_view key) const {
  if (first_) return root_->remove(key);
  std::string tensor_key, name;
  if (!split_chunk_key(key, tensor_key, name)) return root_->remove(folder_ + std::string(key));
  std::string own_folder = folder_ + tensor_key + "/chunks/";
  std::string target;
  {
    std::unique_lock lock(mu_);
    const auto& tc = chunks_locked(tensor_key);
    auto w = tc.where.find(name);
    if (w == tc.where.end()) {
      // Listed by no node: a chunk a killed writer left in this node's folder (collected here), or a chunk
      // of the first commit, whose file is in the root and is never deleted from here.
      target = own_folder + name;
    } else if (tc.own_names.count(name) && w->second == own_folder) {
      target = own_folder + name;
    } else {
      return false;  // an older node's chunk: never deleted from here
    }
  }
  return root_->remove(target);
}

void NodeStorage::remove_all(std::string_view key) const { root_->remove_all(folder_ + std::string(key)); }

std::vector<std::string> NodeStorage::list(std::string_view folder_key) const {
  return root_->list(folder_ + std::string(folder_key));
}

void NodeStorage::make_dirs(std::string_view key) const { root_->make_dirs(folder_ + std::string(key)); }

}  // namespace chute::version
