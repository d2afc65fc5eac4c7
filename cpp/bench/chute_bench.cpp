// chute-bench: decode N samples of one tensor on T threads with the engine alone (no Python, no
// loader machinery) and print samples/s and MB/s as one JSON line. With --rrc S each image also
// goes through RandomResizedCrop(S) + RandomHorizontalFlip (the loader's fused ops): the ceiling
// the streaming loader is measured against.
// Usage: chute-bench DATASET[@ADDRESS] [--tensor images] [-n N] [-t T] [--repeat R] [--rrc S]
// (ADDRESS: a branch or commit id, Deep Lake's "path@address"; the JSON names the commit read.)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "chute/core/error.h"
#include "chute/core/thread_pool.h"
#include "chute/dataset/dataset.h"
#include "chute/ops/image_ops.h"

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--version") {
    std::printf("chute-bench %s\n", CHUTE_VERSION);
    return 0;
  }
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" || argc % 2 != 0) {
    std::fprintf(stderr,
                 "usage: %s DATASET[@BRANCH_OR_COMMIT] (a folder, or s3://bucket/prefix with the AWS_* variables) "
                 "[--tensor NAME] [-n N] "
                 "[-t THREADS] [--repeat R] [--rrc SIZE]\n       %s --version\n",
                 argv[0], argv[0]);
    return 2;
  }
  std::string path = argv[1], tensor = "images";
  uint64_t n = 0;
  size_t threads = std::thread::hardware_concurrency(), repeat = 3;
  uint32_t rrc = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--tensor")
      tensor = argv[i + 1];
    else if (a == "-n")
      n = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "-t")
      threads = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--repeat")
      repeat = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--rrc")
      rrc = static_cast<uint32_t>(std::strtoul(argv[i + 1], nullptr, 10));
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  try {
    // s3://bucket/prefix: credentials and endpoint from the AWS_* variables
    std::string address;
    if (auto at = path.rfind('@');
        at != std::string::npos && at > 0 && at + 1 < path.size() && path.find('/', at) == std::string::npos) {
      address = path.substr(at + 1);
      path = path.substr(0, at);
    }
    auto ds = chute::Dataset::open(path, true, chute::remote::s3_options_from_environment(), address);
    auto t = ds->tensor(tensor);
    if (n == 0 || n > t->length()) n = t->length();
    chute::ThreadPool pool(threads > 0 ? threads - 1 : 0);
    chute::ImagePipeline pipe;
    if (rrc) {
      chute::ImageOp crop{chute::OpKind::RandomResizedCrop};
      crop.height = crop.width = rrc;
      chute::ImageOp flip{chute::OpKind::RandomHorizontalFlip};
      pipe = chute::ImagePipeline({crop, flip});
      pipe.set_channels(3);
    }
    double best = 1e30;
    std::atomic<uint64_t> stored_bytes{0}, decoded_bytes{0};
    for (size_t r = 0; r < repeat; ++r) {
      stored_bytes = 0;
      decoded_bytes = 0;
      auto t0 = std::chrono::steady_clock::now();
      pool.parallel_for(n, [&](size_t i) {
        if (rrc) {
          thread_local std::string stored;
          thread_local std::vector<uint8_t> out;
          chute::Shape shape;
          t->fetch(i, stored, shape);
          out.resize(size_t(rrc) * rrc * 3);
          pipe.run(t->meta().sample_compression(), stored, shape, chute::DType::UInt8, 0, r, i, out.data(), "bench");
          decoded_bytes += out.size();
        } else {
          chute::SampleData s = t->read(i);
          decoded_bytes += s.bytes.size();
        }
      });
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::min(best, secs);
    }
    for (uint64_t i = 0; i < n; ++i) stored_bytes += t->stored_bytes(i).size();
    std::printf(
        "{\"tensor\": \"%s\", \"commit\": \"%s\", \"samples\": %llu, \"threads\": %zu, \"rrc\": %u, \"seconds\": %.4f, "
        "\"samples_per_s\": %.1f, \"stored_MB_per_s\": %.1f, \"decoded_MB_per_s\": %.1f}\n",
        tensor.c_str(), ds->pending_commit_id().c_str(), (unsigned long long)n, threads, rrc, best, n / best,
        stored_bytes.load() / best / 1e6, decoded_bytes.load() / best / 1e6);
  } catch (const chute::Error& e) {
    std::fprintf(stderr, "chute-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
