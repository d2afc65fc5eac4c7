// Deep Lake 3's version-control files byte for byte (the bytes deeplake 3.9.52 wrote, from
// docs/dl3_version_control_notes.md §9), the commit tree, and chunk resolution across commits with
// concurrent readers and a writer updating (for the sanitizer builds).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "chute/core/error.h"
#include "chute/version/diffs.h"
#include "chute/version/version_info.h"
#include "test_util.h"

using namespace chute;
using namespace chute::version;

namespace {

std::string be64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[7 - i] = static_cast<char>(v >> (8 * i));
  return s;
}

}  // namespace

TEST(VersionFormat, CommitDiffMatchesDeepLakeBytes) {
  // 2d05.../x/commit_diff: one row appended (3..4) and row 0 updated
  std::string bytes = std::string(3, '\0') + be64(3) + be64(4) + be64(1) + be64(0) + std::string(1, '\0') + be64(0);
  ASSERT_EQ(bytes.size(), 44u);
  auto d = CommitDiff::parse(bytes, "x/commit_diff");
  EXPECT_FALSE(d.created);
  EXPECT_EQ(d.added_start, 3u);
  EXPECT_EQ(d.added_end, 4u);
  EXPECT_EQ(d.updated, std::set<uint64_t>{0});
  EXPECT_EQ(d.serialize(), bytes);
  // a created tensor with 4 rows: 36 bytes
  auto c = CommitDiff::starting_at(0);
  c.created = true;
  c.added_end = 4;
  EXPECT_EQ(c.serialize(),
            std::string(1, '\1') + std::string(2, '\0') + be64(0) + be64(4) + be64(0) + std::string(1, '\0') + be64(0));
  // an update of a row added in the same node is an addition, not an update
  c.on_update(2);
  EXPECT_TRUE(c.updated.empty());
  // a pop's deleted ids follow the deleted rows (exp3 in the notes: 60 bytes)
  std::string popped = std::string(3, '\0') + be64(2) + be64(2) + be64(1) + be64(0) + std::string(1, '\0') + be64(1) +
                       be64(1) + be64(0xd6c20ef650c89981ull);
  auto p = CommitDiff::parse(popped, "a/commit_diff");
  EXPECT_EQ(p.deleted, std::vector<uint64_t>{1});
  EXPECT_EQ(p.deleted_ids, std::vector<uint64_t>{0xd6c20ef650c89981ull});
  EXPECT_EQ(p.serialize(), popped);
  EXPECT_THROW(CommitDiff::parse(bytes.substr(0, 20), "x/commit_diff"), FormatError);
  EXPECT_THROW(CommitDiff::parse(std::string(3, '\0') + be64(0) + be64(0) + be64(1ull << 40), "x"), FormatError);
}

TEST(VersionFormat, DatasetDiffAndChunkSetMatchDeepLakeBytes) {
  std::string info = std::string(1, '\1') + be64(0) + be64(0);  // 17 bytes: ds.info changed
  EXPECT_TRUE(DatasetDiff::parse(info, "dataset_diff").info_updated);
  std::string rename = std::string(1, '\0') + be64(1) + be64(1) + be64(2) + "s" + "s2" + be64(0);  // 36 bytes
  auto r = DatasetDiff::parse(rename, "dataset_diff");
  ASSERT_EQ(r.renamed.size(), 1u);
  EXPECT_EQ(r.renamed[0], std::make_pair(std::string("s"), std::string("s2")));
  EXPECT_EQ(r.serialize(), rename);
  std::string del = std::string(1, '\0') + be64(0) + be64(1) + be64(2) + "s2";  // 27 bytes
  EXPECT_EQ(DatasetDiff::parse(del, "dataset_diff").deleted, std::vector<std::string>{"s2"});
  EXPECT_EQ(DatasetDiff::parse(del, "dataset_diff").serialize(), del);

  auto set = parse_chunk_set("601b140c079f4f24,e112db5ed9d54bfd");
  ASSERT_EQ(set.size(), 2u);
  EXPECT_EQ(set[1].first, "e112db5ed9d54bfd");
  EXPECT_TRUE(set[1].second.commit.empty());
  EXPECT_EQ(serialize_chunk_set(set), "601b140c079f4f24,e112db5ed9d54bfd");
  auto merged = parse_chunk_set("ab:c0ffee:other_key,cd:c0ffee");
  EXPECT_EQ(merged[0].second.commit, "c0ffee");
  EXPECT_EQ(merged[0].second.key, "other_key");
  EXPECT_EQ(merged[1].second.key, "");
  EXPECT_TRUE(parse_chunk_set("").empty());  // an empty map is a 0-byte file
}

TEST(VersionInfo, TreeRoundTripAndResolution) {
  auto v = VersionInfo::fresh();
  EXPECT_EQ(v.resolve("main"), kFirstCommit);
  v.node(kFirstCommit).time = 1.5;
  v.add_head("a", "main", kFirstCommit);
  v.add_head("b", "alt", kFirstCommit);
  auto back = VersionInfo::parse(v.serialize(), "version_control_info.json");
  EXPECT_EQ(back.resolve("alt"), "b");
  EXPECT_EQ(back.resolve("a"), "a");  // a commit id
  EXPECT_EQ(back.resolve("nope"), "");
  EXPECT_EQ(back.ancestors("b"), std::vector<std::string>{kFirstCommit});
  EXPECT_EQ(back.ids().size(), 3u);
  EXPECT_TRUE(back.node(kFirstCommit).frozen());
  EXPECT_FALSE(back.node("a").frozen());
  // commit_info.json keeps Deep Lake's key order (branch, children, parent, ...)
  EXPECT_EQ(
      back.commit_info("a").rfind("{\"branch\":\"main\",\"children\":[],\"parent\":\"" + std::string(kFirstCommit), 0),
      0u);
  // unreachable nodes are ignored, and still "listed" (their folders are not orphans)
  auto j = nlohmann::json::parse(v.serialize());
  j["commits"]["zzz"] = {{"branch", "main"}, {"parent", nullptr}, {"children", nlohmann::json::array()}};
  auto with_stray = VersionInfo::parse(j.dump(), "vc");
  EXPECT_FALSE(with_stray.has("zzz"));
  EXPECT_TRUE(with_stray.listed("zzz"));
  EXPECT_THROW(VersionInfo::parse("{\"commits\": {}, \"branches\": {}}", "vc"), FormatError);
  EXPECT_THROW(VersionInfo::parse("[1]", "vc"), FormatError);
}

TEST(VersionDataset, ReadersOfAnOldCommitRunBesideUpdatesOnTheHead) {
  std::string path = test_util::temp_dir("version_readers");
  auto ds = Dataset::create(path, false);
  auto x = ds->create_tensor(test_util::spec("x", "int64", "generic", 512));
  for (int64_t i = 0; i < 400; ++i) x->append_array(reinterpret_cast<const uint8_t*>(&i), 8, Shape{1}, DType::Int64);
  std::string first = ds->commit(std::string("first"), false);
  auto old = Dataset::open(path, true, {}, first);
  auto old_x = old->tensor("x");
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r)
    readers.emplace_back([&] {
      while (!stop) {
        for (uint64_t i = 0; i < 400; i += 7) {
          auto s = old_x->read(i);
          int64_t v;
          std::memcpy(&v, s.bytes.data(), 8);
          if (v != static_cast<int64_t>(i)) ++bad;
        }
      }
    });
  auto head_x = ds->tensor("x");
  for (int64_t i = 0; i < 400; i += 3) {
    int64_t v = -i;
    head_x->update_array(i, reinterpret_cast<const uint8_t*>(&v), 8, Shape{1}, DType::Int64);
    if (i % 60 == 0) ds->flush();
  }
  ds->commit(std::string("second"), false);
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
  auto head = Dataset::open(path, true)->tensor("x");
  for (uint64_t i = 0; i < 400; ++i) {
    int64_t v;
    std::memcpy(&v, head->read(i).bytes.data(), 8);
    EXPECT_EQ(v, i % 3 == 0 ? -static_cast<int64_t>(i) : static_cast<int64_t>(i)) << i;
  }
  std::filesystem::remove_all(path);
}

// A writer killed after a checkpoint commit leaves chunks in the new head's folder that no chunk_set lists:
// the next writable open removes them there, and never a file of a commit (the root's, an older node's).
TEST(VersionDataset, AWritableOpenCollectsWhatAKilledWriterLeftInTheHeadsFolder) {
  namespace fs = std::filesystem;
  std::string path = test_util::temp_dir("version_orphans");
  auto ds = Dataset::create(path, false);
  auto x = ds->create_tensor(test_util::spec("x", "int64", "generic", 512));
  for (int64_t i = 0; i < 400; ++i) x->append_array(reinterpret_cast<const uint8_t*>(&i), 8, Shape{1}, DType::Int64);
  ds->commit(std::string("first"), false);
  x = ds->tensor("x");  // the new head's tensor
  for (int64_t i = 400; i < 800; ++i) x->append_array(reinterpret_cast<const uint8_t*>(&i), 8, Shape{1}, DType::Int64);
  std::string second = ds->commit(std::string("second"), false);
  std::string head = ds->pending_commit_id();
  ds.reset();
  x.reset();
  auto stray = [&](const fs::path& folder, const std::string& name) {
    fs::create_directories(folder);
    std::ofstream(folder / name) << "left by a killed writer";
    return folder / name;
  };
  auto in_head = stray(fs::path(path) / "versions" / head / "x" / "chunks", "00000000deadbeef");
  auto in_root = stray(fs::path(path) / "x" / "chunks", "00000000feedface");
  auto in_commit = stray(fs::path(path) / "versions" / second / "x" / "chunks", "00000000cafebabe");
  auto again = Dataset::open(path, false);
  EXPECT_FALSE(fs::exists(in_head));
  EXPECT_TRUE(fs::exists(in_root));    // the first commit's folder: never deleted from a later node
  EXPECT_TRUE(fs::exists(in_commit));  // an older commit's folder: frozen
  auto ax = again->tensor("x");
  ASSERT_EQ(ax->length(), 800u);
  for (uint64_t i = 0; i < 800; i += 13) {
    int64_t v;
    std::memcpy(&v, ax->read(i).bytes.data(), 8);
    EXPECT_EQ(v, static_cast<int64_t>(i));
  }
  again.reset();
  fs::remove_all(path);
}
