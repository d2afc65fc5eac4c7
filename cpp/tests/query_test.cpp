// The query engine's weighted draws and whole-tensor columns, on real datasets in a temp dir.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <numeric>
#include <set>

#include "chute/dataset/dataset.h"
#include "chute/query/query.h"
#include "chute/query/sampling.h"

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
  auto t = ds->create_tensor("n", "generic", "int32", "", "", 0, 0, nlohmann::json::object(), nlohmann::json::object());
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
