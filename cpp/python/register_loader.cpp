// chute._core.Loader (the engine's streaming loader), the epoch plan and the shared pool's release
// before fork.
#include <chrono>

#include "chute/core/error.h"
#include "chute/core/thread_pool.h"
#include "chute/dataset/dataset.h"
#include "chute/loader/loader.h"
#include "chute/loader/plan.h"
#include "common.h"

namespace chute::python {
namespace {

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

void register_loader(py::module_& m) {
  py::enum_<OpKind> kinds(m, "OpKind", "The engine's image ops (chute.ops builds them).");
  for (const auto& [kind, name] : kOpKinds) kinds.value(name, kind);

  py::class_<ImageOp>(m, "ImageOp", "One engine image op and its parameters (the fields its kind uses).")
      .def(py::init([](OpKind kind, uint32_t height, uint32_t width, std::pair<double, double> scale,
                       std::pair<double, double> ratio, double p, std::vector<float> mean, std::vector<float> std) {
             ImageOp op;
             op.kind = kind;
             op.height = height;
             op.width = width;
             op.scale_lo = scale.first;
             op.scale_hi = scale.second;
             op.ratio_lo = ratio.first;
             op.ratio_hi = ratio.second;
             op.p = p;
             op.mean = std::move(mean);
             op.std = std::move(std);
             return op;
           }),
           py::kw_only(), py::arg("kind"), py::arg("height") = 0, py::arg("width") = 0,
           py::arg("scale") = std::make_pair(0.08, 1.0), py::arg("ratio") = std::make_pair(3.0 / 4.0, 4.0 / 3.0),
           py::arg("p") = 0.5, py::arg("mean") = std::vector<float>(), py::arg("std") = std::vector<float>())
      .def_readonly("kind", &ImageOp::kind)
      .def_readonly("height", &ImageOp::height)
      .def_readonly("width", &ImageOp::width)
      .def_property_readonly("scale", [](const ImageOp& o) { return std::make_pair(o.scale_lo, o.scale_hi); })
      .def_property_readonly("ratio", [](const ImageOp& o) { return std::make_pair(o.ratio_lo, o.ratio_hi); })
      .def_readonly("p", &ImageOp::p)
      .def_readonly("mean", &ImageOp::mean)
      .def_readonly("std", &ImageOp::std);

  py::class_<LoaderTensor>(m, "LoaderColumn", "One tensor a Loader reads: how it is decoded and its image ops.")
      .def(py::init([](std::shared_ptr<Tensor> tensor, const std::string& name, bool stored_bytes,
                       std::vector<ImageOp> ops, uint32_t channels) {
             LoaderTensor lt;
             lt.tensor = std::move(tensor);
             lt.name = name;
             lt.mode = stored_bytes ? DecodeMode::Bytes : DecodeMode::Numpy;
             lt.pipeline = ImagePipeline(std::move(ops));
             lt.pipeline.set_channels(channels);
             return lt;
           }),
           py::kw_only(), py::arg("tensor"), py::arg("name"), py::arg("stored_bytes") = false,
           py::arg("ops") = std::vector<ImageOp>(), py::arg("channels") = 0)
      .def_readonly("name", &LoaderTensor::name);

  m.def(
      "plan_order",
      [](const py::array_t<uint64_t, py::array::c_style | py::array::forcecast>& row_array, bool shuffle, uint64_t seed,
         uint64_t epoch, uint32_t rank, uint32_t world, bool drop_last, uint64_t consumed,
         std::vector<uint64_t> chunk_ends, uint64_t buffer_rows, uint32_t interleave) {
        PlanSpec spec;
        spec.shuffle = shuffle;
        spec.seed = seed;
        spec.epoch = epoch;
        spec.rank = rank;
        spec.world = world;
        spec.drop_last = drop_last;
        spec.chunk_ends = std::move(chunk_ends);
        spec.buffer_rows = buffer_rows;
        spec.interleave = interleave;
        std::vector<uint64_t> share;
        uint64_t total = 0;
        {
          std::vector<uint64_t> rows = to_vector(row_array);
          py::gil_scoped_release release;
          auto order = global_order(rows, spec);
          total = order.size();
          share = rank_share(order, spec, consumed);
        }
        return py::make_tuple(py::array_t<uint64_t>(static_cast<py::ssize_t>(share.size()), share.data()), total);
      },
      py::arg("rows"), py::arg("shuffle"), py::arg("seed"), py::arg("epoch"), py::arg("rank"), py::arg("world"),
      py::arg("drop_last"), py::arg("consumed"), py::arg("chunk_ends") = std::vector<uint64_t>(),
      py::arg("buffer_rows") = 0, py::arg("interleave") = 8,
      "This rank's share of an epoch's global order (shuffled, padded or truncated to the world size), "
      "after `consumed` global samples, and the global order's length. With `chunk_ends` (an object "
      "store's dataset) the shuffle is chunk-local through a buffer of `buffer_rows`.");

  py::class_<Loader, std::shared_ptr<Loader>>(m, "Loader")
      .def(py::init([](std::vector<LoaderTensor> columns,
                       const py::array_t<uint64_t, py::array::c_style | py::array::forcecast>& order, size_t batch_size,
                       bool drop_last, size_t num_threads, size_t prefetch, bool ignore_errors, uint64_t seed,
                       uint64_t epoch, size_t readahead) {
             LoaderOptions o;
             o.batch_size = batch_size;
             o.drop_last = drop_last;
             o.num_threads = num_threads;
             o.prefetch_batches = prefetch;
             o.ignore_errors = ignore_errors;
             o.seed = seed;
             o.epoch = epoch;
             o.readahead = readahead;
             std::vector<uint64_t> rows = to_vector(order);
             py::gil_scoped_release release;
             return std::make_shared<Loader>(std::move(columns), std::move(rows), o);
           }),
           py::arg("columns"), py::arg("order"), py::arg("batch_size"), py::arg("drop_last"), py::arg("num_threads"),
           py::arg("prefetch"), py::arg("ignore_errors"), py::arg("seed"), py::arg("epoch"), py::arg("readahead") = 0)
      .def_property_readonly("num_batches", &Loader::num_batches)
      .def_property_readonly("num_threads", &Loader::num_threads)
      .def_property_readonly("skipped_total", &Loader::skipped_total)
      .def("close", &Loader::close, py::call_guard<py::gil_scoped_release>())
      .def(
          "next",
          [](Loader& l, const std::vector<std::string>& names) -> py::object {
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
            return py::make_tuple(py::array_t<uint64_t>(static_cast<py::ssize_t>(rows), batch.indices.data()), out,
                                  skipped);
          },
          py::arg("names"));

  m.def("release_shared_pool", &release_shared_pool, py::call_guard<py::gil_scoped_release>(),
        "Drops the process-wide decode pool (its threads end once no running call uses it; the next call "
        "makes a new one). Called before forking worker processes, so the fork copies no engine thread.");
}

}  // namespace chute::python
