// chute._core: the engine's Python module. Each subsystem registers itself from its own file.
#include "common.h"

PYBIND11_MODULE(_core, m) {
  using namespace chute::python;
  m.doc() = "chute's C++ engine (private; use the chute package)";
  m.attr("__version__") = CHUTE_VERSION;  // from python/chute/_version.py, through CMake
  register_errors(m);
  register_remote(m);
  register_dataset(m);
  register_version(m);
  register_query(m);
  register_loader(m);
  register_codec(m);
  register_transform(m);
}
