// numpy conversions: dtypes, shapes, and arrays that own engine buffers through a capsule.
#include "chute/core/error.h"
#include "common.h"

namespace chute::python {

DType dtype_of(const py::array& a) {
  char kind = a.dtype().kind();
  size_t size = static_cast<size_t>(a.itemsize());
  switch (kind) {
    case 'b':
      return DType::Bool;
    case 'u':
      return size == 1 ? DType::UInt8 : size == 2 ? DType::UInt16 : size == 4 ? DType::UInt32 : DType::UInt64;
    case 'i':
      return size == 1 ? DType::Int8 : size == 2 ? DType::Int16 : size == 4 ? DType::Int32 : DType::Int64;
    case 'f':
      return size == 2 ? DType::Float16 : size == 4 ? DType::Float32 : DType::Float64;
  }
  throw InvalidArgument(std::string("unsupported numpy dtype '") + std::string(py::str(a.dtype())) + "'");
}

py::dtype numpy_dtype(DType d) {
  if (d == DType::Str || d == DType::Object) return py::dtype("O");
  return py::dtype(dtype_name(d));
}

py::array wrap(std::shared_ptr<Buffer> buf, const py::dtype& dt, const std::vector<py::ssize_t>& shape) {
  auto* holder = new std::shared_ptr<Buffer>(buf);
  py::capsule owner(holder, [](void* p) { delete static_cast<std::shared_ptr<Buffer>*>(p); });
  return py::array(dt, shape, {}, buf->data(), owner);
}

py::array to_numpy(std::vector<uint64_t>&& v) {
  auto* holder = new std::vector<uint64_t>(std::move(v));
  py::capsule owner(holder, [](void* p) { delete static_cast<std::vector<uint64_t>*>(p); });
  return py::array_t<uint64_t>({static_cast<py::ssize_t>(holder->size())}, {}, holder->data(), owner);
}

std::vector<py::ssize_t> to_py_shape(const Shape& s) { return std::vector<py::ssize_t>(s.begin(), s.end()); }

Shape shape_of(const py::array& a) {
  Shape s;
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s.push_back(static_cast<uint64_t>(a.shape(i)));
  return s;
}

std::vector<uint64_t> to_vector(const py::array_t<uint64_t, py::array::c_style | py::array::forcecast>& a) {
  return std::vector<uint64_t>(a.data(), a.data() + a.size());
}

nlohmann::json parse_user_json(const std::string& text, const char* what) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument(std::string(what) + " is not valid JSON: " + e.what());
  }
}

}  // namespace chute::python
