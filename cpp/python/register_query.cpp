// TQL's helpers beside Dataset.query: weighted draws and the list of TQL functions.
#include "chute/query/query.h"
#include "chute/query/sampling.h"
#include "common.h"

namespace chute::python {

void register_query(py::module_& m) {
  m.def(
      "weighted_draw",
      [](const py::array_t<double, py::array::c_style | py::array::forcecast>& weights, uint64_t n, bool replace,
         uint64_t seed) {
        std::vector<size_t> picked;
        {
          py::gil_scoped_release release;  // `weights` (held by the caller) is read in place
          picked = weighted_draw(weights.data(), static_cast<size_t>(weights.size()), n, replace, seed);
        }
        return to_numpy(std::vector<uint64_t>(picked.begin(), picked.end()));
      },
      py::arg("weights"), py::arg("n"), py::arg("replace"), py::arg("seed"),
      "Positions drawn with probability proportional to weights (finite, non-negative): n draws with "
      "replacement (never a zero weight), or min(n, len) distinct ones without.");

  m.def("tql_functions", &tql_functions, "The names of the functions TQL knows.");
}

}  // namespace chute::python
