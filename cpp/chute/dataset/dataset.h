#pragma once
// A Deep Lake 3 dataset folder: dataset_meta.json, version_control_info.json and one folder per
// tensor. Publishing is crash-safe: a flush writes every changed meta and index file under a
// temporary name, then a journal naming the renames, then renames. Opening a dataset finishes
// (or discards) an interrupted flush, so a killed writer leaves the dataset at its last flush.
// Thread-safety: reads through Tensor objects may run concurrently; create_tensor, flush and
// appends must come from one thread at a time (the Python layer holds the GIL for them).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chute/dataset/tensor.h"
#include "chute/storage/chunk_cache.h"
#include "chute/storage/local_storage.h"

namespace chute {

class Dataset {
 public:
  static std::shared_ptr<Dataset> open(const std::string& path, bool read_only);
  static std::shared_ptr<Dataset> create(const std::string& path, bool overwrite);
  static bool exists(const std::string& path);
  /// Throws InvalidArgument when `name` is not a safe tensor or group name.
  static void validate_name(const std::string& name);

  ~Dataset();
  Dataset(const Dataset&) = delete;
  Dataset& operator=(const Dataset&) = delete;

  const std::string& path() const { return path_; }
  bool read_only() const { return read_only_; }
  /// Visible tensor names in creation order (group members as "group/name").
  std::vector<std::string> tensor_names() const;
  std::vector<std::string> hidden_tensor_names() const;
  std::vector<std::string> groups() const;
  bool has_tensor(const std::string& name) const { return tensors_.count(name) > 0; }
  std::shared_ptr<Tensor> tensor(const std::string& name) const;

  std::shared_ptr<Tensor> create_tensor(const std::string& name, const std::string& htype, const std::string& dtype,
                                        const std::string& sample_compression, const std::string& chunk_compression,
                                        int64_t max_chunk_size, int64_t tiling_threshold, const nlohmann::json& meta_extra,
                                        const nlohmann::json& info);
  void create_group(const std::string& name);
  /// Publishes everything appended since the last flush, atomically.
  void flush();
  bool dirty() const;
  nlohmann::json info() const { return info_; }
  void set_info(nlohmann::json info);
  /// Chunk files and temp files no index names; removed when a dataset is opened for writing.
  size_t orphans_collected() const { return orphans_collected_; }

 private:
  Dataset(std::string path, bool read_only);
  void load();
  void recover_journal();
  void release_lock();
  void check_writable() const;

  std::string path_;
  bool read_only_;
  std::shared_ptr<LocalStorage> storage_;
  std::shared_ptr<ChunkCache> cache_;
  nlohmann::json meta_;
  nlohmann::json info_ = nlohmann::json::object();
  bool meta_dirty_ = false;
  std::map<std::string, std::shared_ptr<Tensor>> tensors_;
  int lock_fd_ = -1;
  size_t orphans_collected_ = 0;
};

}  // namespace chute
