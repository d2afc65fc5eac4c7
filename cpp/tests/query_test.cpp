// The query engine's weighted draws, whole-tensor columns, and its two evaluation paths (compiled and
// row by row) agreeing, on real datasets in a temp dir.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <numeric>
#include <set>

#include "chute/core/error.h"
#include "chute/dataset/columns.h"
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

namespace {

template <typename T>
void append_values(Tensor& t, const std::vector<int64_t>& values, DType d) {
  for (int64_t v : values) {
    T x = static_cast<T>(v);
    t.append_array(reinterpret_cast<const uint8_t*>(&x), sizeof(T), Shape{1}, d);
  }
}

}  // namespace

// `column op constant` on integer columns compares integers (the constant turned into a range of
// the column's type) instead of doubles; every type, operator and awkward constant (fractions,
// out of range, infinities, NaN) must select what the double compare selects, in whole blocks,
// their 8-row words and tails, on views, and under NOT and BETWEEN (the eval path).
TEST(QueryPaths, IntegerColumnComparedWithConstant) {
  fs::path dir = fs::temp_directory_path() / ("chute_query_intcmp_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto ds = Dataset::create(dir.string(), true);
  const std::vector<int64_t> edges = {
      -2147483648LL, -2147483647LL, -32769, -32768, -129,  -128,  -2,    -1,           0,           1, 6, 7, 8, 126,
      127,           128,           255,    256,    32767, 65535, 65536, 2147483647LL, 4294967295LL};
  struct Column {
    std::string name, dtype;
    DType d;
    int64_t lo, hi;
  };
  const std::vector<Column> cols = {{"u8", "uint8", DType::UInt8, 0, 255},
                                    {"i8", "int8", DType::Int8, -128, 127},
                                    {"u16", "uint16", DType::UInt16, 0, 65535},
                                    {"i16", "int16", DType::Int16, -32768, 32767},
                                    {"u32", "uint32", DType::UInt32, 0, 4294967295LL},
                                    {"i32", "int32", DType::Int32, -2147483648LL, 2147483647LL}};
  const size_t n = 2 * 2048 + 13;  // two whole blocks and a tail that is not a multiple of 8
  std::map<std::string, std::vector<int64_t>> stored;
  for (const auto& c : cols) {
    std::vector<int64_t> in_range;
    for (int64_t v : edges)
      if (v >= c.lo && v <= c.hi) in_range.push_back(v);
    std::vector<int64_t> values(n);
    for (size_t i = 0; i < n; ++i) values[i] = in_range[(i * 7 + i / 5) % in_range.size()];
    auto t = ds->create_tensor(test_util::spec(c.name, c.dtype));
    visit_number_type(c.d, [&](auto x) { append_values<decltype(x)>(*t, values, c.d); });
    stored[c.name] = values;
  }
  const std::vector<std::pair<std::string, double>> constants = {{"0/0", NAN},
                                                                 {"1e308 * 10", INFINITY},
                                                                 {"-1e308 * 10", -INFINITY},
                                                                 {"-2147483649", -2147483649.0},
                                                                 {"-2147483648.5", -2147483648.5},
                                                                 {"-2147483648", -2147483648.0},
                                                                 {"-32768", -32768},
                                                                 {"-128.5", -128.5},
                                                                 {"-128", -128},
                                                                 {"-1.5", -1.5},
                                                                 {"-1", -1},
                                                                 {"-0.5", -0.5},
                                                                 {"0", 0},
                                                                 {"0.5", 0.5},
                                                                 {"7", 7},
                                                                 {"7.5", 7.5},
                                                                 {"127", 127},
                                                                 {"127.5", 127.5},
                                                                 {"255", 255},
                                                                 {"256", 256},
                                                                 {"65535", 65535},
                                                                 {"2147483647", 2147483647.0},
                                                                 {"2147483647.5", 2147483647.5},
                                                                 {"4294967295", 4294967295.0},
                                                                 {"4294967296", 4294967296.0},
                                                                 {"1e20", 1e20}};
  const std::vector<std::pair<std::string, std::function<bool(double, double)>>> ops = {
      {"==", [](double x, double y) { return x == y; }}, {"!=", [](double x, double y) { return x != y; }},
      {"<", [](double x, double y) { return x < y; }},   {"<=", [](double x, double y) { return x <= y; }},
      {">", [](double x, double y) { return x > y; }},   {">=", [](double x, double y) { return x >= y; }}};
  std::vector<uint64_t> view;  // every third row, backwards
  for (size_t i = n; i >= 3; i -= 3) view.push_back(i - 3);
  for (const auto& c : cols) {
    const auto& values = stored[c.name];
    for (const auto& [text, y] : constants) {
      for (const auto& [op, f] : ops) {
        std::string where = c.name + " " + op + " " + text;
        std::vector<uint64_t> want, want_not, want_view;
        for (size_t i = 0; i < n; ++i) (f(static_cast<double>(values[i]), y) ? want : want_not).push_back(i);
        for (uint64_t r : view)
          if (f(static_cast<double>(values[r]), y)) want_view.push_back(r);
        EXPECT_EQ(both_paths(*ds, "SELECT * WHERE " + where, nullptr, n), want) << where;
        EXPECT_EQ(both_paths(*ds, "SELECT * WHERE NOT (" + where + ")", nullptr, n), want_not) << where;
        EXPECT_EQ(both_paths(*ds, "SELECT * WHERE " + where, view.data(), view.size()), want_view) << where;
      }
      std::string between = c.name + " BETWEEN " + text + " AND 127";
      std::vector<uint64_t> want;
      for (size_t i = 0; i < n; ++i)
        if (static_cast<double>(values[i]) >= y && values[i] <= 127) want.push_back(i);
      EXPECT_EQ(both_paths(*ds, "SELECT * WHERE " + between, nullptr, n), want) << between;
    }
  }
  ds.reset();
  fs::remove_all(dir);
}
