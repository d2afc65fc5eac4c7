#include "chute/dataset/dataset.h"
#include "chute/dataset/dataset_internal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "chute/core/error.h"
#include "chute/format/encoders.h"
#include "chute/format/version.h"
#include "chute/storage/local_storage.h"

namespace fs = std::filesystem;

namespace chute {
namespace dataset_detail {

// Datasets open for writing in this process, by canonical path (or URL): a second writable open
// shares the first object (a second object would keep its own, diverging copy of the indexes).
std::mutex g_writers_mu;
std::map<std::string, std::weak_ptr<Dataset>>& writers() {
  static std::map<std::string, std::weak_ptr<Dataset>> m;
  return m;
}

}  // namespace dataset_detail

using namespace dataset_detail;

namespace {

constexpr const char* kLock = ".chute_lock";
using version::kFirstCommit;

}  // namespace

nlohmann::json dataset_detail::parse_json(const std::string& text, const std::string& what) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(what + " is not valid JSON (" + e.what() + ")");
  }
}

nlohmann::json dataset_detail::initial_meta() {
  return {{"allow_delete", true},
          {"default_index", nlohmann::json::array({{{"start", nullptr}, {"step", nullptr}, {"stop", nullptr}}})},
          {"groups", nlohmann::json::array()},
          {"hidden_tensors", nlohmann::json::array()},
          {"tensor_names", nlohmann::json::object()},
          {"tensors", nlohmann::json::array()},
          {"version", kFormatVersion}};
}

nlohmann::json dataset_detail::initial_version_info() {
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

namespace {

std::string canonical(const std::string& path) {
  std::error_code ec;
  auto p = fs::weakly_canonical(path, ec);
  return ec ? path : p.string();
}

// Names at a dataset's root that belong to chute or Deep Lake 3, never to a tensor or group.
bool is_reserved_root_name(const std::string& seg) {
  static const std::set<std::string> reserved = {kDatasetMeta,
                                                 kVersionInfo,
                                                 kDatasetInfo,
                                                 kJournal,
                                                 kLock,
                                                 "version_control_info.lock",
                                                 "dataset_lock.lock",
                                                 "dataset_diff",
                                                 "queries.json",
                                                 "queries.lock",
                                                 "linked_creds.json",
                                                 "versions",
                                                 "chunks",
                                                 "chunks_index",
                                                 "tiles_index",
                                                 "tensor_meta.json",
                                                 "tensor_info.json",
                                                 "commit_diff",
                                                 "chunk_set"};
  return reserved.count(seg) > 0 || seg.rfind(".chute", 0) == 0;
}

bool is_valid_name(const std::string& name) {
  try {
    Dataset::validate_name(name);
    return true;
  } catch (const InvalidArgument&) {
    return false;
  }
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "versions/<id>/" at the start of a key: its length, else 0.
size_t node_prefix(const std::string& key) {
  if (key.rfind("versions/", 0) != 0) return 0;
  auto slash = key.find('/', 9);
  if (slash == std::string::npos || slash == 9) return 0;
  for (size_t i = 9; i < slash; ++i)
    if (!std::isalnum(static_cast<unsigned char>(key[i])) && key[i] != '_' && key[i] != '-') return 0;
  return slash + 1;
}

// A file a flush may publish: a node's meta or diff, or one of a tensor's meta and index files,
// at the root or in a node's folder.
bool is_publishable(const std::string& full) {
  if (full == kVersionInfo) return true;
  std::string key = full.substr(node_prefix(full));
  if (key == kDatasetMeta || key == kDatasetInfo || key == "commit_info.json" || key == "dataset_diff") return true;
  for (const char* suffix : {"/tensor_meta.json", "/tensor_info.json", "/commit_diff", "/chunks_index/unsharded",
                             "/tiles_index/unsharded", "/chunk_set"}) {
    if (ends_with(key, suffix)) return is_valid_name(key.substr(0, key.size() - std::strlen(suffix)));
  }
  return false;
}

// A chunk file a flush may delete: "<tensor key>/chunks/<hex id>".
bool is_chunk_key(const std::string& full) {
  std::string key = full.substr(node_prefix(full));
  auto at = key.rfind("/chunks/");
  return at != std::string::npos && at > 0 && is_chunk_name(key.substr(at + 8)) && is_valid_name(key.substr(0, at));
}

}  // namespace

// The journal of a flush, checked before any of it is used: every rename moves a temp file of
// chute's onto the file it stands for, every obsolete entry is a chunk file. Anything else (paths
// outside the dataset, absolute paths, user files) is a FormatError and nothing is touched.
nlohmann::json dataset_detail::checked_journal(const std::string& text, const std::string& what) {
  nlohmann::json j = parse_json(text, what);
  auto bad = [&](const std::string& why) -> void {
    throw FormatError(what + ": corrupt journal (" + why + "); nothing was changed");
  };
  if (!j.is_object() || !j.contains("renames") || !j.contains("obsolete") || !j["renames"].is_array() ||
      !j["obsolete"].is_array())
    bad("expected {\"renames\": [...], \"obsolete\": [...]}");
  for (const auto& r : j["renames"]) {
    if (!r.is_array() || r.size() != 2 || !r[0].is_string() || !r[1].is_string()) bad("a rename is not [from, to]");
    std::string from = r[0], to = r[1];
    if (!is_publishable(to)) bad("'" + to + "' is not a file a flush publishes");
    if (temp_target(from) != to) bad("'" + from + "' is not a temp file of '" + to + "'");
  }
  for (const auto& k : j["obsolete"]) {
    if (!k.is_string() || !is_chunk_key(k.get<std::string>()))
      bad("obsolete entry " + k.dump() + " is not a chunk file");
  }
  return j;
}

namespace {

// fcntl open-file-description lock on one byte of .chute_lock: a writer holds it for writing while
// it publishes a flush, readers hold it for reading while they read the metas, so a reader never
// sees half of a flush. (The writer's whole-file flock is separate: OFD locks and flock do not
// interact on Linux.)
class PublishLock {
 public:
  PublishLock(int fd, short type) : fd_(fd) {
    if (fd_ >= 0 && !set(F_OFD_SETLKW, type)) fd_ = -1;  // a file system without locks: nothing to wait for
  }
  ~PublishLock() {
    if (fd_ >= 0) set(F_OFD_SETLK, F_UNLCK);
  }
  PublishLock(const PublishLock&) = delete;
  PublishLock& operator=(const PublishLock&) = delete;

 private:
  bool set(int cmd, short type) {
    struct flock fl;
    std::memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 1;
    while (::fcntl(fd_, cmd, &fl) != 0)
      if (errno != EINTR) return false;
    return true;
  }
  int fd_;
};

long read_holder_pid(const std::string& lock_path) {
  int fd = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[32] = {0};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  ::close(fd);
  return n > 0 ? std::strtol(buf, nullptr, 10) : 0;
}

// Takes the writer's flock on `lock_path` and records this process's pid in it, or throws
// LockedError naming the holder.
int take_write_lock(const std::string& path, const std::string& lock_path) {
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    throw IoError("cannot open '" + lock_path + "' for writing (" + std::strerror(errno) +
                  "); is the dataset on read-only storage? open it with read_only=True");
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    long pid = read_holder_pid(lock_path);
    throw LockedError("dataset '" + path + "' is open for writing in another process" +
                          (pid > 0 ? " (pid " + std::to_string(pid) + ")" : std::string()) +
                          "; open it with read_only=True, or close it there first",
                      pid);
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) {
    ssize_t ignored = ::pwrite(fd, pid.data(), pid.size(), 0);
    (void)ignored;  // the pid is for messages only
  }
  return fd;
}

}  // namespace

void Dataset::validate_name(const std::string& name) {
  auto bad = [&](const std::string& why) {
    std::string shown;
    for (char c : name) shown += c == '\0' ? std::string("\\0") : std::string(1, c);
    throw InvalidNameError("invalid tensor or group name '" + shown + "': " + why);
  };
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
    if (start == 0 && is_reserved_root_name(seg)) bad("'" + seg + "' is the name of a file the dataset itself keeps");
    if (seg == "chunks" || seg == "chunks_index" || seg == "tiles_index")
      bad("'" + seg + "' is a folder name tensors use");
    start = end + 1;
  }
}

Dataset::Dataset(std::string path, bool read_only, std::shared_ptr<Storage> storage)
    : path_(std::move(path)),
      read_only_(read_only),
      storage_(std::move(storage)),
      cache_(std::make_shared<ChunkCache>(kDefaultCacheBytes)) {}

Dataset::~Dataset() { release_lock(); }

void Dataset::release_lock() {
  remote_lock_.reset();
  if (lock_fd_ >= 0) {
    ::flock(lock_fd_, LOCK_UN);
    ::close(lock_fd_);
    lock_fd_ = -1;
  }
}

bool Dataset::exists(const std::string& path, const remote::S3Options& remote) {
  if (is_remote_path(path)) {
    auto storage = open_storage(path, remote);
    static_cast<const remote::S3Storage&>(*storage).check_bucket();  // a missing bucket is an error, not "no"
    return storage->exists(kDatasetMeta);
  }
  std::error_code ec;
  return fs::is_regular_file(fs::path(path) / kDatasetMeta, ec);
}

std::shared_ptr<Dataset> Dataset::open(const std::string& path, bool read_only, const remote::S3Options& remote,
                                       const std::string& address) {
  if (is_remote_path(path)) return open_remote(path, read_only, remote, address);
  std::error_code ec;
  if (!fs::is_directory(path, ec)) throw IoError("no dataset at '" + path + "': the folder does not exist");
  if (!exists(path)) throw IoError("'" + path + "' is not a Deep Lake dataset: it has no " + kDatasetMeta);
  std::unique_lock<std::mutex> writers_lock(g_writers_mu, std::defer_lock);
  if (!read_only) {
    writers_lock.lock();
    auto it = writers().find(canonical(path));
    if (it != writers().end())
      if (auto live = it->second.lock()) {
        if (!address.empty()) live->checkout(address, false);
        return live;
      }
  }
  std::shared_ptr<Dataset> ds(new Dataset(path, read_only, std::make_shared<LocalStorage>(path)));
  std::string lock_path = (fs::path(path) / kLock).string();
  if (read_only) {
    // Never created, never written: a reader on read-only storage or beside a live writer.
    int fd = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
    {
      PublishLock reading(fd, F_RDLCK);
      ds->recover_journal();
      ds->load(address);
    }
    if (fd >= 0) ::close(fd);
    return ds;
  }
  ds->lock_fd_ = take_write_lock(path, lock_path);
  {
    PublishLock publishing(ds->lock_fd_, F_WRLCK);
    ds->recover_journal();
  }
  ds->load(address);
  ds->orphans_collected_ = ds->collect_leftovers();
  writers()[canonical(path)] = ds;
  return ds;
}

std::shared_ptr<Dataset> Dataset::create(const std::string& path, bool overwrite, const remote::S3Options& remote) {
  if (is_remote_path(path)) return create_remote(path, overwrite, remote);
  std::error_code ec;
  if (exists(path)) {
    if (!overwrite)
      throw InvalidArgument("a dataset already exists at '" + path + "'; pass overwrite=True to replace it");
    remove(path, "it was replaced by chute.empty(overwrite=True)");
  } else if (fs::is_directory(path, ec) && !fs::is_empty(path, ec)) {
    if (!overwrite)
      throw InvalidArgument("'" + path +
                            "' is a folder that is not empty and not a dataset; refusing to create a dataset in it");
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

void Dataset::remove(const std::string& path, const std::string& why, const remote::S3Options& remote) {
  bool is_remote = is_remote_path(path);
  auto storage = is_remote ? open_storage(path, remote) : nullptr;
  if (!exists(path, remote)) throw IoError("no dataset at '" + path + "' to delete");
  {
    // A writable handle of this process on the dataset must not write into whatever comes next.
    std::lock_guard<std::mutex> lock(g_writers_mu);
    auto it = writers().find(is_remote ? storage->url() : canonical(path));
    if (it != writers().end()) {
      if (auto live = it->second.lock()) live->detach(why);
      writers().erase(it);
    }
  }
  if (is_remote) {
    // Another writer: refused by taking its lock, which the deletion then takes away with the rest.
    auto held = std::make_unique<remote::WriteLock>(storage);
    storage->remove_all("");
    held.reset();
    return;
  }
  // Another process writing it: refuse. Hold its lock while deleting so none can start meanwhile.
  int fd = take_write_lock(path, (fs::path(path) / kLock).string());
  std::error_code ec;
  fs::remove_all(path, ec);
  ::close(fd);
  if (ec) throw IoError("cannot delete the dataset at '" + path + "': " + ec.message());
}

void Dataset::detach(const std::string& why) {
  std::unique_lock lock(mu_);
  if (!detached_.empty()) return;
  detached_ = "dataset '" + path_ + "' can no longer be written: " + why;
  for (auto& [name, t] : tensors_) t->detach(detached_);
  release_lock();
}

void Dataset::recover_journal() {
  std::string text;
  try {
    text = storage_->read(kJournal);
  } catch (const NotFoundError&) {
    return;
  }
  std::string what = path_ + "/" + kJournal;
  nlohmann::json j = checked_journal(text, what);
  if (storage_->is_remote() && j["renames"].empty() && j["obsolete"].empty()) return;  // a published flush's
  if (read_only_) {
    // The flush was decided but not finished (its writer died): read its files where they are.
    std::map<std::string, std::string> redirects;
    for (const auto& r : j["renames"]) redirects[r[1].get<std::string>()] = r[0].get<std::string>();
    storage_->redirect_reads(std::move(redirects));
    return;
  }
  replay_journal(j);
}

void Dataset::replay_journal(const nlohmann::json& j) {
  for (const auto& r : j["renames"]) {
    std::string from = r[0], to = r[1];
    if (storage_->exists(from)) storage_->rename(from, to);
  }
  for (const auto& k : j["obsolete"]) storage_->remove(k.get<std::string>());
  if (storage_->is_remote()) {
    // Kept, emptied, still naming its flush: a reader that saw the name change reads the metas again.
    static std::atomic<uint64_t> flushes{0};
    nlohmann::json done = {
        {"renames", nlohmann::json::array()},
        {"obsolete", nlohmann::json::array()},
        {"flush", j.contains("flush") ? j["flush"]
                                      : nlohmann::json(std::to_string(::getpid()) + "-" + std::to_string(flushes++))}};
    storage_->write(kJournal, done.dump());
    return;
  }
  storage_->remove(kJournal);
  storage_->sync_folder("");
}

std::vector<std::string> Dataset::tensor_names() const {
  std::shared_lock lock(mu_);
  return tensor_names_locked();
}

std::vector<std::string> Dataset::tensor_names_locked() const {
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
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  for (const auto& k : meta_["hidden_tensors"]) out.push_back(k.get<std::string>());
  return out;
}

std::vector<std::string> Dataset::groups() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  for (const auto& g : meta_["groups"]) out.push_back(g.get<std::string>());
  return out;
}

bool Dataset::has_tensor(const std::string& name) const {
  std::shared_lock lock(mu_);
  return tensors_.count(name) > 0;
}

std::shared_ptr<Tensor> Dataset::tensor(const std::string& name) const {
  std::shared_lock lock(mu_);
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    std::string known;
    for (const auto& n : tensor_names_locked()) known += (known.empty() ? "" : ", ") + n;
    throw KeyError("tensor '" + name + "' does not exist in dataset '" + path_ +
                   "' (tensors: " + (known.empty() ? "none" : known) + ")");
  }
  return it->second;
}

nlohmann::json Dataset::info() const {
  std::shared_lock lock(mu_);
  return info_;
}

void Dataset::check_writable() const {
  if (!detached_.empty()) throw InvalidArgument(detached_);
  if (read_only_)
    throw InvalidArgument("dataset '" + path_ + "' is open read-only; load it with read_only=False to write");
  if (!at_head_locked()) throw VersionError(not_at_head_message());
}

std::string Dataset::not_at_head_message() const {
  return "dataset '" + path_ + "' is checked out at commit '" + node_ + "' (branch '" + vc_.node(node_).branch +
         "'), which is not a branch head; checkout a branch, or make one here with checkout(name, create=True), "
         "to write";
}

void Dataset::create_group(const std::string& name) {
  std::unique_lock lock(mu_);
  check_writable();
  validate_name(name);
  create_group_locked(name);
}

void Dataset::create_group_locked(const std::string& name) {
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

std::shared_ptr<Tensor> Dataset::create_tensor(const TensorSpec& spec) {
  const std::string& name = spec.name;
  const std::string& sample_compression = spec.sample_compression;
  const std::string& chunk_compression = spec.chunk_compression;
  std::unique_lock lock(mu_);
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
  if (!spec.dtype.empty()) dtype_from_name(spec.dtype);
  auto slash = name.rfind('/');
  // Check the parent groups before anything changes: a tensor on the way is an error.
  for (std::string g = slash == std::string::npos ? "" : name.substr(0, slash); !g.empty();) {
    if (tensors_.count(g)) throw InvalidArgument("'" + g + "' is a tensor, it cannot be a group");
    auto s = g.rfind('/');
    g = s == std::string::npos ? "" : g.substr(0, s);
  }
  TensorMeta meta = TensorMeta::make(name.substr(slash == std::string::npos ? 0 : slash + 1), spec.htype, spec.dtype,
                                     sample_compression, chunk_compression, spec.max_chunk_size, spec.tiling_threshold,
                                     spec.meta_extra);
  if (slash != std::string::npos) create_group_locked(name.substr(0, slash));
  node_storage_->remove_all(name);  // leftovers of a tensor that was never published
  auto t = Tensor::create(node_storage_, cache_, name, name, std::move(meta), spec.info);
  node_storage_->add_tensor(name);
  tensors_[name] = t;
  meta_["tensors"].push_back(name);
  meta_["tensor_names"][name] = name;
  meta_dirty_ = true;
  return t;
}

void Dataset::set_info(nlohmann::json info) {
  std::unique_lock lock(mu_);
  check_writable();
  if (!info.is_object())
    throw InvalidArgument("dataset info must be a JSON object, got " + std::string(info.type_name()));
  info_ = std::move(info);
  info_dirty_ = true;
  meta_dirty_ = true;
  ds_diff_.info_updated = true;
  ds_diff_dirty_ = true;
}

size_t Dataset::collect_orphans() {
  std::unique_lock lock(mu_);
  check_writable();
  return collect_leftovers();
}

size_t Dataset::collect_leftovers() {
  size_t n = collect_orphan_nodes();
  if (at_head_locked())
    for (auto& [name, t] : tensors_) n += t->collect_orphans();
  for (const auto& f : storage_->list("")) {
    if (is_temp_name(f) && storage_->remove(f)) ++n;
  }
  return n;
}

bool Dataset::dirty() const {
  std::shared_lock lock(mu_);
  if (meta_dirty_) return true;
  return std::any_of(tensors_.begin(), tensors_.end(), [](const auto& kv) { return kv.second->dirty(); });
}

void Dataset::flush() {
  std::unique_lock lock(mu_);
  if (read_only_) return;
  if (!detached_.empty()) throw InvalidArgument(detached_);
  flush_locked();
}

void Dataset::flush_locked() {
  bool any = meta_dirty_ || ds_diff_dirty_ ||
             std::any_of(tensors_.begin(), tensors_.end(), [](const auto& kv) { return kv.second->dirty(); });
  if (!any) return;
  FlushBatch batch;
  for (auto& [name, t] : tensors_) t->stage(batch);
  if (meta_dirty_) {
    batch.files.emplace_back(kDatasetMeta, meta_.dump());
    // Written whenever it was set, {} included, and whenever it has content (Deep Lake's files).
    if (info_dirty_ || !info_.empty()) batch.files.emplace_back(kDatasetInfo, info_.dump());
  }
  if (ds_diff_dirty_) batch.files.emplace_back("dataset_diff", ds_diff_.serialize());
  // The chunk_sets name every chunk the staged indexes name in this node's folder.
  auto sets = node_storage_->pending_chunk_sets();
  for (const auto& p : sets) batch.files.emplace_back(p.key, p.bytes);
  std::vector<std::pair<std::string, std::string>> files;
  for (auto& [key, content] : batch.files) files.emplace_back(node_storage_->root_key(key), std::move(content));
  nlohmann::json obsolete = nlohmann::json::array();
  for (const auto& k : batch.obsolete) obsolete.push_back(node_storage_->root_key(k));
  publish_locked(files, obsolete);
  node_storage_->chunk_sets_published(sets);
  for (auto& [name, t] : tensors_) t->on_committed();
  for (const auto& k : obsolete) cache_->erase(k.get<std::string>());  // cached under their locations
  meta_dirty_ = false;
  info_dirty_ = false;
  ds_diff_dirty_ = false;
}

void Dataset::publish_locked(const std::vector<std::pair<std::string, std::string>>& files,
                             const nlohmann::json& obsolete) {
  // 1. Every new file durable under a temporary name (chunks are already durable).
  nlohmann::json renames = nlohmann::json::array();
  std::vector<std::string> temps;
  for (const auto& [key, content] : files) {
    temps.push_back(key + temp_suffix());
    storage_->write(temps.back(), content);
    renames.push_back({temps.back(), key});
  }
  storage_->sync_all(temps);
  // 2. The journal: once it exists the flush is decided and will be finished by whoever opens next.
  //    Readers wait (publish lock) until the renames are done, so none sees half of them.
  // The flush's name: readers of an object store compare it before and after they read the metas.
  static std::atomic<uint64_t> flush_counter{0};
  std::string flush_id = std::to_string(::getpid()) + "-" + std::to_string(std::time(nullptr)) + "-" +
                         std::to_string(flush_counter++) + "-" + std::to_string(std::random_device{}() % 1000000);
  nlohmann::json journal = {{"renames", renames}, {"obsolete", obsolete}, {"flush", flush_id}};
  if (remote_lock_) remote_lock_->check();  // a writer that lost its lock publishes nothing
  PublishLock publishing(lock_fd_, F_WRLCK);
  storage_->rename(storage_->write_temp(kJournal, journal.dump()), kJournal);
  // 3. Publish, then forget the journal.
  replay_journal(journal);
}

}  // namespace chute
