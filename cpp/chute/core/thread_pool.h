#pragma once
// A fixed pool of worker threads with a bounded task queue.
// Thread-safety: submit(), parallel_for() and shutdown() may be called from any thread, any number
// of times; shutdown() joins each worker once. parallel_for() called from one of the pool's own
// workers runs inline (its helpers could otherwise wait behind the caller's own task forever).
// Tasks never let an exception escape a worker: parallel_for catches them and rethrows the error
// of the lowest index on the caller; submit()'s tasks must catch their own.
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
  /// Throws ResourceError when the threads cannot be started (none is left running).
  explicit ThreadPool(size_t num_threads, size_t max_queue = 4096);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t size() const { return num_workers_; }
  void submit(std::function<void()> task);
  /// Stops accepting work, lets queued tasks finish, joins the threads. Idempotent and safe to call
  /// from several threads at once (one joins, the others wait for it).
  void shutdown();
  pid_t owner_pid() const { return pid_; }
  /// True on one of this pool's worker threads.
  bool on_worker() const;

  /// Runs fn(i) for i in [0, n) on at most `max_threads` threads (0: all the pool's workers plus the
  /// calling thread); rethrows the first exception (by lowest index) on the caller after every task
  /// has finished.
  void parallel_for(size_t n, const std::function<void(size_t)>& fn, size_t max_threads = 0);

 private:
  void run();
  std::vector<std::thread> workers_;
  size_t num_workers_ = 0;
  std::deque<std::function<void()>> queue_;
  std::mutex mu_;
  std::mutex join_mu_;
  std::condition_variable has_work_, has_room_;
  size_t max_queue_;
  bool stopping_ = false;
  pid_t pid_;
};

/// The process-wide pool, with at least `hint` threads counting the caller (0: the core count).
/// It only grows: a smaller hint reuses it (limit the threads with parallel_for's max_threads), so
/// alternating thread counts never respawn it. Recreated after fork.
std::shared_ptr<ThreadPool> get_shared_pool(size_t hint = 0);

/// Drops the process-wide pool: its threads are joined now when no caller holds it, else when the
/// last running call returns. The next get_shared_pool() makes a new one. Used before fork().
void release_shared_pool();

}  // namespace chute
