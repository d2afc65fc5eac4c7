#pragma once
// Shared by the binding files (one per subsystem: errors, numpy, dataset, loader, query, codec), the
// only C++ that knows Python. Converts arguments under the GIL, then releases it around engine
// calls; numpy results own their engine buffers through a capsule.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chute/core/buffer.h"
#include "chute/core/dtype.h"

namespace chute::python {

namespace py = pybind11;

// ---- errors.cpp ----
/// The exception classes of chute._core and the translation of engine errors to them.
void register_errors(py::module_& m);

// ---- numpy.cpp ----
/// Bytes that a numpy array views: decoded samples, or a loader batch buffer that goes back to the
/// loader's pool when the array dies.
struct Buffer {
  ByteVector bytes;
  std::shared_ptr<ByteVector> pooled;  // when set, the array views this (recycled) buffer instead
  uint8_t* data() { return pooled ? pooled->data() : bytes.data(); }
};
DType dtype_of(const py::array& a);
py::dtype numpy_dtype(DType d);
/// An ndarray over `buf`; the array's base capsule keeps the buffer alive.
py::array wrap(std::shared_ptr<Buffer> buf, const py::dtype& dt, const std::vector<py::ssize_t>& shape);
/// A 1-D uint64 ndarray owning `v` (no copy).
py::array to_numpy(std::vector<uint64_t>&& v);
std::vector<py::ssize_t> to_py_shape(const Shape& s);
Shape shape_of(const py::array& a);
/// A 1-D uint64 array's values (copied, so the engine may use them with the GIL released).
std::vector<uint64_t> to_vector(const py::array_t<uint64_t, py::array::c_style | py::array::forcecast>& a);
/// JSON the Python layer made from a user's values: a parse error is the caller's (InvalidArgument).
nlohmann::json parse_user_json(const std::string& text, const char* what);

// ---- one registration per subsystem ----
void register_dataset(py::module_& m);
void register_query(py::module_& m);
void register_loader(py::module_& m);
void register_codec(py::module_& m);
void register_transform(py::module_& m);
void register_remote(py::module_& m);
/// Version control methods of Dataset and the updates of Tensor (after register_dataset).
void register_version(py::module_& m);

}  // namespace chute::python
