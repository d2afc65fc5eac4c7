// The query engine's weighted draws, whole-tensor columns, and its two evaluation paths (compiled and
// row by row) agreeing, on real datasets in a temp dir.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <numeric>
#include <set>

#include "chute/core/error.h"
#include "chute/dataset/dataset.h"
#include "chute/query/query.h"
#include "chute/query/sampling.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace chute;

TEST(WeightedDraw, WithReplacementFollowsWeightsAndSkipsZeros) {
  std::vector<double> w = {0, 1, 3, 0, 6};
  auto a = weighted_draw(w, 200000, true, 7);
  EXPECT_EQ(a, weighted_draw(w, 200000, true, 7));  // deterministic for the seed
  std::vector<size_t> counts(w.size());
  for (size_t k : a) ++counts[k];
  EXPECT_EQ(counts[0] + counts[3], 0u);
  EXPECT_NEAR(counts[1] / 200000.0, 0.1, 0.005);
  EXPECT_NEAR(counts[2] / 200000.0, 0.3, 0.005);
  EXPECT_NEAR(counts[4] / 200000.0, 0.6, 0.005);
  EXPECT_TRUE(weighted_draw({0, 0}, 10, true, 1).empty());
}

TEST(WeightedDraw, WithoutReplacementIsAPermutationWithZerosLast) {
  std::vector<double> w(1000, 1.0);
  for (size_t k = 0; k < w.size(); k += 10) w[k] = 0;
  auto p = weighted_draw(w, 5000, false, 3);
  ASSERT_EQ(p.size(), w.size());
  EXPECT_EQ(std::set<size_t>(p.begin(), p.end()).size(), w.size());
  for (size_t i = 0; i < 900; ++i) EXPECT_GT(w[p[i]], 0) << i;
  auto top = weighted_draw(w, 10, false, 3);
  EXPECT_EQ(std::vector<size_t>(p.begin(), p.begin() + 10), top);  // a prefix of the same order
}

TEST(QueryColumns, FollowTheTensorAsItGrows) {
  fs::path dir = fs::temp_directory_path() / ("chute_query_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto ds = Dataset::create(dir.string(), true);
  auto t = ds->create_tensor(test_util::spec("n", "int32"));
  for (int32_t i = 0; i < 5000; ++i) t->append_array(reinterpret_cast<const uint8_t*>(&i), 4, Shape{1}, DType::Int32);
  auto col = t->number_column();
  ASSERT_TRUE(col);
  EXPECT_EQ(col->rows, 5000u);
  EXPECT_EQ(t->number_column(), col);  // cached
  auto rows = run_query(*ds, "SELECT * WHERE n % 1000 == 7 OR n > 4998", nullptr, 5000, 0);
  EXPECT_EQ(rows, (std::vector<uint64_t>{7, 1007, 2007, 3007, 4007, 4999}));
  int32_t x = 12007;
  t->append_array(reinterpret_cast<const uint8_t*>(&x), 4, Shape{1}, DType::Int32);
  EXPECT_EQ(t->number_column()->rows, 5001u);
  uint64_t view[] = {5000, 7, 3};
  EXPECT_EQ(run_query(*ds, "SELECT * WHERE n % 1000 == 7", view, 3, 0), (std::vector<uint64_t>{5000, 7}));
  ds.reset();
  fs::remove_all(dir);
}

namespace {

// Runs a query on both evaluation paths; they must agree (rows, or both a QueryError).
std::vector<uint64_t> both_paths(const Dataset& ds, const std::string& q, const uint64_t* rows, size_t n) {
  auto compiled = run_query(ds, q, rows, n, 0, false);
  EXPECT_EQ(compiled, run_query(ds, q, rows, n, 0, true)) << q.substr(0, 200);
  return compiled;
}

}  // namespace

TEST(QueryPaths, AgreeOnEmptyContainsLongChainsAndHugeCounts) {
  fs::path dir = fs::temp_directory_path() / ("chute_query_paths_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto ds = Dataset::create(dir.string(), true);
  auto text = ds->create_tensor(test_util::spec("text", "str", "text"));
  auto n = ds->create_tensor(test_util::spec("n", "int32"));
  const char* texts[] = {"red", "", "a*b", "", "xy"};
  for (int32_t i = 0; i < 3000; ++i) {
    n->append_array(reinterpret_cast<const uint8_t*>(&i), 4, Shape{1}, DType::Int32);
    if (i < 2990) text->append_bytes(texts[i % 5], Shape{1});  // rows 2990.. have no text
  }
  std::vector<uint64_t> with_text(2990);
  std::iota(with_text.begin(), with_text.end(), 0);
  // contains(t, '') holds for every text, the empty ones too; rows without a text are not kept.
  EXPECT_EQ(both_paths(*ds, "SELECT * WHERE contains(text, '')", nullptr, 2990), with_text);
  EXPECT_EQ(both_paths(*ds, "SELECT * WHERE contains(text, '')", nullptr, 3000), with_text);
  uint64_t view[] = {2999, 3, 1, 2995, 0};
  EXPECT_EQ(both_paths(*ds, "SELECT * WHERE contains(text, '')", view, 5), (std::vector<uint64_t>{3, 1, 0}));
  EXPECT_EQ(both_paths(*ds, "SELECT * WHERE contains(text, 'a*b') AND n < 20", nullptr, 3000),
            (std::vector<uint64_t>{2, 7, 12, 17}));
  // A 30,000-term OR chain: balanced, so compile and evaluation recurse ~17 deep, on both paths
  // (over 40 rows: row by row, a row that matches no term evaluates all 30,000).
  std::string q = "SELECT * WHERE n == 0";
  for (int i = 1; i < 30000; ++i) q += " OR n == " + std::to_string(i * 7);
  EXPECT_EQ(both_paths(*ds, q, nullptr, 40), (std::vector<uint64_t>{0, 7, 14, 21, 28, 35}));
  EXPECT_EQ(run_query(*ds, q, nullptr, 3000, 0).size(), 429u);  // compiled: 3,000 rows x 30,000 terms at once
  // LIMIT / OFFSET up to 2**64 - 1: every row / none.
  EXPECT_EQ(both_paths(*ds, "SELECT * WHERE n < 5 LIMIT 18446744073709551615", nullptr, 3000).size(), 5u);
  EXPECT_TRUE(both_paths(*ds, "SELECT * OFFSET 18446744073709551615", nullptr, 3000).empty());
  EXPECT_THROW(run_query(*ds, "SELECT * LIMIT 18446744073709551616", nullptr, 3000, 0), QueryError);
  EXPECT_THROW(run_query(*ds, "SELECT * SAMPLE BY n LIMIT 18446744073709551615", nullptr, 3000, 0, true), QueryError);
  // An unknown tensor is an error on both paths even when no row is evaluated.
  for (bool rbr : {false, true})
    EXPECT_THROW(run_query(*ds, "SELECT * WHERE FALSE AND nosuch == 1", nullptr, 0, 0, rbr), QueryError);
  ds.reset();
  fs::remove_all(dir);
}
