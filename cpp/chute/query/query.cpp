#include "chute/query/query.h"

#include "chute/query/ast.h"
#include "chute/query/detail/evaluator.h"

namespace chute {

std::vector<uint64_t> run_query(const Dataset& ds, const std::string& tql, const uint64_t* rows, size_t n,
                                uint64_t seed, bool row_by_row) {
  auto q = tql::parse(tql);
  detail::Evaluator ev(ds, detail::Rows{rows, n}, seed, row_by_row);
  return ev.run(*q);
}

}  // namespace chute
