#pragma once
// A fixed pool of worker threads with a bounded task queue.
// Thread-safety: submit() may be called from any thread. The destructor joins the workers.
// A pool created in a process that has since forked is not used by the child: the child
// gets a fresh pool (see get_shared_pool), because the parent's threads do not exist there.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace chute {

class ThreadPool {
 public:
  explicit ThreadPool(size_t num_threads, size_t max_queue = 4096);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t size() const { return workers_.size(); }
  void submit(std::function<void()> task);
  /// Stops accepting work, lets queued tasks finish, joins the threads. Idempotent.
  void shutdown();
  pid_t owner_pid() const { return pid_; }

  /// Runs fn(i) for i in [0, n) on the pool and the calling thread; rethrows the first exception
  /// (by lowest index) on the caller after every task has finished.
  void parallel_for(size_t n, const std::function<void(size_t)>& fn);

 private:
  void run();
  std::vector<std::thread> workers_;
  std::deque<std::function<void()>> queue_;
  std::mutex mu_;
  std::condition_variable has_work_, has_room_;
  size_t max_queue_;
  bool stopping_ = false;
  pid_t pid_;
};

/// The process-wide decode pool with `hint` threads (0: the core count), recreated after fork.
std::shared_ptr<ThreadPool> get_shared_pool(size_t hint = 0);

}  // namespace chute
