#pragma once
// The single-writer lock of a dataset in an object store, where there is no flock: an object
// ".chute_lock" holding {"owner", "pid", "host", "expires"} that the writer refreshes every
// `refresh` seconds on its own thread and deletes when it closes. A second writer is refused
// while the object names another owner and has not expired (or names a process of this machine
// that is gone: a killed writer's lock is taken over at once); a writer that stalled past the
// expiry and was replaced finds out at its next flush (check()), before it publishes anything.
// Two writers starting within the same round trip are told apart by reading the object back
// after writing it: the last PUT wins and the other gets LockedError.
// Thread-safety: check() may be called from any thread; the destructor stops the refresher.
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "chute/storage/storage.h"

namespace chute::remote {

class WriteLock {
 public:
  static constexpr const char* kKey = ".chute_lock";
  /// Takes the lock or throws LockedError naming the holder.
  WriteLock(std::shared_ptr<const Storage> storage, std::chrono::seconds expiry = std::chrono::seconds(120));
  ~WriteLock();
  WriteLock(const WriteLock&) = delete;
  WriteLock& operator=(const WriteLock&) = delete;

  /// LockedError when another writer holds the lock now (this one expired and was taken over).
  void check() const;
  /// Stops refreshing and deletes the lock object if it is still this writer's.
  void release();

 private:
  std::string body() const;
  void refresh_loop();

  std::shared_ptr<const Storage> storage_;
  std::chrono::seconds expiry_;
  pid_t pid_;
  std::string owner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool released_ = false;
  std::thread refresher_;
};

}  // namespace chute::remote
