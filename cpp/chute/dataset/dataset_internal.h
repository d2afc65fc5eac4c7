#pragma once
// Private to dataset.cpp and dataset_remote.cpp: the root file names, the first metas, the journal
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

nlohmann::json initial_meta();
nlohmann::json initial_version_info();
/// The journal of a flush, checked before any of it is used (FormatError naming `what` otherwise).
nlohmann::json checked_journal(const std::string& text, const std::string& what);
/// Datasets open for writing in this process (guarded by g_writers_mu).
extern std::mutex g_writers_mu;
std::map<std::string, std::weak_ptr<Dataset>>& writers();

}  // namespace dataset_detail
}  // namespace chute
