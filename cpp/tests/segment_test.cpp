// Tensor segments (the executor's parallel writes): rows in order, the layout of one writer, undo.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "chute/core/error.h"
#include "chute/dataset/dataset.h"
#include "test_util.h"

using namespace chute;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kChunk = 4096;  // max_chunk_size: chunks fill to 2048 bytes

// Sample v: 100 int32 values v, v+1, ...
void append_value(Tensor& t, int32_t v) {
  std::vector<int32_t> a(100);
  for (int i = 0; i < 100; ++i) a[i] = v + i;
  t.append_array(reinterpret_cast<const uint8_t*>(a.data()), a.size() * 4, {100}, DType::Int32);
}

int32_t first_value(const Tensor& t, uint64_t i) {
  auto s = t.read(i);
  return reinterpret_cast<const int32_t*>(s.bytes.data())[0];
}

size_t chunk_files(const std::string& path, const std::string& tensor) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(fs::path(path) / tensor / "chunks")) n += e.is_regular_file();
  return n;
}

}  // namespace

TEST(Segment, RowsInOrderWithTheLayoutOfOneWriter) {
  std::string serial_path = test_util::temp_dir("seg_serial"), path = test_util::temp_dir("seg_par");
  const int kPerSegment[] = {13, 7, 1, 29, 0, 11};
  size_t serial_chunks = 0;
  {
    auto ds = Dataset::create(serial_path, false);
    auto t = ds->create_tensor(test_util::spec("x", "int32", "generic", kChunk));
    int32_t v = 0;
    for (int n : kPerSegment)
      for (int i = 0; i < n; ++i) append_value(*t, 1000 * v++);
    ds->flush();
    serial_chunks = t->num_chunks();
  }
  auto ds = Dataset::create(path, false);
  auto t = ds->create_tensor(test_util::spec("x", "int32", "generic", kChunk));
  append_value(*t, -5);  // an existing partial chunk the first segment joins
  ds->flush();
  std::vector<SegmentDesc> descs(std::size(kPerSegment));
  {
    std::vector<std::thread> threads;
    int32_t start = 0;
    for (size_t s = 0; s < std::size(kPerSegment); ++s) {
      threads.emplace_back([&, s, start] {
        auto seg = t->make_segment();
        for (int i = 0; i < kPerSegment[s]; ++i) append_value(*seg, 1000 * (start + i));
        descs[s] = seg->seal_segment();
      });
      start += kPerSegment[s];
    }
    for (auto& th : threads) th.join();
  }
  for (const auto& d : descs) t->append_segment(SegmentDesc::from_json(d.to_json(), "test"));
  ds->flush();
  ASSERT_EQ(t->length(), 62u);
  EXPECT_EQ(first_value(*t, 0), -5);
  for (uint64_t i = 1; i < 62; ++i) ASSERT_EQ(first_value(*t, i), 1000 * static_cast<int32_t>(i - 1)) << i;
  // 400-byte samples, 5 per 2048-byte chunk: one writer makes ceil(62/5) chunks; segments at most one more.
  EXPECT_LE(t->num_chunks(), serial_chunks + 1);
  ds.reset();
  // Reopening for writing collects what the merge copied (the segments' partial chunks).
  auto again = Dataset::open(path, false);
  EXPECT_EQ(again->orphans_collected(), 0u) << "the flush already deleted the joined segment chunks";
  EXPECT_EQ(chunk_files(path, "x"), again->tensor("x")->num_chunks());
  EXPECT_EQ(first_value(*again->tensor("x"), 61), 60000);
  fs::remove_all(path);
  fs::remove_all(serial_path);
}

TEST(Segment, RestoreStateUndoesAppendAndClear) {
  std::string path = test_util::temp_dir("seg_undo");
  auto ds = Dataset::create(path, false);
  auto t = ds->create_tensor(test_util::spec("x", "int32", "generic", kChunk));
  for (int i = 0; i < 7; ++i) append_value(*t, i);
  ds->flush();
  auto state = t->save_state();
  auto seg = t->make_segment();
  for (int i = 0; i < 9; ++i) append_value(*seg, 100 + i);
  auto desc = seg->seal_segment();
  t->clear();
  t->append_segment(desc);
  ASSERT_EQ(t->length(), 9u);
  EXPECT_EQ(first_value(*t, 0), 100);
  t->restore_state(*state);
  ASSERT_EQ(t->length(), 7u);
  EXPECT_EQ(first_value(*t, 6), 6);
  EXPECT_GT(ds->collect_orphans(), 0u);  // the segment's chunks
  ds->flush();
  ds.reset();
  auto again = Dataset::open(path, true);
  ASSERT_EQ(again->tensor("x")->length(), 7u);
  EXPECT_EQ(first_value(*again->tensor("x"), 3), 3);
  EXPECT_EQ(chunk_files(path, "x"), again->tensor("x")->num_chunks());
  fs::remove_all(path);
}

TEST(Segment, SampleChecksAndDtypeConflicts) {
  std::string path = test_util::temp_dir("seg_checks");
  auto ds = Dataset::create(path, false);
  auto t = ds->create_tensor(test_util::spec("x", "", "generic", kChunk));
  append_value(*t, 0);
  auto seg = t->make_segment();
  float f[2] = {1, 2};
  EXPECT_THROW(seg->append_array(reinterpret_cast<uint8_t*>(f), 8, {2}, DType::Float32), InvalidArgument);
  int32_t two[4] = {1, 2, 3, 4};
  EXPECT_THROW(seg->append_array(reinterpret_cast<uint8_t*>(two), 16, {2, 2}, DType::Int32), InvalidArgument)
      << "rank 2 in a tensor of rank-1 samples";
  auto other = ds->create_tensor(test_util::spec("y", "", "generic", kChunk));
  auto fseg = other->make_segment();
  fseg->append_array(reinterpret_cast<uint8_t*>(f), 8, {2}, DType::Float32);
  auto d = fseg->seal_segment();
  EXPECT_THROW(t->append_segment(d), InvalidArgument) << "another tensor's segment";
  d.key = "x";
  EXPECT_THROW(t->append_segment(d), InvalidArgument) << "float32 rows into an int32 tensor";
  EXPECT_EQ(t->length(), 1u);
  fs::remove_all(path);
}
