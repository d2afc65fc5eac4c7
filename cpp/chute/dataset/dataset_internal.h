#pragma once
// Private to dataset.cpp, dataset_remote.cpp and dataset_version.cpp: the root file names, the first metas, the journal
// check and the registry of this process's writable datasets.
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

namespace chute {
class Dataset;
namespace dataset_detail {

constexpr const char* kDatasetMeta = "dataset_meta.json";
constexpr const char* kVersionInfo = "version_control_info.json";
constexpr const char* kJournal = ".chute_journal";
constexpr const char* kDatasetInfo = "dataset_info.json";

constexpr size_t kDefaultCacheBytes = size_t(512) << 20;

inline bool is_string_list(const nlohmann::json& j) {
  if (!j.is_array()) return false;
  for (const auto& v : j)
    if (!v.is_string()) return false;
  return true;
}

/// The parsed file; FormatError naming `what` when it is not JSON.
nlohmann::json parse_json(const std::string& text, const std::string& what);

nlohmann::json initial_meta();
nlohmann::json initial_version_info();
/// The journal of a flush, checked before any of it is used (FormatError naming `what` otherwise).
nlohmann::json checked_journal(const std::string& text, const std::string& what);
/// Datasets open for writing in this process (guarded by g_writers_mu).
extern std::mutex g_writers_mu;
std::map<std::string, std::weak_ptr<Dataset>>& writers();

}  // namespace dataset_detail
}  // namespace chute
