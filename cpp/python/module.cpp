// The only C++ that knows Python. Converts arguments under the GIL, then releases it around
// engine calls; numpy results own their engine buffers through a capsule.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "chute/codec/image.h"
#include "chute/core/buffer.h"
#include "chute/codec/sample.h"
#include "chute/core/error.h"
#include "chute/core/thread_pool.h"
#include "chute/dataset/dataset.h"
#include "chute/loader/loader.h"
#include "chute/loader/plan.h"
#include "chute/query/query.h"
#include "chute/query/sampling.h"

namespace py = pybind11;
using namespace chute;

namespace {

PyObject* g_chute_error = nullptr;
PyObject* g_io_error = nullptr;
PyObject* g_format_error = nullptr;
PyObject* g_decode_error = nullptr;
PyObject* g_invalid_argument = nullptr;
PyObject* g_key_error = nullptr;
PyObject* g_query_error = nullptr;
PyObject* g_locked_error = nullptr;
PyObject* g_invalid_name = nullptr;
PyObject* g_resource_error = nullptr;

PyObject* make_exception(py::module_& m, const char* name, std::vector<PyObject*> bases, const char* doc) {
  py::tuple t(bases.size());
  for (size_t i = 0; i < bases.size(); ++i) t[i] = py::reinterpret_borrow<py::object>(bases[i]);
  std::string qualified = std::string("chute._core.") + name;
  PyObject* cls = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, t.ptr(), nullptr);
  if (!cls) throw py::error_already_set();
  m.add_object(name, py::reinterpret_borrow<py::object>(cls));
  return cls;
}

// Engine messages may quote user bytes that are not valid UTF-8 (a query, a file name): never let
// that turn into a second error while raising the first.
void set_error(PyObject* cls, const char* what) {
  PyObject* msg = PyUnicode_DecodeUTF8(what, static_cast<Py_ssize_t>(std::strlen(what)), "replace");
  PyErr_SetObject(cls, msg);
  Py_XDECREF(msg);
}

// JSON the Python layer made from a user's values: a parse error is the caller's, not the engine's.
nlohmann::json parse_user_json(const std::string& text, const char* what) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument(std::string(what) + " is not valid JSON: " + e.what());
  }
}

DType dtype_of(const py::array& a) {
  char kind = a.dtype().kind();
  size_t size = static_cast<size_t>(a.itemsize());
  switch (kind) {
    case 'b': return DType::Bool;
    case 'u': return size == 1 ? DType::UInt8 : size == 2 ? DType::UInt16 : size == 4 ? DType::UInt32 : DType::UInt64;
    case 'i': return size == 1 ? DType::Int8 : size == 2 ? DType::Int16 : size == 4 ? DType::Int32 : DType::Int64;
    case 'f': return size == 2 ? DType::Float16 : size == 4 ? DType::Float32 : DType::Float64;
  }
  throw InvalidArgument(std::string("unsupported numpy dtype '") + std::string(py::str(a.dtype())) + "'");
}

py::dtype numpy_dtype(DType d) {
  if (d == DType::Str || d == DType::Object) return py::dtype("O");
  return py::dtype(dtype_name(d));
}

struct Buffer {
  ByteVector bytes;
  std::shared_ptr<ByteVector> pooled;  // when set, the array views this (recycled) buffer instead
  uint8_t* data() { return pooled ? pooled->data() : bytes.data(); }
};

/// An ndarray over `buf`; the array's base capsule keeps the buffer alive.
py::array wrap(std::shared_ptr<Buffer> buf, const py::dtype& dt, const std::vector<py::ssize_t>& shape) {
  auto* holder = new std::shared_ptr<Buffer>(buf);
  py::capsule owner(holder, [](void* p) { delete static_cast<std::shared_ptr<Buffer>*>(p); });
  return py::array(dt, shape, {}, buf->data(), owner);
}

/// A 1-D uint64 ndarray owning `v` (no copy).
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

DType tensor_dtype(const Tensor& t) { return t.dtype(); }

py::object read_batch(const Tensor& t, const std::vector<uint64_t>& indices, size_t num_threads, bool aslist) {
  size_t n = indices.size();
  std::vector<Shape> shapes(n);
  DType dt = tensor_dtype(t);
  size_t item = dtype_size(dt);
  bool same = true;
  auto pool = get_shared_pool(num_threads);
  {
    py::gil_scoped_release release;
    pool->parallel_for(n, [&](size_t i) {
      shapes[i] = t.shape(indices[i]);
      check_decoded_size(shapes[i], dt, "tensor '" + t.name() + "' index " + std::to_string(indices[i]));
    }, num_threads);
    for (size_t i = 1; i < n && same; ++i) same = shapes[i] == shapes[0];
  }
  if (same && !aslist && n > 0) {
    auto buf = std::make_shared<Buffer>();
    size_t per = num_elements(shapes[0]) * item;
    {
      py::gil_scoped_release release;
      buf->bytes.resize(per * n);
      pool->parallel_for(n, [&](size_t i) { t.read_into(indices[i], shapes[i], buf->bytes.data() + i * per); }, num_threads);
    }
    std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(n)};
    for (auto d : shapes[0]) shape.push_back(static_cast<py::ssize_t>(d));
    return wrap(buf, numpy_dtype(dt), shape);
  }
  std::vector<std::shared_ptr<Buffer>> bufs(n);
  {
    py::gil_scoped_release release;
    pool->parallel_for(n, [&](size_t i) {
      bufs[i] = std::make_shared<Buffer>();
      bufs[i]->bytes.resize(num_elements(shapes[i]) * item);
      t.read_into(indices[i], shapes[i], bufs[i]->bytes.data());
    }, num_threads);
  }
  py::list out;
  for (size_t i = 0; i < n; ++i) out.append(wrap(bufs[i], numpy_dtype(dt), to_py_shape(shapes[i])));
  return out;
}

ImageOp parse_op(const py::dict& d) {
  std::string kind = py::cast<std::string>(d["kind"]);
  ImageOp op;
  if (kind == "RandomResizedCrop") op.kind = OpKind::RandomResizedCrop;
  else if (kind == "Resize") op.kind = OpKind::Resize;
  else if (kind == "CenterCrop") op.kind = OpKind::CenterCrop;
  else if (kind == "RandomHorizontalFlip") op.kind = OpKind::RandomHorizontalFlip;
  else if (kind == "Normalize") op.kind = OpKind::Normalize;
  else if (kind == "ToCHW") op.kind = OpKind::ToCHW;
  else throw InvalidArgument("unknown image op '" + kind + "'");
  if (d.contains("height")) op.height = py::cast<uint32_t>(d["height"]);
  if (d.contains("width")) op.width = py::cast<uint32_t>(d["width"]);
  if (d.contains("scale")) {
    auto t = py::cast<std::pair<double, double>>(d["scale"]);
    op.scale_lo = t.first;
    op.scale_hi = t.second;
  }
  if (d.contains("ratio")) {
    auto t = py::cast<std::pair<double, double>>(d["ratio"]);
    op.ratio_lo = t.first;
    op.ratio_hi = t.second;
  }
  if (d.contains("p")) op.p = py::cast<double>(d["p"]);
  if (d.contains("mean")) op.mean = py::cast<std::vector<float>>(d["mean"]);
  if (d.contains("std")) op.std = py::cast<std::vector<float>>(d["std"]);
  return op;
}

py::object column_to_python(const Column& col, size_t rows) {
  if (col.fixed) {
    auto buf = std::make_shared<Buffer>();
    buf->pooled = col.buffer;  // back to the loader's pool when the array dies
    std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(rows)};
    for (auto d : col.sample_shape) shape.push_back(static_cast<py::ssize_t>(d));
    return wrap(buf, numpy_dtype(col.dtype), shape);
  }
  py::list out;
  for (size_t r = 0; r < col.samples.size(); ++r) {
    if (col.is_bytes) {
      out.append(py::bytes(reinterpret_cast<const char*>(col.samples[r]->data()), col.samples[r]->size()));
    } else {
      auto buf = std::make_shared<Buffer>();
      buf->bytes.swap(*col.samples[r]);
      out.append(wrap(buf, numpy_dtype(col.dtype), to_py_shape(col.shapes[r])));
    }
  }
  return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "chute's C++ engine (private; use the chute package)";

  g_chute_error = make_exception(m, "ChuteError", {PyExc_Exception}, "Base class of chute's errors.");
  g_io_error = make_exception(m, "IoError", {g_chute_error, PyExc_OSError}, "A file could not be read or written.");
  g_format_error = make_exception(m, "FormatError", {g_chute_error, PyExc_ValueError},
                                  "Bytes on disk do not follow the Deep Lake 3 format.");
  g_decode_error = make_exception(m, "DecodeError", {g_chute_error, PyExc_ValueError}, "A sample could not be decoded.");
  g_invalid_argument = make_exception(m, "InvalidArgument", {g_chute_error, PyExc_ValueError}, "An argument was rejected.");
  g_key_error = make_exception(m, "TensorDoesNotExistError", {g_chute_error, PyExc_KeyError}, "No tensor of that name.");
  g_query_error = make_exception(m, "QueryError", {g_chute_error, PyExc_ValueError},
                                 "A TQL query that does not parse or cannot run; .line and .column say where.");
  g_locked_error = make_exception(m, "DatasetLockedError", {g_io_error},
                                  "Another process has the dataset open for writing; .holder_pid is its pid (0: unknown).");
  g_invalid_name = make_exception(m, "InvalidTensorNameError", {g_invalid_argument},
                                  "A tensor or group name that is empty, leaves the dataset folder, or is reserved.");
  g_resource_error = make_exception(m, "ResourceError", {g_chute_error, PyExc_MemoryError},
                                    "Memory or threads the engine needed could not be had, or a size is over its cap.");

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const chute::QueryError& e) {
      py::str text = py::reinterpret_steal<py::str>(
          PyUnicode_DecodeUTF8(e.what(), static_cast<Py_ssize_t>(std::strlen(e.what())), "replace"));
      py::object exc = py::reinterpret_borrow<py::object>(g_query_error)(text);
      exc.attr("line") = e.line();
      exc.attr("column") = e.column();
      PyErr_SetObject(g_query_error, exc.ptr());
    } catch (const chute::LockedError& e) {
      py::str text = py::reinterpret_steal<py::str>(
          PyUnicode_DecodeUTF8(e.what(), static_cast<Py_ssize_t>(std::strlen(e.what())), "replace"));
      py::object exc = py::reinterpret_borrow<py::object>(g_locked_error)(text);
      exc.attr("holder_pid") = e.holder_pid();
      PyErr_SetObject(g_locked_error, exc.ptr());
    } catch (const chute::IoError& e) {
      set_error(g_io_error, e.what());
    } catch (const chute::FormatError& e) {
      set_error(g_format_error, e.what());
    } catch (const chute::DecodeError& e) {
      set_error(g_decode_error, e.what());
    } catch (const chute::InvalidNameError& e) {
      set_error(g_invalid_name, e.what());
    } catch (const chute::InvalidArgument& e) {
      set_error(g_invalid_argument, e.what());
    } catch (const chute::ResourceError& e) {
      set_error(g_resource_error, e.what());
    } catch (const chute::KeyError& e) {
      set_error(g_key_error, e.what());
    } catch (const chute::Error& e) {
      set_error(g_chute_error, e.what());
    } catch (const std::bad_alloc&) {
      set_error(g_resource_error, "the engine ran out of memory");
    }
  });

  py::class_<Tensor, std::shared_ptr<Tensor>>(m, "Tensor")
      .def_property_readonly("name", &Tensor::name)
      .def_property_readonly("key", &Tensor::key)
      .def_property_readonly("length", &Tensor::length)
      .def_property_readonly("htype", [](const Tensor& t) { return t.htype(); })
      .def_property_readonly("dtype", [](const Tensor& t) -> py::object {
        if (!t.has_dtype()) return py::none();
        return py::str(dtype_name(t.dtype()));
      })
      .def_property_readonly("sample_compression", [](const Tensor& t) { return std::string(compression_name(t.sample_compression())); })
      .def_property_readonly("chunk_compression", [](const Tensor& t) { return std::string(compression_name(t.chunk_compression())); })
      .def_property_readonly("is_bytes_htype", [](const Tensor& t) { return t.is_bytes_htype(); })
      .def_property_readonly("writable", &Tensor::writable)
      .def("meta_json", &Tensor::meta_json)
      .def("info_json", [](const Tensor& t) { return t.info().dump(); })
      .def("set_info_json", [](Tensor& t, const std::string& s) { t.set_info(parse_user_json(s, "tensor info")); })
      .def("num_chunks", &Tensor::num_chunks, py::call_guard<py::gil_scoped_release>())
      .def("nbytes_on_disk", &Tensor::chunk_bytes_on_disk, py::call_guard<py::gil_scoped_release>())
      .def("shape", [](const Tensor& t, uint64_t i) {
        Shape s;
        {
          py::gil_scoped_release release;
          s = t.shape(i);
        }
        return py::tuple(py::cast(to_py_shape(s)));
      })
      .def("tobytes", [](const Tensor& t, uint64_t i) {
        std::string b;
        {
          py::gil_scoped_release release;
          b = t.stored_bytes(i);
        }
        return py::bytes(b);
      })
      .def("read", [](const Tensor& t, uint64_t i) {
        auto buf = std::make_shared<Buffer>();
        Shape s;
        {
          py::gil_scoped_release release;
          s = t.shape(i);
          check_decoded_size(s, tensor_dtype(t), "tensor '" + t.name() + "' index " + std::to_string(i));
          buf->bytes.resize(num_elements(s) * dtype_size(tensor_dtype(t)));
          t.read_into(i, s, buf->bytes.data());
        }
        return wrap(buf, numpy_dtype(tensor_dtype(t)), to_py_shape(s));
      })
      .def("read_batch", &read_batch, py::arg("indices"), py::arg("num_threads") = 0, py::arg("aslist") = false,
           "Decodes the samples on the engine's threads with the GIL released. One stacked array when every "
           "shape is equal (and aslist is False), else a list of arrays.")
      .def("append_array", [](Tensor& t, const py::array& a) {
        py::array c = py::array::ensure(a, py::array::c_style);
        if (!c) throw InvalidArgument("tensor '" + t.name() + "': cannot make a C-contiguous array from the sample");
        DType dt = dtype_of(c);
        Shape shape = shape_of(c);
        const uint8_t* data = static_cast<const uint8_t*>(c.data());
        size_t nbytes = static_cast<size_t>(c.nbytes());
        py::gil_scoped_release release;
        t.append_array(data, nbytes, shape, dt);
      })
      .def("append_many", [](Tensor& t, const py::array& a) {
        py::array c = py::array::ensure(a, py::array::c_style);
        if (!c || c.ndim() < 1) throw InvalidArgument("tensor '" + t.name() + "': append_many takes an array of samples");
        DType dt = dtype_of(c);
        Shape shape = shape_of(c);
        size_t n = shape.front();
        Shape sample(shape.begin() + 1, shape.end());
        const uint8_t* data = static_cast<const uint8_t*>(c.data());
        py::gil_scoped_release release;
        t.append_many(data, n, sample, dt);
      }, "Appends a[0], a[1], ... as samples (one shape, one dtype).")
      .def("append_compressed", [](Tensor& t, const py::bytes& b, const std::string& compression) {
        std::string_view v = b;
        Compression c = compression_from_name(compression);
        py::gil_scoped_release release;
        t.append_compressed(v, c);
      })
      .def("append_bytes", [](Tensor& t, const py::bytes& b, const std::vector<uint64_t>& shape) {
        std::string_view v = b;
        py::gil_scoped_release release;
        t.append_bytes(v, Shape(shape.begin(), shape.end()));
      });

  py::class_<Dataset, std::shared_ptr<Dataset>>(m, "Dataset")
      .def_static("open", &Dataset::open, py::arg("path"), py::arg("read_only"), py::call_guard<py::gil_scoped_release>())
      .def_static("create", &Dataset::create, py::arg("path"), py::arg("overwrite"), py::call_guard<py::gil_scoped_release>())
      .def_static("exists", &Dataset::exists)
      .def_static("remove", &Dataset::remove, py::arg("path"), py::arg("why"), py::call_guard<py::gil_scoped_release>(),
                  "Deletes a dataset; DatasetLockedError while another process writes it.")
      .def_static("validate_name", &Dataset::validate_name)
      .def_property_readonly("path", &Dataset::path)
      .def_property_readonly("read_only", &Dataset::read_only)
      .def_property_readonly("dirty", &Dataset::dirty)
      .def_property_readonly("orphans_collected", &Dataset::orphans_collected)
      .def("detach", &Dataset::detach, py::arg("why"), "Refuses every later write through this handle with `why`.")
      .def("tensor_names", &Dataset::tensor_names)
      .def("hidden_tensor_names", &Dataset::hidden_tensor_names)
      .def("groups", &Dataset::groups)
      .def("has_tensor", &Dataset::has_tensor)
      .def("tensor", &Dataset::tensor)
      .def("info_json", [](const Dataset& d) { return d.info().dump(); })
      .def("set_info_json", [](Dataset& d, const std::string& s) { d.set_info(parse_user_json(s, "dataset info")); })
      .def("create_tensor",
           [](Dataset& d, const std::string& name, const std::string& htype, const std::string& dtype,
              const std::string& sample_compression, const std::string& chunk_compression, int64_t max_chunk_size,
              int64_t tiling_threshold, const std::string& meta_extra, const std::string& info) {
             return d.create_tensor(name, htype, dtype, sample_compression, chunk_compression, max_chunk_size, tiling_threshold,
                                    parse_user_json(meta_extra, "tensor meta"), parse_user_json(info, "tensor info"));
           })
      .def("create_group", &Dataset::create_group)
      .def("query", [](const Dataset& d, const std::string& tql, uint64_t num_rows, uint64_t seed, bool row_by_row) {
        std::vector<uint64_t> out;
        {
          py::gil_scoped_release release;
          out = run_query(d, tql, nullptr, num_rows, seed, row_by_row);
        }
        return to_numpy(std::move(out));
      }, py::arg("tql"), py::arg("rows"), py::arg("seed"), py::arg("row_by_row") = false,
      "The rows (of 0..rows-1) a TQL query selects, in result order.")
      .def("query", [](const Dataset& d, const std::string& tql,
                       const py::array_t<uint64_t, py::array::c_style | py::array::forcecast>& rows, uint64_t seed,
                       bool row_by_row) {
        std::vector<uint64_t> out;
        {
          py::gil_scoped_release release;
          out = run_query(d, tql, rows.data(), static_cast<size_t>(rows.size()), seed, row_by_row);
        }
        return to_numpy(std::move(out));
      }, py::arg("tql"), py::arg("rows"), py::arg("seed"), py::arg("row_by_row") = false,
      "The rows (of `rows`, which the query sees as its table) a TQL query selects, in result order.")
      .def("flush", &Dataset::flush, py::call_guard<py::gil_scoped_release>());

  m.def("weighted_draw",
        [](const py::array_t<double, py::array::c_style | py::array::forcecast>& weights, uint64_t n, bool replace, uint64_t seed) {
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

  m.def("plan_order",
        [](const std::vector<uint64_t>& rows, bool shuffle, uint64_t seed, uint64_t epoch, uint32_t rank, uint32_t world,
           bool drop_last, uint64_t consumed) {
          PlanSpec spec{shuffle, seed, epoch, rank, world, drop_last};
          std::vector<uint64_t> share;
          uint64_t total = 0;
          {
            py::gil_scoped_release release;
            auto order = global_order(rows, spec);
            total = order.size();
            share = rank_share(order, spec, consumed);
          }
          return py::make_tuple(py::array_t<uint64_t>(static_cast<py::ssize_t>(share.size()), share.data()), total);
        },
        py::arg("rows"), py::arg("shuffle"), py::arg("seed"), py::arg("epoch"), py::arg("rank"), py::arg("world"),
        py::arg("drop_last"), py::arg("consumed"),
        "This rank's share of an epoch's global order (shuffled, padded or truncated to the world size), "
        "after `consumed` global samples, and the global order's length.");

  py::class_<Loader, std::shared_ptr<Loader>>(m, "Loader")
      .def(py::init([](const py::list& tensors, const std::vector<uint64_t>& order, size_t batch_size, bool drop_last,
                       size_t num_threads, size_t prefetch, bool ignore_errors, uint64_t seed, uint64_t epoch) {
             std::vector<LoaderTensor> specs;
             for (const auto& item : tensors) {
               auto t = py::cast<py::tuple>(item);
               LoaderTensor lt;
               lt.tensor = py::cast<std::shared_ptr<Tensor>>(t[0]);
               lt.name = py::cast<std::string>(t[1]);
               std::string mode = py::cast<std::string>(t[2]);
               if (mode == "tobytes") lt.mode = DecodeMode::Bytes;
               else if (mode != "numpy") throw InvalidArgument("decode_method for '" + lt.name + "' must be numpy or tobytes, got '" + mode + "'");
               std::vector<ImageOp> ops;
               for (const auto& op : py::cast<py::list>(t[3])) ops.push_back(parse_op(py::cast<py::dict>(op)));
               lt.pipeline = ImagePipeline(std::move(ops));
               lt.pipeline.set_channels(py::cast<uint32_t>(t[4]));
               specs.push_back(std::move(lt));
             }
             LoaderOptions o;
             o.batch_size = batch_size;
             o.drop_last = drop_last;
             o.num_threads = num_threads;
             o.prefetch_batches = prefetch;
             o.ignore_errors = ignore_errors;
             o.seed = seed;
             o.epoch = epoch;
             py::gil_scoped_release release;
             return std::make_shared<Loader>(std::move(specs), order, o);
           }),
           py::arg("tensors"), py::arg("order"), py::arg("batch_size"), py::arg("drop_last"), py::arg("num_threads"),
           py::arg("prefetch"), py::arg("ignore_errors"), py::arg("seed"), py::arg("epoch"))
      .def_property_readonly("num_batches", &Loader::num_batches)
      .def_property_readonly("num_threads", &Loader::num_threads)
      .def_property_readonly("skipped_total", &Loader::skipped_total)
      .def("close", &Loader::close, py::call_guard<py::gil_scoped_release>())
      .def("next", [](Loader& l, const std::vector<std::string>& names) -> py::object {
        // Wait in 100 ms slices with the GIL released, checking for Ctrl-C between slices.
        Batch batch;
        while (true) {
          Loader::Status st;
          {
            py::gil_scoped_release release;
            st = l.next(batch, std::chrono::milliseconds(100));
          }
          if (st == Loader::Status::Done) throw py::stop_iteration();
          if (st == Loader::Status::Ready) break;
          if (PyErr_CheckSignals() != 0) throw py::error_already_set();
        }
        py::dict out;
        size_t rows = batch.indices.size();
        for (size_t c = 0; c < batch.columns.size() && c < names.size(); ++c)
          out[py::str(names[c])] = column_to_python(batch.columns[c], rows);
        py::list skipped;
        for (auto& s : batch.skipped) skipped.append(py::str(s));
        return py::make_tuple(py::array_t<uint64_t>(static_cast<py::ssize_t>(rows), batch.indices.data()), out, skipped);
      }, py::arg("names"));

  m.def("tql_functions", &tql_functions);
  m.def("release_shared_pool", &release_shared_pool, py::call_guard<py::gil_scoped_release>(),
        "Drops the process-wide decode pool (its threads end once no running call uses it; the next call "
        "makes a new one). Called before forking worker processes, so the fork copies no engine thread.");

  m.def("image_shape", [](const py::bytes& b, const std::string& compression) {
    std::string_view v = b;
    return py::tuple(py::cast(to_py_shape(compressed_image_shape(compression_from_name(compression), v, "image"))));
  });
  m.def("decode_image", [](const py::bytes& b, const std::string& compression) {
    std::string_view v = b;
    Compression c = compression_from_name(compression);
    auto buf = std::make_shared<Buffer>();
    Shape s;
    {
      py::gil_scoped_release release;
      s = compressed_image_shape(c, v, "image");
      check_decoded_size(s, DType::UInt8, "image");
      buf->bytes.resize(num_elements(s));
      decode_sample(c, v, s, DType::UInt8, buf->bytes.data(), "image");
    }
    return wrap(buf, py::dtype("uint8"), to_py_shape(s));
  });
  m.def("encode_image", [](const py::array_t<uint8_t, py::array::c_style | py::array::forcecast>& a, const std::string& compression, int quality) {
    Shape s = shape_of(a);
    std::string out;
    {
      const uint8_t* p = a.data();
      size_t n = static_cast<size_t>(a.nbytes());
      py::gil_scoped_release release;
      out = encode_sample(compression_from_name(compression), p, n, s, DType::UInt8, quality);
    }
    return py::bytes(out);
  }, py::arg("array"), py::arg("compression"), py::arg("quality") = 75);
}
