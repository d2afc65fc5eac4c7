#include "chute/core/thread_pool.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <system_error>

#include "chute/core/error.h"

namespace chute {
namespace {
thread_local const ThreadPool* t_worker_of = nullptr;  // the pool whose worker this thread is
}  // namespace

ThreadPool::ThreadPool(size_t num_threads, size_t max_queue) : max_queue_(max_queue), pid_(::getpid()) {
  // Zero workers is valid: parallel_for then runs everything on the calling thread.
  workers_.reserve(num_threads);
  try {
    for (size_t i = 0; i < num_threads; ++i) workers_.emplace_back([this] { run(); });
  } catch (const std::system_error& e) {
    size_t started = workers_.size();
    num_workers_ = started;
    shutdown();
    throw ResourceError("cannot start " + std::to_string(num_threads) + " engine threads (" + std::to_string(started) +
                        " started): " + e.what() + "; ask for fewer threads");
  }
  num_workers_ = workers_.size();
}

ThreadPool::~ThreadPool() {
  if (::getpid() != pid_) {
    // Forked child: the threads are not ours to join. Leak their handles rather than crash.
    for (auto& t : workers_) t.detach();
    return;
  }
  shutdown();
}

bool ThreadPool::on_worker() const { return t_worker_of == this; }

void ThreadPool::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  has_work_.notify_all();
  has_room_.notify_all();
  // One caller joins; a concurrent caller waits here until the joins are done.
  std::lock_guard<std::mutex> join_lock(join_mu_);
  for (auto& t : workers_) {
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();  // the pool's last owner let go on one of its own workers: that worker ends by itself
      continue;
    }
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

void ThreadPool::submit(std::function<void()> task) {
  if (num_workers_ == 0) {
    task();
    return;
  }
  std::unique_lock<std::mutex> lock(mu_);
  has_room_.wait(lock, [&] { return stopping_ || queue_.size() < max_queue_; });
  if (stopping_) {
    lock.unlock();
    task();  // never drop work: run it on the caller
    return;
  }
  queue_.push_back(std::move(task));
  lock.unlock();
  has_work_.notify_one();
}

void ThreadPool::run() {
  t_worker_of = this;
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      has_work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    has_room_.notify_one();
    try {
      task();
    } catch (...) {
      // submit()'s contract says tasks catch their own errors; one that does not must still not
      // terminate the process from a worker thread.
    }
  }
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t)>& fn, size_t max_threads) {
  if (n == 0) return;
  std::atomic<size_t> next{0};
  std::mutex err_mu;
  std::exception_ptr first_error;
  size_t first_error_index = SIZE_MAX;
  auto body = [&] {
    for (size_t i = next++; i < n; i = next++) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(err_mu);
        if (i < first_error_index) {
          first_error_index = i;
          first_error = std::current_exception();
        }
      }
    }
  };
  size_t helpers = std::min(num_workers_, n - 1);
  if (max_threads > 0) helpers = std::min(helpers, max_threads - 1);
  if (on_worker()) helpers = 0;  // nested: the helpers could queue behind this very task
  std::mutex done_mu;
  std::condition_variable done_cv;
  size_t done = 0;
  for (size_t h = 0; h < helpers; ++h) {
    submit([&] {
      body();
      std::lock_guard<std::mutex> lock(done_mu);
      ++done;
      done_cv.notify_one();
    });
  }
  body();
  std::unique_lock<std::mutex> lock(done_mu);
  done_cv.wait(lock, [&] { return done == helpers; });
  if (first_error) std::rethrow_exception(first_error);
}

namespace {
std::mutex g_pool_mu;
std::shared_ptr<ThreadPool> g_pool;
}  // namespace

std::shared_ptr<ThreadPool> get_shared_pool(size_t hint) {
  size_t want = hint ? hint : std::max(1u, std::thread::hardware_concurrency());
  std::lock_guard<std::mutex> lock(g_pool_mu);
  if (g_pool && g_pool->owner_pid() != ::getpid()) {
    // After fork the old pool's threads are gone; abandon it without joining.
    new std::shared_ptr<ThreadPool>(std::move(g_pool));
    g_pool.reset();
  }
  // The caller runs one share itself, so want-1 workers give `want` threads in total. The pool only
  // grows; callers that want fewer threads pass max_threads to parallel_for.
  size_t workers = want - 1;
  if (!g_pool || g_pool->size() < workers)
    g_pool = std::make_shared<ThreadPool>(std::max(workers, g_pool ? g_pool->size() : 0));
  return g_pool;
}

void release_shared_pool() {
  std::shared_ptr<ThreadPool> old;
  {
    std::lock_guard<std::mutex> lock(g_pool_mu);
    if (g_pool && g_pool->owner_pid() != ::getpid()) {
      new std::shared_ptr<ThreadPool>(std::move(g_pool));
      g_pool.reset();
    }
    old = std::move(g_pool);
  }
  // `old` goes out of scope here, outside the lock: the destructor joins when it was the last owner.
}

}  // namespace chute
