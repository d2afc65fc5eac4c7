#include "chute/dataset/dataset.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <mutex>

#include "chute/core/error.h"
#include "chute/format/version.h"

namespace fs = std::filesystem;

namespace chute {
namespace {

constexpr const char* kDatasetMeta = "dataset_meta.json";
constexpr const char* kVersionInfo = "version_control_info.json";
constexpr const char* kDatasetInfo = "dataset_info.json";
constexpr const char* kJournal = ".chute_journal";
constexpr const char* kLock = ".chute_lock";
constexpr const char* kFirstCommit = "firstdbf9474d461a19e9333c2fd19b46115348f";
constexpr size_t kDefaultCacheBytes = size_t(512) << 20;

nlohmann::json parse_json(const std::string& text, const std::string& what) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(what + " is not valid JSON (" + e.what() + ")");
  }
}

nlohmann::json initial_meta() {
  return {{"allow_delete", true},
          {"default_index", nlohmann::json::array({{{"start", nullptr}, {"step", nullptr}, {"stop", nullptr}}})},
          {"groups", nlohmann::json::array()},
          {"hidden_tensors", nlohmann::json::array()},
          {"tensor_names", nlohmann::json::object()},
          {"tensors", nlohmann::json::array()},
          {"version", kFormatVersion}};
}

nlohmann::json initial_version_info() {
  return {{"commits",
           {{kFirstCommit,
             {{"branch", "main"},
              {"parent", nullptr},
              {"children", nlohmann::json::array()},
              {"commit_message", nullptr},
              {"commit_time", nullptr},
              {"commit_user_name", nullptr},
              {"is_checkpoint", false},
              {"total_samples_processed", 0}}}}},
          {"branches", {{"main", kFirstCommit}}}};
}

// Datasets open for writing in this process, by canonical path: a second writable open shares the
// first object (a second object would keep its own, diverging copy of the indexes).
std::mutex g_writers_mu;
std::map<std::string, std::weak_ptr<Dataset>>& writers() {
  static std::map<std::string, std::weak_ptr<Dataset>> m;
  return m;
}

std::string canonical(const std::string& path) {
  std::error_code ec;
  auto p = fs::weakly_canonical(path, ec);
  return ec ? path : p.string();
}

bool is_string_list(const nlohmann::json& j) {
  if (!j.is_array()) return false;
  return std::all_of(j.begin(), j.end(), [](const nlohmann::json& v) { return v.is_string(); });
}

}  // namespace

void Dataset::validate_name(const std::string& name) {
  auto bad = [&](const std::string& why) { throw InvalidArgument("invalid tensor or group name '" + name + "': " + why); };
  if (name.empty()) bad("it is empty");
  if (name.find('\\') != std::string::npos) bad("backslashes are not allowed ('/' separates groups)");
  if (name.find('\0') != std::string::npos) bad("NUL characters are not allowed");
  if (name.front() == '/') bad("it must be relative, not start with '/'");
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    std::string seg = name.substr(start, end - start);
    if (seg.empty()) bad("it has an empty segment ('//' or a trailing '/')");
    if (seg == "." || seg == "..") bad("'.' and '..' segments would leave the dataset folder");
    start = end + 1;
  }
}

Dataset::Dataset(std::string path, bool read_only)
    : path_(std::move(path)), read_only_(read_only), storage_(std::make_shared<LocalStorage>(path_)),
      cache_(std::make_shared<ChunkCache>(kDefaultCacheBytes)) {}

Dataset::~Dataset() { release_lock(); }

void Dataset::release_lock() {
  if (lock_fd_ >= 0) {
    ::flock(lock_fd_, LOCK_UN);
    ::close(lock_fd_);
    lock_fd_ = -1;
  }
}

bool Dataset::exists(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(path) / kDatasetMeta, ec);
}

std::shared_ptr<Dataset> Dataset::open(const std::string& path, bool read_only) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) throw IoError("no dataset at '" + path + "': the folder does not exist");
  if (!exists(path)) {
    if (fs::exists(fs::path(path) / kJournal, ec) || fs::exists(fs::path(path) / (std::string(kDatasetMeta) + ".pending"), ec)) {
      // A create that was killed before its first flush published: nothing was ever flushed.
    }
    throw IoError("'" + path + "' is not a Deep Lake dataset: it has no " + kDatasetMeta);
  }
  std::unique_lock<std::mutex> writers_lock(g_writers_mu, std::defer_lock);
  if (!read_only) {
    writers_lock.lock();
    auto it = writers().find(canonical(path));
    if (it != writers().end())
      if (auto live = it->second.lock()) return live;
  }
  std::shared_ptr<Dataset> ds(new Dataset(path, read_only));
  if (!read_only) {
    std::string lock_path = (fs::path(path) / kLock).string();
    ds->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (ds->lock_fd_ < 0) throw IoError("cannot open '" + lock_path + "' for writing (is the dataset read-only? use read_only=True)");
    if (::flock(ds->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      ds->release_lock();
      throw IoError("dataset '" + path + "' is open for writing in another process; open it with read_only=True");
    }
  }
  ds->recover_journal();
  ds->load();
  if (!read_only) {
    for (auto& [name, t] : ds->tensors_) ds->orphans_collected_ += t->collect_orphans();
    for (const auto& f : ds->storage_->list("")) {
      if (f.find(".tmp") != std::string::npos) {
        ds->storage_->remove(f);
        ++ds->orphans_collected_;
      }
    }
    writers()[canonical(path)] = ds;
  }
  return ds;
}

std::shared_ptr<Dataset> Dataset::create(const std::string& path, bool overwrite) {
  std::error_code ec;
  {
    // An overwritten dataset's old writer (if any) must not be handed out again.
    std::lock_guard<std::mutex> lock(g_writers_mu);
    writers().erase(canonical(path));
  }
  if (exists(path)) {
    if (!overwrite) throw InvalidArgument("a dataset already exists at '" + path + "'; pass overwrite=True to replace it");
    fs::remove_all(path, ec);
    if (ec) throw IoError("cannot delete the dataset at '" + path + "': " + ec.message());
  } else if (fs::is_directory(path, ec) && !fs::is_empty(path, ec)) {
    if (!overwrite)
      throw InvalidArgument("'" + path + "' is a folder that is not empty and not a dataset; refusing to create a dataset in it");
    throw InvalidArgument("'" + path + "' is a folder that is not a dataset; overwrite=True only replaces datasets");
  }
  fs::create_directories(path, ec);
  if (ec) throw IoError("cannot create '" + path + "': " + ec.message());
  {
    LocalStorage s(path);
    // The version info first, the meta last: a dataset exists once its meta does.
    s.rename(s.write_temp(kVersionInfo, initial_version_info().dump()), kVersionInfo);
    s.rename(s.write_temp(kDatasetMeta, initial_meta().dump()), kDatasetMeta);
  }
  return open(path, false);
}

void Dataset::recover_journal() {
  if (!storage_->exists(kJournal)) return;
  nlohmann::json j = parse_json(storage_->read(kJournal), path_ + "/" + kJournal);
  try {
    for (const auto& r : j.at("renames")) {
      std::string from = r.at(0), to = r.at(1);
      if (storage_->exists(from)) storage_->rename(from, to);
    }
    for (const auto& k : j.at("obsolete")) storage_->remove(k.get<std::string>());
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(path_ + "/" + kJournal + ": corrupt journal (" + e.what() + ")");
  }
  storage_->remove(kJournal);
  fsync_dir(storage_->root());
}

void Dataset::load() {
  std::string what = path_ + "/" + kDatasetMeta;
  meta_ = parse_json(storage_->read(kDatasetMeta), what);
  if (!meta_.is_object()) throw FormatError(what + ": expected a JSON object");
  for (const char* k : {"tensors", "groups", "hidden_tensors"}) {
    if (meta_.contains(k) && !is_string_list(meta_[k])) throw FormatError(what + ": '" + k + "' must be a list of strings");
    if (!meta_.contains(k)) meta_[k] = nlohmann::json::array();
  }
  if (meta_.contains("tensor_names") && !meta_["tensor_names"].is_object())
    throw FormatError(what + ": 'tensor_names' must be an object");
  std::error_code ec;
  if (fs::is_directory(fs::path(path_) / "versions", ec) && !fs::is_empty(fs::path(path_) / "versions", ec))
    throw FormatError("dataset '" + path_ + "' has more than one commit (a versions/ folder); version control is not supported yet");
  if (storage_->exists(kVersionInfo)) {
    auto vc = parse_json(storage_->read(kVersionInfo), path_ + "/" + kVersionInfo);
    if (vc.is_object() && vc.contains("commits") && vc["commits"].is_object() && vc["commits"].size() > 1)
      throw FormatError("dataset '" + path_ + "' has " + std::to_string(vc["commits"].size()) +
                        " commits; version control is not supported yet");
  }
  if (storage_->exists(kDatasetInfo)) info_ = parse_json(storage_->read(kDatasetInfo), path_ + "/" + kDatasetInfo);

  std::map<std::string, std::string> key_to_name;
  if (meta_.contains("tensor_names"))
    for (auto it = meta_["tensor_names"].begin(); it != meta_["tensor_names"].end(); ++it) {
      if (!it.value().is_string()) throw FormatError(what + ": tensor_names['" + it.key() + "'] must be a string");
      key_to_name[it.value().get<std::string>()] = it.key();
    }
  for (const auto& k : meta_["tensors"]) {
    std::string key = k.get<std::string>();
    std::string name = key_to_name.count(key) ? key_to_name[key] : key;
    validate_name(key);
    tensors_[name] = std::make_shared<Tensor>(storage_, cache_, name, key, !read_only_);
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
}

std::vector<std::string> Dataset::tensor_names() const {
  std::vector<std::string> out;
  const auto& hidden = meta_["hidden_tensors"];
  std::map<std::string, std::string> key_to_name;
  for (auto& [n, t] : tensors_) key_to_name[t->key()] = n;
  for (const auto& k : meta_["tensors"]) {
    std::string key = k.get<std::string>();
    if (std::find(hidden.begin(), hidden.end(), k) != hidden.end()) continue;
    out.push_back(key_to_name.count(key) ? key_to_name[key] : key);
  }
  return out;
}

std::vector<std::string> Dataset::hidden_tensor_names() const {
  std::vector<std::string> out;
  for (const auto& k : meta_["hidden_tensors"]) out.push_back(k.get<std::string>());
  return out;
}

std::vector<std::string> Dataset::groups() const {
  std::vector<std::string> out;
  for (const auto& g : meta_["groups"]) out.push_back(g.get<std::string>());
  return out;
}

std::shared_ptr<Tensor> Dataset::tensor(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    std::string known;
    for (const auto& n : tensor_names()) known += (known.empty() ? "" : ", ") + n;
    throw KeyError("tensor '" + name + "' does not exist in dataset '" + path_ + "' (tensors: " + (known.empty() ? "none" : known) + ")");
  }
  return it->second;
}

void Dataset::check_writable() const {
  if (read_only_) throw InvalidArgument("dataset '" + path_ + "' is open read-only; load it with read_only=False to write");
}

void Dataset::create_group(const std::string& name) {
  check_writable();
  validate_name(name);
  std::string g = name;
  while (!g.empty()) {
    if (tensors_.count(g)) throw InvalidArgument("'" + g + "' is a tensor, it cannot be a group");
    auto& groups = meta_["groups"];
    if (std::find(groups.begin(), groups.end(), g) == groups.end()) groups.push_back(g);
    auto slash = g.rfind('/');
    g = slash == std::string::npos ? "" : g.substr(0, slash);
  }
  meta_dirty_ = true;
}

std::shared_ptr<Tensor> Dataset::create_tensor(const std::string& name, const std::string& htype, const std::string& dtype,
                                               const std::string& sample_compression, const std::string& chunk_compression,
                                               int64_t max_chunk_size, int64_t tiling_threshold,
                                               const nlohmann::json& meta_extra, const nlohmann::json& info) {
  check_writable();
  validate_name(name);
  if (tensors_.count(name)) throw InvalidArgument("tensor '" + name + "' already exists");
  const auto& groups = meta_["groups"];
  if (std::find(groups.begin(), groups.end(), name) != groups.end())
    throw InvalidArgument("'" + name + "' is a group, it cannot be a tensor");
  if (!sample_compression.empty() && !chunk_compression.empty())
    throw InvalidArgument("tensor '" + name + "': sample_compression and chunk_compression cannot both be set");
  compression_from_name(sample_compression);
  compression_from_name(chunk_compression);
  if (!dtype.empty()) dtype_from_name(dtype);
  auto slash = name.rfind('/');
  if (slash != std::string::npos) create_group(name.substr(0, slash));
  TensorMeta meta = TensorMeta::make(name.substr(slash == std::string::npos ? 0 : slash + 1), htype, dtype,
                                     sample_compression, chunk_compression, max_chunk_size, tiling_threshold, meta_extra);
  storage_->remove_all(name);  // leftovers of a tensor that was never published
  auto t = Tensor::create(storage_, cache_, name, name, std::move(meta), info);
  tensors_[name] = t;
  meta_["tensors"].push_back(name);
  meta_["tensor_names"][name] = name;
  meta_dirty_ = true;
  return t;
}

void Dataset::set_info(nlohmann::json info) {
  check_writable();
  info_ = std::move(info);
  meta_dirty_ = true;
}

bool Dataset::dirty() const {
  if (meta_dirty_) return true;
  return std::any_of(tensors_.begin(), tensors_.end(), [](const auto& kv) { return kv.second->dirty(); });
}

void Dataset::flush() {
  if (read_only_ || !dirty()) return;
  FlushBatch batch;
  for (auto& [name, t] : tensors_) t->stage(batch);
  if (meta_dirty_) {
    batch.files.emplace_back(kDatasetMeta, meta_.dump());
    if (!info_.empty()) batch.files.emplace_back(kDatasetInfo, info_.dump());
  }
  // 1. Every new file durable under a temporary name (chunks are already durable).
  nlohmann::json renames = nlohmann::json::array();
  for (auto& [key, content] : batch.files) renames.push_back({storage_->write_temp(key, content), key});
  // 2. The journal: once it exists the flush is decided and will be finished by whoever opens next.
  nlohmann::json journal = {{"renames", renames}, {"obsolete", batch.obsolete}};
  storage_->rename(storage_->write_temp(kJournal, journal.dump()), kJournal);
  // 3. Publish, then forget the journal.
  recover_journal();
  for (auto& [name, t] : tensors_) t->on_committed();
  for (const auto& k : batch.obsolete) cache_->erase(k);
  meta_dirty_ = false;
}

}  // namespace chute
