#include "chute/query/query.h"

#include "chute/query/ast.h"
#include "chute/query/detail/evaluator.h"

namespace chute {

std::vector<uint64_t> run_query(const Dataset& ds, const std::string& tql, const std::vector<uint64_t>& rows, uint64_t seed) {
  auto q = tql::parse(tql);
  detail::Evaluator ev(ds, rows, seed);
  return ev.run(*q);
}

}  // namespace chute
