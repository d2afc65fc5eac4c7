// The engine's concurrency rules, driven from several threads at once; run under ThreadSanitizer
// by `make test` (preset tsan) as well as in the normal build. Each test states the rule it holds.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <thread>
#include <vector>

#include "chute/core/error.h"
#include "chute/core/thread_pool.h"
#include "chute/dataset/dataset.h"
#include "chute/loader/loader.h"
#include "chute/query/query.h"
#include "test_util.h"

using namespace chute;
namespace fs = std::filesystem;

namespace {
using test_util::temp_dir;

std::shared_ptr<Tensor> int_tensor(Dataset& ds, const std::string& name) {
  return ds.create_tensor(test_util::spec(name, "int64", "generic", 4096));
}

void append_int(Tensor& t, int64_t v) { t.append_array(reinterpret_cast<const uint8_t*>(&v), 8, {1}, DType::Int64); }

// A loader over rows 0..n-1 of `t`, in order.
std::shared_ptr<Loader> int_loader(const std::shared_ptr<Tensor>& t, uint64_t n, size_t batch, size_t threads) {
  std::vector<uint64_t> order(n);
  for (uint64_t i = 0; i < n; ++i) order[i] = i;
  LoaderTensor lt;
  lt.tensor = t;
  lt.name = t->name();
  LoaderOptions o;
  o.batch_size = batch;
  o.num_threads = threads;
  return std::make_shared<Loader>(std::vector<LoaderTensor>{lt}, order, o);
}

int64_t read_int(const Tensor& t, uint64_t i) {
  auto s = t.read(i);
  return *reinterpret_cast<const int64_t*>(s.bytes.data());
}
}  // namespace

// One dataset used from many threads: appends and flushes, create_tensor, name lookups, reads,
// queries and loaders never race (the dataset lock, the tensor locks, meta snapshots).
TEST(Concurrency, DatasetFromManyThreads) {
  std::string path = temp_dir("dataset");
  auto ds = Dataset::create(path, false);
  auto a = int_tensor(*ds, "a");
  for (int64_t i = 0; i < 64; ++i) append_int(*a, i);
  ds->flush();
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  threads.emplace_back([&] {  // the writer: appends and flushes
    for (int64_t i = 64; i < 400; ++i) {
      append_int(*a, i);
      if (i % 16 == 0) ds->flush();
    }
    ds->flush();
  });
  threads.emplace_back([&] {  // new tensors while everything else runs
    for (int k = 0; k < 20; ++k) {
      auto t = int_tensor(*ds, "b" + std::to_string(k));
      append_int(*t, k);
      ds->flush();
    }
  });
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&] {  // readers: names, metas, samples, queries
      while (!stop) {
        for (const auto& n : ds->tensor_names())
          if (!ds->has_tensor(n)) ++errors;
        uint64_t n = a->length();
        if (n == 0 || read_int(*a, n - 1) != static_cast<int64_t>(n - 1)) ++errors;
        auto m = a->meta();
        if (m.length() < n) ++errors;
        auto rows = run_query(*ds, "SELECT * WHERE a < 10", nullptr, n, 1);
        if (rows.size() != 10) ++errors;
      }
    });
  }
  threads.emplace_back([&] {  // loaders over what is there now
    while (!stop) {
      auto loader = int_loader(a, 64, 8, 2);
      Batch b;
      size_t rows = 0;
      while (loader->next(b, std::chrono::milliseconds(1000)) == Loader::Status::Ready) rows += b.indices.size();
      if (rows != 64) ++errors;
    }
  });
  threads[0].join();
  threads[1].join();
  stop = true;
  for (size_t i = 2; i < threads.size(); ++i) threads[i].join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(a->length(), 400u);
  auto back = Dataset::open(path, true);
  EXPECT_EQ(back->tensor("a")->length(), 400u);
  EXPECT_EQ(back->tensor_names().size(), 21u);
  ds.reset();
  back.reset();
  fs::remove_all(path);
}

// close() from several threads at once, and again after, joins each worker once.
TEST(Concurrency, LoaderCloseFromManyThreads) {
  std::string path = temp_dir("close");
  auto ds = Dataset::create(path, false);
  auto a = int_tensor(*ds, "a");
  for (int64_t i = 0; i < 256; ++i) append_int(*a, i);
  ds->flush();
  for (int round = 0; round < 20; ++round) {
    auto loader = int_loader(a, 256, 4, 3);
    Batch b;
    ASSERT_EQ(loader->next(b, std::chrono::milliseconds(5000)), Loader::Status::Ready);
    std::vector<std::thread> closers;
    for (int k = 0; k < 4; ++k) closers.emplace_back([&] { loader->close(); });
    for (auto& t : closers) t.join();
    loader->close();
    EXPECT_THROW(loader->next(b, std::chrono::milliseconds(10)), Error);
  }
  ds.reset();
  fs::remove_all(path);
}

// A second thread consuming the same loader is refused instead of silently taking half the batches.
TEST(Concurrency, LoaderRefusesASecondConsumerThread) {
  std::string path = temp_dir("consumer");
  auto ds = Dataset::create(path, false);
  auto a = int_tensor(*ds, "a");
  for (int64_t i = 0; i < 32; ++i) append_int(*a, i);
  ds->flush();
  auto loader = int_loader(a, 32, 4, 0);
  Batch b;
  ASSERT_EQ(loader->next(b, std::chrono::milliseconds(5000)), Loader::Status::Ready);
  bool refused = false;
  std::thread other([&] {
    try {
      Batch c;
      loader->next(c, std::chrono::milliseconds(1000));
    } catch (const InvalidArgument&) {
      refused = true;
    }
  });
  other.join();
  EXPECT_TRUE(refused);
  size_t rows = b.indices.size();
  while (loader->next(b, std::chrono::milliseconds(5000)) == Loader::Status::Ready) rows += b.indices.size();
  EXPECT_EQ(rows, 32u);
  ds.reset();
  fs::remove_all(path);
}

// parallel_for from inside one of the pool's own tasks runs inline instead of deadlocking.
TEST(Concurrency, NestedParallelForDoesNotDeadlock) {
  ThreadPool pool(2);
  std::atomic<int> sum{0};
  pool.parallel_for(8, [&](size_t) { pool.parallel_for(8, [&](size_t j) { sum += static_cast<int>(j); }); });
  EXPECT_EQ(sum.load(), 8 * 28);
}

// The shared pool only grows: alternating thread counts reuse it instead of respawning it.
TEST(Concurrency, SharedPoolIsNotRespawnedForSmallerHints) {
  auto big = get_shared_pool(6);
  for (int k = 0; k < 10; ++k) {
    EXPECT_EQ(get_shared_pool(2).get(), big.get());
    EXPECT_EQ(get_shared_pool(6).get(), big.get());
  }
  std::atomic<size_t> max_seen{0}, running{0};
  big->parallel_for(
      64,
      [&](size_t) {
        size_t now = ++running;
        size_t prev = max_seen.load();
        while (now > prev && !max_seen.compare_exchange_weak(prev, now)) {
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        --running;
      },
      2);
  EXPECT_LE(max_seen.load(), 2u);
  release_shared_pool();
  EXPECT_NE(get_shared_pool(2).get(), nullptr);
}

// shutdown() from several threads joins each worker once.
TEST(Concurrency, PoolShutdownFromManyThreads) {
  for (int round = 0; round < 20; ++round) {
    ThreadPool pool(3);
    std::atomic<int> n{0};
    for (int k = 0; k < 50; ++k) pool.submit([&] { ++n; });
    std::vector<std::thread> t;
    for (int k = 0; k < 3; ++k) t.emplace_back([&] { pool.shutdown(); });
    for (auto& x : t) x.join();
    EXPECT_EQ(n.load(), 50);
  }
}
