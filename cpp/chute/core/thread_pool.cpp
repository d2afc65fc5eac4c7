#include "chute/core/thread_pool.h"

#include <unistd.h>

#include <atomic>

namespace chute {

ThreadPool::ThreadPool(size_t num_threads, size_t max_queue) : max_queue_(max_queue), pid_(::getpid()) {
  // Zero workers is valid: parallel_for then runs everything on the calling thread.
  workers_.reserve(num_threads);
  for (size_t i = 0; i < num_threads; ++i) workers_.emplace_back([this] { run(); });
}

ThreadPool::~ThreadPool() {
  if (::getpid() != pid_) {
    // Forked child: the threads are not ours to join. Leak their handles rather than crash.
    for (auto& t : workers_) t.detach();
    return;
  }
  shutdown();
}

void ThreadPool::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
  }
  has_work_.notify_all();
  has_room_.notify_all();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

void ThreadPool::submit(std::function<void()> task) {
  if (workers_.empty()) {
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
    task();  // tasks catch their own exceptions (parallel_for wraps them)
  }
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t)>& fn) {
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
  size_t helpers = std::min(workers_.size(), n - 1);
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

std::shared_ptr<ThreadPool> get_shared_pool(size_t hint) {
  static std::mutex mu;
  static std::shared_ptr<ThreadPool> pool;
  size_t want = hint ? hint : std::max(1u, std::thread::hardware_concurrency());
  std::lock_guard<std::mutex> lock(mu);
  if (pool && pool->owner_pid() != ::getpid()) {
    // After fork the old pool's threads are gone; abandon it without joining.
    new std::shared_ptr<ThreadPool>(std::move(pool));
    pool.reset();
  }
  // The caller runs one share itself, so want-1 workers give `want` threads in total.
  size_t workers = want - 1;
  if (!pool || pool->size() != workers) pool = std::make_shared<ThreadPool>(workers);
  return pool;
}

}  // namespace chute
