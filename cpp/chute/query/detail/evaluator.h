#pragma once
// Internal to TQL: the evaluator of a parsed query over a dataset's rows. Row-by-row evaluation
// lives here, its functions in functions.cpp; expressions that can run column at a time are
// compiled in compile.cpp to the nodes of columnar.cpp.
// Thread-safety: an Evaluator is used by one thread; the row-by-row parts of a query each get their
// own. The query's steps (WHERE, SAMPLE BY, ORDER BY, set operations) are in select.cpp, the
// row-by-row evaluation in rows.cpp.
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "chute/core/random.h"
#include "chute/core/thread_pool.h"
#include "chute/dataset/dataset.h"
#include "chute/query/detail/columnar.h"
#include "chute/query/detail/value.h"
#include "chute/query/query.h"
#include "chute/query/sampling.h"

namespace chute::detail {

class Evaluator {
 public:
  Evaluator(const Dataset& ds, Rows rows, uint64_t seed, bool row_by_row_only = false)
      : ds_(ds), rows_(rows), seed_(seed), row_by_row_only_(row_by_row_only) {}

  std::vector<uint64_t> run(const tql::Query& q);

 private:
  std::vector<uint64_t> run_select(const tql::Select& s);

  // fn(evaluator, k) for k in [0, n), in contiguous parts on the engine pool, each part with its
  // own Evaluator (their caches are not shared). parallel_for rethrows the error of the earliest
  // failing part, so the error is the earliest failing row's, as in one ordered pass.
  template <typename F>
  void row_by_row(size_t n, F fn);

  std::vector<size_t> where_row_by_row(const Expr& where);

  // The query rows at positions `pos` (which may repeat and be in any order after SAMPLE BY), so
  // that an expression compiled over them gives one value per entry of pos.
  Rows rows_at(const std::vector<size_t>& pos, std::vector<uint64_t>& storage);

  // ORDER BY over compiled numeric keys; false when the key needs the row-by-row evaluator.
  bool order_compiled(const tql::Select& s, std::vector<size_t>& pos);

  // SAMPLE BY weights over compiled columns; false when an expression needs the row path.
  bool weights_compiled(const tql::Select& s, const std::vector<size_t>& pos, std::vector<double>& w);

  std::vector<size_t> sample(const tql::Select& s, const std::vector<size_t>& pos);

  // Column-at-a-time: the expression compiled over whole-tensor columns (compile.cpp), or
  // nullptr when it needs the row-by-row evaluator (json, arrays, functions other than shape()
  // indexing, contains, row_number and random, rows a column lacks). Both give the same answers.
  struct Compiled {
    VNodePtr node;
    const std::vector<std::string>* names = nullptr;  // class names of a class_label column
    std::shared_ptr<const BytesColumn> text;          // a text column (node is null)
    ANodePtr arr;                                     // one fixed-size array per row (node is null)
    std::optional<std::string> str;                   // a text literal (node is null)
  };
  static std::optional<Compiled> numeric(VNodePtr node);  // one number per row
  std::optional<Compiled> compile(const Expr& e, Rows rows);
  VNodePtr compile_value(const Expr& e, Rows rows);
  std::optional<Compiled> compile_call(const Expr& e, Rows rows);
  std::optional<Compiled> compile_array_math(const Expr& e, VOp op, Compiled& a, Compiled& b);
  std::optional<Compiled> compile_compare(const Expr& e, VOp op, Rows rows);
  std::optional<Compiled> compile_compare(const Expr& e, VOp op, Rows rows, const ExprPtr& l, const ExprPtr& r);
  bool covers(uint64_t column_rows, Rows rows);

  // What a query needs of a tensor, looked up once per evaluator: Dataset::tensor takes the
  // dataset's lock and Tensor::meta() copies the meta, too slow to repeat for every row and term
  // (a 30,000-term OR over 300 rows made 9M of each).
  struct TensorInfo {
    std::shared_ptr<Tensor> tensor;
    TensorMeta meta;  // a snapshot: the query sees the tensor as it was when first named
    bool class_label = false;
    bool numbers_read = false;
    std::shared_ptr<const NumberColumn> numbers;  // Tensor::number_column(), read on first use
  };
  // The tensor e names (an unknown name is an error listing the tensors).
  TensorInfo& info(const Expr& e);

  // The tensor's one-number-per-row (or fixed-width) column, nullptr when it has none; `name` must
  // have gone through info() (tensor()) first.
  std::shared_ptr<const NumberColumn> number_column(const std::string& name);

  // The errors that do not depend on the rows, raised before any row on both paths: unknown
  // tensors anywhere in e, unknown class names compared with a class_label tensor.
  void check_columns(const Expr& e);
  // The class names of e when e is a class_label tensor (or an index into one), else nullptr.
  const std::vector<std::string>* class_names_of(const Expr& e);

  std::shared_ptr<Tensor> tensor(const Expr& e);

  Value column(const Expr& e, size_t p);

  Value load(const Expr& e, uint64_t row);

  const std::vector<std::string>& class_names(const Tensor& t, const std::string& name);

  // A one-element array acts as its element (labels, scalar tensors).
  static Value scalar(const Expr&, Value v);

  bool truth(const Expr& e, const Value& raw);

  Value eval(const Expr& e, size_t p);

  // The label index of a class name; an unknown name is an error listing the class names.
  static double class_index(const Expr& e, const std::vector<std::string>& names, const std::string& name);

  // Maps a class name to its label index when one side is a class_label value.
  static void resolve_names(const Expr& e, Value& a, Value& b);

  Value compare(const Expr& e, VOp op, Value a, Value b);

  Value arith(const Expr& e, VOp op, Value a, Value b);

  Value index(const Expr& e, Value v, size_t p);

  std::vector<double> numbers(const Expr& e, const Value& v);

  Value call(const Expr& e, size_t p);

  const Dataset& ds_;
  Rows rows_;
  uint64_t seed_;
  bool row_by_row_only_;             // never compile (the differential tests' reference path)
  std::optional<uint64_t> top_row_;  // covers(): the largest row of rows_
  struct Loaded {
    size_t position;
  };
  std::unordered_map<std::string, std::pair<std::optional<Loaded>, Value>> columns_;
  std::unordered_map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::vector<std::string>> names_;
};

}  // namespace chute::detail
