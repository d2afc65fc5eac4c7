// The streaming loader's contract, without Python: batches in plan order whatever the thread count,
// drop_last, and ignore_errors compaction (skipped samples leave the batch; the rest keep order).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "chute/codec/sample.h"
#include "chute/core/error.h"
#include "chute/dataset/dataset.h"
#include "chute/loader/loader.h"
#include "test_util.h"

using namespace chute;
namespace fs = std::filesystem;

namespace {

std::vector<uint64_t> drain(Loader& loader, std::vector<size_t>* batch_sizes = nullptr, size_t* skipped = nullptr) {
  std::vector<uint64_t> rows;
  Batch b;
  while (loader.next(b, std::chrono::milliseconds(10000)) == Loader::Status::Ready) {
    rows.insert(rows.end(), b.indices.begin(), b.indices.end());
    if (batch_sizes) batch_sizes->push_back(b.indices.size());
    if (skipped) *skipped += b.skipped.size();
    // fixed columns hold exactly the kept rows, in order
    const Column& col = b.columns[0];
    if (col.fixed && col.dtype == DType::Int64) {  // the int tensor holds row * 10
      EXPECT_EQ(col.buffer->size(), b.indices.size() * 8);
      for (size_t r = 0; r < b.indices.size(); ++r) {
        int64_t v;
        std::memcpy(&v, col.buffer->data() + r * 8, 8);
        EXPECT_EQ(static_cast<uint64_t>(v), b.indices[r] * 10);
      }
    } else if (col.fixed) {
      EXPECT_EQ(col.buffer->size(), b.indices.size() * num_elements(col.sample_shape) * dtype_size(col.dtype));
    }
  }
  return rows;
}

LoaderTensor column(const std::shared_ptr<Tensor>& t) {
  LoaderTensor lt;
  lt.tensor = t;
  lt.name = t->name();
  return lt;
}

}  // namespace

TEST(Loader, BatchesFollowThePlanForAnyThreadCount) {
  std::string path = test_util::temp_dir("loader_order");
  auto ds = Dataset::create(path, false);
  auto t = ds->create_tensor(test_util::spec("v", "int64", "generic", 2048));
  for (int64_t i = 0; i < 500; ++i) {
    int64_t v = i * 10;
    t->append_array(reinterpret_cast<const uint8_t*>(&v), 8, {1}, DType::Int64);
  }
  ds->flush();
  std::vector<uint64_t> order;
  for (uint64_t i = 0; i < 500; ++i) order.push_back((i * 7919) % 500);  // a permutation
  for (size_t threads : {1, 2, 5}) {
    for (bool drop_last : {false, true}) {
      LoaderOptions o;
      o.batch_size = 64;
      o.num_threads = threads;
      o.drop_last = drop_last;
      o.prefetch_batches = 3;
      Loader loader({column(t)}, order, o);
      std::vector<size_t> sizes;
      auto rows = drain(loader, &sizes);
      size_t want = drop_last ? 448 : 500;
      ASSERT_EQ(rows.size(), want) << threads;
      EXPECT_TRUE(std::equal(rows.begin(), rows.end(), order.begin()));
      EXPECT_EQ(sizes.front(), 64u);
      EXPECT_EQ(sizes.back(), drop_last ? 64u : 500u % 64);
    }
  }
  ds.reset();
  fs::remove_all(path);
}

TEST(Loader, IgnoreErrorsDropsBadSamplesAndKeepsTheOrderOfTheRest) {
  std::string path = test_util::temp_dir("loader_skip");
  auto ds = Dataset::create(path, false);
  TensorSpec spec = test_util::spec("img", "uint8", "image");
  spec.sample_compression = "jpeg";
  auto img = ds->create_tensor(spec);
  std::vector<uint8_t> pixels(16 * 16 * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 7);
  std::string jpeg = encode_sample(Compression::Jpeg, pixels.data(), pixels.size(), {16, 16, 3}, DType::UInt8, 90);
  for (int i = 0; i < 20; ++i) img->append_compressed(jpeg, Compression::Jpeg);
  ds->flush();
  ds.reset();
  // Damage samples 3 and 11 in the chunk file (the samples are stored back to back).
  fs::path chunk_dir = fs::path(path) / "img" / "chunks";
  fs::path chunk = fs::directory_iterator(chunk_dir)->path();
  std::string file;
  {
    std::ifstream in(chunk, std::ios::binary);
    file.assign(std::istreambuf_iterator<char>(in), {});
  }
  size_t first = file.find(jpeg);
  ASSERT_NE(first, std::string::npos);
  for (size_t k : {3, 11}) std::memset(&file[first + k * jpeg.size() + 20], 0, jpeg.size() - 40);
  {
    std::ofstream out(chunk, std::ios::binary | std::ios::trunc);
    out.write(file.data(), static_cast<std::streamsize>(file.size()));
  }
  auto back = Dataset::open(path, true);
  std::vector<uint64_t> order(20);
  for (uint64_t i = 0; i < 20; ++i) order[i] = 19 - i;
  for (size_t threads : {1, 3}) {
    LoaderOptions o;
    o.batch_size = 6;
    o.num_threads = threads;
    o.ignore_errors = true;
    Loader loader({column(back->tensor("img"))}, order, o);
    size_t skipped = 0;
    std::vector<size_t> sizes;
    auto rows = drain(loader, &sizes, &skipped);
    std::vector<uint64_t> want;
    for (auto r : order)
      if (r != 3 && r != 11) want.push_back(r);
    EXPECT_EQ(rows, want);
    EXPECT_EQ(skipped, 2u);
    EXPECT_EQ(loader.skipped_total(), 2u);
    EXPECT_EQ(sizes, (std::vector<size_t>{6, 5, 5, 2}));  // 11 is in the second batch, 3 in the third
  }
  {
    LoaderOptions o;
    o.batch_size = 6;
    Loader loader({column(back->tensor("img"))}, order, o);
    Batch b;
    ASSERT_EQ(loader.next(b, std::chrono::milliseconds(10000)), Loader::Status::Ready);
    try {
      loader.next(b, std::chrono::milliseconds(10000));
      FAIL() << "the damaged sample 11 did not raise";
    } catch (const DecodeError& e) {
      EXPECT_NE(std::string(e.what()).find("index 11"), std::string::npos) << e.what();
    }
  }
  back.reset();
  fs::remove_all(path);
}
