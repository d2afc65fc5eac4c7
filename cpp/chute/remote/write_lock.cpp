#include "chute/remote/write_lock.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <ctime>
#include <random>

#include <nlohmann/json.hpp>

#include "chute/core/error.h"

namespace chute::remote {
namespace {

std::string hostname() {
  char buf[256] = {0};
  return ::gethostname(buf, sizeof buf - 1) == 0 ? std::string(buf) : std::string("?");
}

struct Holder {
  std::string owner;
  long pid = 0;
  std::string host;
  int64_t expires = 0;
};

// The lock object's holder, or none when there is no object or it is not one of chute's.
bool read_holder(const Storage& s, Holder& h) {
  std::string text;
  try {
    text = s.read(WriteLock::kKey);
  } catch (const NotFoundError&) {
    return false;
  }
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("owner") || !j["owner"].is_string()) return false;
  h.owner = j["owner"];
  h.pid = j.value("pid", 0L);
  h.host = j.value("host", std::string());
  h.expires = j.value("expires", int64_t(0));
  return true;
}

// A holder that was a process of this machine and is gone (a killed writer): its lock is stale
// before it expires.
bool dead_on_this_host(const Holder& h) {
  if (h.host != hostname() || h.pid <= 0) return false;
  return ::kill(static_cast<pid_t>(h.pid), 0) != 0 && errno == ESRCH;
}

[[noreturn]] void locked(const Storage& s, const Holder& h) {
  int64_t left = h.expires - static_cast<int64_t>(std::time(nullptr));
  throw LockedError("dataset '" + s.url() + "' is open for writing in another process (pid " + std::to_string(h.pid) +
                        " on " + h.host + "; its lock expires in " + std::to_string(left < 0 ? 0 : left) +
                        " s unless refreshed); open it with read_only=True, or close it there first",
                    h.pid);
}

}  // namespace

WriteLock::WriteLock(std::shared_ptr<const Storage> storage, std::chrono::seconds expiry)
    : storage_(std::move(storage)), expiry_(expiry), pid_(::getpid()) {
  std::mt19937_64 rng{std::random_device{}()};
  owner_ = std::to_string(rng()) + "-" + std::to_string(::getpid());
  Holder h;
  if (read_holder(*storage_, h) && h.owner != owner_ && h.expires > static_cast<int64_t>(std::time(nullptr)) &&
      !dead_on_this_host(h))
    locked(*storage_, h);
  storage_->write(kKey, body());
  if (!read_holder(*storage_, h) || h.owner != owner_) locked(*storage_, h);
  refresher_ = std::thread([this] { refresh_loop(); });
}

WriteLock::~WriteLock() {
  try {
    release();
  } catch (...) {
    // the object expires on its own
  }
}

std::string WriteLock::body() const {
  nlohmann::json j = {{"owner", owner_},
                      {"pid", static_cast<long>(::getpid())},
                      {"host", hostname()},
                      {"expires", static_cast<int64_t>(std::time(nullptr)) + expiry_.count()}};
  return j.dump();
}

void WriteLock::refresh_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (cv_.wait_for(lock, expiry_ / 4, [this] { return stop_; })) break;
    lock.unlock();
    try {
      Holder h;
      if (read_holder(*storage_, h) && h.owner == owner_) storage_->write(kKey, body());
    } catch (...) {
      // a failed refresh is retried at the next period; check() reports a lost lock
    }
    lock.lock();
  }
}

void WriteLock::check() const {
  Holder h;
  if (read_holder(*storage_, h) && h.owner != owner_) locked(*storage_, h);
}

void WriteLock::release() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (released_) return;
    released_ = true;
    stop_ = true;
  }
  cv_.notify_all();
  if (::getpid() != pid_) {
    // A forked child: the refresher is the parent's thread and the lock the parent's to release.
    if (refresher_.joinable()) refresher_.detach();
    return;
  }
  if (refresher_.joinable()) refresher_.join();
  Holder h;
  if (read_holder(*storage_, h) && h.owner == owner_) storage_->remove(kKey);
}

}  // namespace chute::remote
