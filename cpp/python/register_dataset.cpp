// chute._core.Dataset and chute._core.Tensor: opening, creating and deleting datasets, tensors'
// reads (single and batched on the engine pool) and appends, and queries over a dataset's rows.
#include "chute/codec/limits.h"
#include "chute/core/error.h"
#include "chute/core/thread_pool.h"
#include "chute/dataset/dataset.h"
#include "chute/query/query.h"
#include "common.h"

namespace chute::python {
namespace {

py::object read_batch(const Tensor& t, const std::vector<uint64_t>& indices, size_t num_threads, bool aslist,
                      bool packed) {
  size_t n = indices.size();
  std::vector<Shape> shapes(n);
  DType dt = t.dtype();
  size_t item = dtype_size(dt);
  bool same = true;
  auto pool = get_shared_pool(num_threads);
  {
    py::gil_scoped_release release;
    // An object store: every chunk the rows need on its way at once (one GET each), in row order.
    if (t.remote())
      for (uint64_t i : indices) t.prefetch(i);
    pool->parallel_for(
        n,
        [&](size_t i) {
          shapes[i] = t.shape(indices[i]);
          check_decoded_size(shapes[i], dt, "tensor '" + t.name() + "' index " + std::to_string(indices[i]));
        },
        num_threads);
    for (size_t i = 1; i < n && same; ++i) same = shapes[i] == shapes[0];
  }
  if (same && !aslist && n > 0) {
    auto buf = std::make_shared<Buffer>();
    size_t per = num_elements(shapes[0]) * item;
    {
      py::gil_scoped_release release;
      buf->bytes.resize(per * n);
      pool->parallel_for(
          n, [&](size_t i) { t.read_into(indices[i], shapes[i], buf->bytes.data() + i * per); }, num_threads);
    }
    std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(n)};
    for (auto d : shapes[0]) shape.push_back(static_cast<py::ssize_t>(d));
    return wrap(buf, numpy_dtype(dt), shape);
  }
  if (packed && n > 0) {
    // Every sample in one buffer, back to back; the arrays are views of it (Arrow's ragged tensor
    // arrays take such a list without copying it).
    std::vector<size_t> offsets(n + 1, 0);
    for (size_t i = 0; i < n; ++i) offsets[i + 1] = offsets[i] + num_elements(shapes[i]) * item;
    auto buf = std::make_shared<Buffer>();
    {
      py::gil_scoped_release release;
      buf->bytes.resize(std::max<size_t>(offsets[n], 1));
      pool->parallel_for(
          n, [&](size_t i) { t.read_into(indices[i], shapes[i], buf->bytes.data() + offsets[i]); }, num_threads);
    }
    py::array base = wrap(buf, py::dtype("uint8"), {static_cast<py::ssize_t>(buf->bytes.size())});
    py::list out;
    for (size_t i = 0; i < n; ++i)
      out.append(py::array(numpy_dtype(dt), to_py_shape(shapes[i]), {}, buf->data() + offsets[i], base));
    return out;
  }
  std::vector<std::shared_ptr<Buffer>> bufs(n);
  {
    py::gil_scoped_release release;
    pool->parallel_for(
        n,
        [&](size_t i) {
          bufs[i] = std::make_shared<Buffer>();
          bufs[i]->bytes.resize(num_elements(shapes[i]) * item);
          t.read_into(indices[i], shapes[i], bufs[i]->bytes.data());
        },
        num_threads);
  }
  py::list out;
  for (size_t i = 0; i < n; ++i) out.append(wrap(bufs[i], numpy_dtype(dt), to_py_shape(shapes[i])));
  return out;
}

}  // namespace

void register_dataset(py::module_& m) {
  m.def(
      "is_bytes_htype", [](const std::string& htype) { return is_bytes_htype(htype); }, py::arg("htype"),
      "True for the htypes whose samples are stored as UTF-8 bytes (text, json, list, tag).");

  py::class_<TensorSpec>(m, "TensorSpec", "What Dataset.create_tensor needs; empty values take the format's defaults.")
      .def(py::init([](const std::string& name, const std::string& htype, const std::string& dtype,
                       const std::string& sample_compression, const std::string& chunk_compression,
                       int64_t max_chunk_size, int64_t tiling_threshold, const std::string& meta_extra_json,
                       const std::string& info_json) {
             TensorSpec s;
             s.name = name;
             s.htype = htype;
             s.dtype = dtype;
             s.sample_compression = sample_compression;
             s.chunk_compression = chunk_compression;
             s.max_chunk_size = max_chunk_size;
             s.tiling_threshold = tiling_threshold;
             s.meta_extra = parse_user_json(meta_extra_json, "tensor meta");
             s.info = parse_user_json(info_json, "tensor info");
             return s;
           }),
           py::kw_only(), py::arg("name"), py::arg("htype") = "generic", py::arg("dtype") = "",
           py::arg("sample_compression") = "", py::arg("chunk_compression") = "", py::arg("max_chunk_size") = 0,
           py::arg("tiling_threshold") = 0, py::arg("meta_extra_json") = "{}", py::arg("info_json") = "{}")
      .def_readonly("name", &TensorSpec::name)
      .def_readonly("htype", &TensorSpec::htype)
      .def_readonly("dtype", &TensorSpec::dtype)
      .def_readonly("sample_compression", &TensorSpec::sample_compression)
      .def_readonly("chunk_compression", &TensorSpec::chunk_compression)
      .def_readonly("max_chunk_size", &TensorSpec::max_chunk_size)
      .def_readonly("tiling_threshold", &TensorSpec::tiling_threshold);

  py::class_<Tensor, std::shared_ptr<Tensor>>(m, "Tensor")
      .def_property_readonly("name", &Tensor::name)
      .def_property_readonly("key", &Tensor::key)
      .def_property_readonly("length", &Tensor::length)
      .def_property_readonly("htype", [](const Tensor& t) { return t.htype(); })
      .def_property_readonly("dtype",
                             [](const Tensor& t) -> py::object {
                               if (!t.has_dtype()) return py::none();
                               return py::str(dtype_name(t.dtype()));
                             })
      .def_property_readonly("sample_compression",
                             [](const Tensor& t) { return std::string(compression_name(t.sample_compression())); })
      .def_property_readonly("chunk_compression",
                             [](const Tensor& t) { return std::string(compression_name(t.chunk_compression())); })
      .def_property_readonly("is_bytes_htype", [](const Tensor& t) { return t.is_bytes_htype(); })
      .def_property_readonly("writable", &Tensor::writable)
      .def("meta_json", &Tensor::meta_json)
      .def("reserve_cache", &Tensor::reserve_cache, py::arg("bytes"),
           "Lets the dataset's chunk cache hold at least `bytes` (never shrinks it).")
      .def("info_json", [](const Tensor& t) { return t.info().dump(); })
      .def(
          "set_info_json", [](Tensor& t, const std::string& s) { t.set_info(parse_user_json(s, "tensor info")); },
          py::arg("info"))
      .def("num_chunks", &Tensor::num_chunks, py::call_guard<py::gil_scoped_release>())
      .def("nbytes_on_disk", &Tensor::chunk_bytes_on_disk, py::call_guard<py::gil_scoped_release>())
      .def(
          "chunk_ends", [](const Tensor& t) { return to_numpy(t.chunk_ends()); },
          "Where each chunk's rows end (exclusive, ascending): for splitting work along chunk boundaries.")
      .def(
          "shape",
          [](const Tensor& t, uint64_t i) {
            Shape s;
            {
              py::gil_scoped_release release;
              s = t.shape(i);
            }
            return py::tuple(py::cast(to_py_shape(s)));
          },
          py::arg("index"))
      .def(
          "tobytes",
          [](const Tensor& t, uint64_t i) {
            std::string b;
            {
              py::gil_scoped_release release;
              b = t.stored_bytes(i);
            }
            return py::bytes(b);
          },
          py::arg("index"))
      .def(
          "read",
          [](const Tensor& t, uint64_t i) {
            auto buf = std::make_shared<Buffer>();
            Shape s;
            {
              py::gil_scoped_release release;
              s = t.shape(i);
              check_decoded_size(s, t.dtype(), "tensor '" + t.name() + "' index " + std::to_string(i));
              buf->bytes.resize(num_elements(s) * dtype_size(t.dtype()));
              t.read_into(i, s, buf->bytes.data());
            }
            return wrap(buf, numpy_dtype(t.dtype()), to_py_shape(s));
          },
          py::arg("index"))
      .def("read_batch", &read_batch, py::arg("indices"), py::arg("num_threads") = 0, py::arg("aslist") = false,
           py::arg("packed") = false,
           "Decodes the samples on the engine's threads with the GIL released. One stacked array when every "
           "shape is equal (and aslist is False), else a list of arrays; with packed=True the list's arrays are "
           "views of one buffer holding every sample back to back (each keeps the whole batch alive).")
      .def(
          "append_array",
          [](Tensor& t, const py::array& a) {
            py::array c = py::array::ensure(a, py::array::c_style);
            if (!c)
              throw InvalidArgument("tensor '" + t.name() + "': cannot make a C-contiguous array from the sample");
            DType dt = dtype_of(c);
            Shape shape = shape_of(c);
            const uint8_t* data = static_cast<const uint8_t*>(c.data());
            size_t nbytes = static_cast<size_t>(c.nbytes());
            py::gil_scoped_release release;
            t.append_array(data, nbytes, shape, dt);
          },
          py::arg("array"))
      .def(
          "append_many",
          [](Tensor& t, const py::array& a) {
            py::array c = py::array::ensure(a, py::array::c_style);
            if (!c || c.ndim() < 1)
              throw InvalidArgument("tensor '" + t.name() + "': append_many takes an array of samples");
            DType dt = dtype_of(c);
            Shape shape = shape_of(c);
            size_t n = shape.front();
            Shape sample(shape.begin() + 1, shape.end());
            const uint8_t* data = static_cast<const uint8_t*>(c.data());
            py::gil_scoped_release release;
            t.append_many(data, n, sample, dt);
          },
          py::arg("array"), "Appends a[0], a[1], ... as samples (one shape, one dtype).")
      .def(
          "append_compressed",
          [](Tensor& t, const py::bytes& b, const std::string& compression) {
            std::string_view v = b;
            Compression c = compression_from_name(compression);
            py::gil_scoped_release release;
            t.append_compressed(v, c);
          },
          py::arg("data"), py::arg("compression"))
      .def(
          "append_bytes",
          [](Tensor& t, const py::bytes& b, const std::vector<uint64_t>& shape) {
            std::string_view v = b;
            py::gil_scoped_release release;
            t.append_bytes(v, Shape(shape.begin(), shape.end()));
          },
          py::arg("data"), py::arg("shape"));

  py::class_<Dataset, std::shared_ptr<Dataset>>(m, "Dataset")
      .def_static("open", &Dataset::open, py::arg("path"), py::arg("read_only"),
                  py::arg("remote") = remote::S3Options(), py::arg("address") = "",
                  py::call_guard<py::gil_scoped_release>(),
                  "Opens a dataset at a branch's head or a commit (`address`; '' for main).")
      .def_static("create", &Dataset::create, py::arg("path"), py::arg("overwrite"),
                  py::arg("remote") = remote::S3Options(), py::call_guard<py::gil_scoped_release>())
      .def_static("exists", &Dataset::exists, py::arg("path"), py::arg("remote") = remote::S3Options(),
                  py::call_guard<py::gil_scoped_release>())
      .def_static("remove", &Dataset::remove, py::arg("path"), py::arg("why"), py::arg("remote") = remote::S3Options(),
                  py::call_guard<py::gil_scoped_release>(),
                  "Deletes a dataset; DatasetLockedError while another process writes it.")
      .def_property_readonly("is_remote", [](const Dataset& d) { return d.storage()->is_remote(); })
      .def_static("validate_name", &Dataset::validate_name, py::arg("name"))
      .def_property_readonly("path", &Dataset::path)
      .def_property_readonly("read_only", &Dataset::read_only)
      .def_property_readonly("dirty", &Dataset::dirty)
      .def_property_readonly("orphans_collected", &Dataset::orphans_collected)
      .def("detach", &Dataset::detach, py::arg("why"), "Refuses every later write through this handle with `why`.")
      .def("tensor_names", &Dataset::tensor_names)
      .def("hidden_tensor_names", &Dataset::hidden_tensor_names)
      .def("groups", &Dataset::groups)
      .def("has_tensor", &Dataset::has_tensor, py::arg("name"))
      .def("tensor", &Dataset::tensor, py::arg("name"))
      .def("info_json", [](const Dataset& d) { return d.info().dump(); })
      .def(
          "set_info_json", [](Dataset& d, const std::string& s) { d.set_info(parse_user_json(s, "dataset info")); },
          py::arg("info"))
      .def("create_tensor", &Dataset::create_tensor, py::arg("spec"), py::call_guard<py::gil_scoped_release>(),
           "Creates a tensor from a TensorSpec (published by the next flush).")
      .def("create_group", &Dataset::create_group, py::arg("name"))
      .def(
          "query",
          [](const Dataset& d, const std::string& tql, uint64_t num_rows, uint64_t seed, bool row_by_row) {
            std::vector<uint64_t> out;
            {
              py::gil_scoped_release release;
              out = run_query(d, tql, nullptr, num_rows, seed, row_by_row);
            }
            return to_numpy(std::move(out));
          },
          py::arg("tql"), py::arg("rows"), py::arg("seed"), py::arg("row_by_row") = false,
          "The rows (of 0..rows-1) a TQL query selects, in result order.")
      .def(
          "query",
          [](const Dataset& d, const std::string& tql,
             const py::array_t<uint64_t, py::array::c_style | py::array::forcecast>& rows, uint64_t seed,
             bool row_by_row) {
            std::vector<uint64_t> out;
            {
              py::gil_scoped_release release;
              out = run_query(d, tql, rows.data(), static_cast<size_t>(rows.size()), seed, row_by_row);
            }
            return to_numpy(std::move(out));
          },
          py::arg("tql"), py::arg("rows"), py::arg("seed"), py::arg("row_by_row") = false,
          "The rows (of `rows`, which the query sees as its table) a TQL query selects, in result order.")
      .def("flush", &Dataset::flush, py::call_guard<py::gil_scoped_release>());
}

}  // namespace chute::python
