#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "chute/core/error.h"
#include "chute/dataset/dataset.h"
#include "test_util.h"

using namespace chute;
namespace fs = std::filesystem;

namespace {
using test_util::temp_dir;
}  // namespace

TEST(Dataset, AppendFlushReopen) {
  std::string path = temp_dir("reopen");
  {
    auto ds = Dataset::create(path, false);
    auto t = ds->create_tensor(test_util::spec("x", "int32"));
    for (int32_t i = 0; i < 100; ++i) {
      int32_t v[3] = {i, i + 1, i + 2};
      t->append_array(reinterpret_cast<uint8_t*>(v), sizeof v, {3}, DType::Int32);
    }
    ds->flush();
  }
  auto ds = Dataset::open(path, true);
  auto t = ds->tensor("x");
  ASSERT_EQ(t->length(), 100u);
  auto s = t->read(42);
  EXPECT_EQ(s.shape, (Shape{3}));
  EXPECT_EQ(reinterpret_cast<int32_t*>(s.bytes.data())[2], 44);
  fs::remove_all(path);
}

TEST(Dataset, UnflushedAppendsAreNotVisibleAfterReopen) {
  std::string path = temp_dir("unflushed");
  {
    auto ds = Dataset::create(path, false);
    auto t = ds->create_tensor(test_util::spec("x", "uint8"));
    uint8_t v = 1;
    t->append_array(&v, 1, {1}, DType::UInt8);
    ds->flush();
    t->append_array(&v, 1, {1}, DType::UInt8);
    // no flush: the destructor does not publish either (Python's Dataset flushes explicitly)
  }
  auto ds = Dataset::open(path, false);
  EXPECT_EQ(ds->tensor("x")->length(), 1u);
  // the new chunk file of the lost append is an orphan, collected on open
  EXPECT_EQ(ds->tensor("x")->num_chunks(), 1u);
  fs::remove_all(path);
}

TEST(Dataset, RejectsNamesThatLeaveTheFolder) {
  for (const char* bad : {"", "..", "a/../b", "/abs", "a\\b", "a//b", "a/", "./x"})
    EXPECT_THROW(Dataset::validate_name(bad), InvalidArgument) << bad;
  EXPECT_NO_THROW(Dataset::validate_name("train/images"));
}

TEST(Dataset, ChunksFillToHalfTheMaxAndAreNeverRewritten) {
  std::string path = temp_dir("chunks");
  auto ds = Dataset::create(path, false);
  auto t = ds->create_tensor(test_util::spec("x", "uint8", "generic", 10000));
  std::vector<uint8_t> v(1000, 7);
  for (int i = 0; i < 12; ++i) t->append_array(v.data(), v.size(), {1000}, DType::UInt8);
  ds->flush();
  EXPECT_EQ(t->num_chunks(), 3u);  // 5 + 5 + 2 samples of 1000 bytes in 5000-byte chunks
  auto before = fs::directory_iterator(fs::path(path) / "x" / "chunks");
  std::vector<std::string> names;
  for (auto& e : before) names.push_back(e.path().filename().string());
  t->append_array(v.data(), v.size(), {1000}, DType::UInt8);
  ds->flush();
  EXPECT_EQ(t->num_chunks(), 3u);
  size_t still_there = 0;
  for (auto& n : names) still_there += fs::exists(fs::path(path) / "x" / "chunks" / n);
  EXPECT_EQ(still_there, 2u);  // the partial chunk moved to a new id; the full ones stayed
  fs::remove_all(path);
}

TEST(Dataset, ReaderFollowsAChunkAWriterMoved) {
  // A reader opened before a flush that moved a partial chunk (and deleted the old file) still
  // reads its rows: it finds the chunk gone, re-reads the published index, and reads on.
  std::string path = temp_dir("moved");
  auto ds = Dataset::create(path, false);
  auto t = ds->create_tensor(test_util::spec("x", "int32"));
  int32_t a[2] = {7, 8};
  t->append_array(reinterpret_cast<uint8_t*>(a), sizeof a, {2}, DType::Int32);
  ds->flush();
  auto reader = Dataset::open(path, true);
  auto rt = reader->tensor("x");
  int32_t b[2] = {9, 10};
  t->append_array(reinterpret_cast<uint8_t*>(b), sizeof b, {2}, DType::Int32);
  ds->flush();  // the partial chunk moved to a new id; the old file is deleted
  auto s = rt->read(0);
  EXPECT_EQ(reinterpret_cast<int32_t*>(s.bytes.data())[1], 8);
  EXPECT_EQ(rt->length(), 1u) << "the reader keeps its snapshot's length";
  std::string bytes;
  Shape shape;
  EXPECT_TRUE(rt->fetch(0, bytes, shape));
  EXPECT_EQ(shape, (Shape{2}));
  fs::remove_all(path);
}
