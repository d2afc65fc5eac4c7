#pragma once
// TQL evaluation over a dataset: WHERE, ORDER BY, LIMIT/OFFSET, UNION/INTERSECT/EXCEPT and
// SAMPLE BY, with Deep Lake's functions. Values come from chunk data (shape() from chunk headers,
// so image pixels are never decoded unless the query reads them).
// Thread-safety: run_query reads the dataset through Tensor's shared locks.
#include <cstdint>
#include <string>
#include <vector>

namespace chute {

class Dataset;

/// The dataset rows the query selects, in result order, out of `rows[0..n)` (which the query sees
/// as its table, in that order; rows == nullptr: the rows 0..n-1). `seed` drives random() and
/// SAMPLE BY. Throws QueryError. `row_by_row` skips the column-at-a-time compiler (both paths give
/// the same answers; the differential tests compare them).
std::vector<uint64_t> run_query(const Dataset& ds, const std::string& tql, const uint64_t* rows, size_t n,
                                uint64_t seed, bool row_by_row = false);

/// The names of the functions TQL knows, for error messages and docs.
const std::vector<std::string>& tql_functions();

}  // namespace chute
