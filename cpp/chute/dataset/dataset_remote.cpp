// A dataset in an object store: opening (a lock object for writers, a snapshot reread for readers)
// and creating one. Local folders are in dataset.cpp; the journal, metas and tensors are shared.
#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "chute/core/error.h"
#include "chute/dataset/dataset.h"
#include "chute/dataset/dataset_internal.h"

namespace chute {

using namespace dataset_detail;

std::shared_ptr<Dataset> Dataset::open_remote(const std::string& path, bool read_only, const remote::S3Options& opts,
                                              const std::string& address) {
  auto storage = open_storage(path, opts);
  std::string url = storage->url();
  static_cast<const remote::S3Storage&>(*storage).check_bucket();
  if (!storage->exists(kDatasetMeta)) {
    if (storage->list("").empty())
      throw NotFoundError("no dataset at '" + url + "': nothing is stored under that prefix");
    throw IoError("'" + url + "' is not a Deep Lake dataset: it has no " + std::string(kDatasetMeta));
  }
  std::unique_lock<std::mutex> writers_lock(g_writers_mu, std::defer_lock);
  if (!read_only) {
    writers_lock.lock();
    auto it = writers().find(url);
    if (it != writers().end())
      if (auto live = it->second.lock()) {
        if (!address.empty()) live->checkout(address, false);
        return live;
      }
  }
  std::shared_ptr<Dataset> ds(new Dataset(url, read_only, storage));
  if (read_only) {
    ds->load_remote_snapshot(address);
    return ds;
  }
  ds->remote_lock_ = std::make_unique<remote::WriteLock>(storage);
  ds->recover_journal();
  ds->load(address);
  ds->orphans_collected_ = ds->collect_leftovers();
  writers()[url] = ds;
  return ds;
}

void Dataset::load_remote_snapshot(const std::string& address) {
  // The journal names the flush it belongs to, while it publishes and after (emptied). A reader
  // that finds a flush publishing reads its new files through the temp names (each temp is
  // deleted only after every copy is done, so a missing temp means its target is new). The load
  // is a snapshot when the journal still names the same flush at the end; otherwise a flush began
  // meanwhile: start over, after a short randomized pause that lets it finish.
  auto flush_of = [&](const std::string& text) -> std::string {
    if (text.empty()) return "none";
    nlohmann::json j = checked_journal(text, path_ + "/" + kJournal);
    return j.contains("flush") && j["flush"].is_string() ? j["flush"].get<std::string>() : text;
  };
  auto read_journal = [&]() -> std::string {
    try {
      return storage_->read(kJournal);
    } catch (const NotFoundError&) {
      return {};
    }
  };
  std::mt19937_64 rng{std::random_device{}()};
  for (int attempt = 0;; ++attempt) {
    std::string before = read_journal();
    std::map<std::string, std::string> redirects;
    if (!before.empty()) {
      nlohmann::json j = checked_journal(before, path_ + "/" + kJournal);
      for (const auto& r : j["renames"]) redirects[r[1].get<std::string>()] = r[0].get<std::string>();
    }
    storage_->redirect_reads(std::move(redirects));
    meta_ = nlohmann::json();
    info_ = nlohmann::json::object();
    tensors_.clear();
    bool loaded = true;
    try {
      load(address);
    } catch (const VersionError&) {
      throw;  // an unknown address is not half of a flush
    } catch (const Error&) {
      // Half of a flush that began meanwhile looks like a broken dataset (a tensor's meta newer
      // than its index): an error only when no flush began.
      if (flush_of(read_journal()) == flush_of(before)) throw;
      loaded = false;
    }
    if (loaded && flush_of(read_journal()) == flush_of(before)) return;
    if (attempt == 60)
      throw IoError("dataset '" + path_ + "' kept changing while it was opened (" + std::to_string(attempt) +
                    " flushes began during the open); open it again once its writer pauses");
    auto pause = std::chrono::milliseconds(std::min<int64_t>(200, int64_t(1) << std::min(attempt, 8)));
    std::this_thread::sleep_for(pause * std::uniform_real_distribution<double>(0.5, 1.5)(rng));
  }
}

std::shared_ptr<Dataset> Dataset::create_remote(const std::string& path, bool overwrite,
                                                const remote::S3Options& remote) {
  auto storage = open_storage(path, remote);
  static_cast<const remote::S3Storage&>(*storage).check_bucket();
  if (storage->exists(kDatasetMeta)) {
    if (!overwrite)
      throw InvalidArgument("a dataset already exists at '" + storage->url() + "'; pass overwrite=True to replace it");
    Dataset::remove(path, "it was replaced by chute.empty(overwrite=True)", remote);
  } else if (!storage->list("").empty()) {
    throw InvalidArgument("'" + storage->url() +
                          "' holds objects and is not a dataset; refusing to create a dataset under that prefix");
  }
  storage->write(kVersionInfo, initial_version_info().dump());
  storage->write(kDatasetMeta, initial_meta().dump());
  return open(path, false, remote);
}

}  // namespace chute
