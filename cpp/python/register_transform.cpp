// The executor's engine part (chute.transform): tensor segments that workers fill with the GIL
// released, appended in input order by the parent, and the state a failed transform returns to.
// Adds methods to chute._core.Tensor and chute._core.Dataset (registered in register_dataset.cpp).
#include <optional>
#include <tuple>
#include "chute/core/error.h"

#include "chute/dataset/dataset.h"
#include "chute/remote/open_storage.h"
#include "chute/transform/copy_rows.h"
#include "common.h"

namespace chute::python {

void register_transform(py::module_& m) {
  py::class_<TensorState, std::shared_ptr<TensorState>>(
      m, "TensorState", "A tensor's rows and meta as they were (Tensor.save_state), for Tensor.restore_state.");

  auto tensor = py::reinterpret_borrow<py::class_<Tensor, std::shared_ptr<Tensor>>>(m.attr("Tensor"));
  tensor
      .def("make_segment", &Tensor::make_segment,
           "An unpublished tensor with this one's meta and no rows; its chunks go to this tensor's folder.")
      .def_property_readonly("is_segment", &Tensor::is_segment)
      .def(
          "segment_spec", [](const Tensor& t) { return t.segment_spec().dump(); },
          "JSON for open_segment in another process.")
      .def(
          "seal_segment",
          [](Tensor& t) {
            SegmentDesc d;
            {
              py::gil_scoped_release release;
              d = t.seal_segment();
            }
            return d.to_json().dump();
          },
          "Writes and syncs the segment's chunks; returns the JSON description append_segment takes.")
      .def(
          "append_segment",
          [](Tensor& t, const std::string& desc) {
            SegmentDesc d = SegmentDesc::from_json(parse_user_json(desc, "segment description"),
                                                   "tensor '" + t.name() + "': segment description");
            py::gil_scoped_release release;
            t.append_segment(d);
          },
          py::arg("desc"), "Appends a sealed segment's rows after this tensor's (published by the next flush).")
      .def("clear", &Tensor::clear, py::call_guard<py::gil_scoped_release>(),
           "Drops every row; the chunks are deleted by the next flush.")
      .def("save_state", &Tensor::save_state)
      .def("restore_state", &Tensor::restore_state, py::arg("state"), py::call_guard<py::gil_scoped_release>());

  m.def(
      "open_segment",
      [](const std::string& root, const std::string& spec, const remote::S3Options& remote) {
        auto parsed = parse_user_json(spec, "segment spec");
        py::gil_scoped_release release;
        return Tensor::open_segment(open_storage(root, remote), parsed);
      },
      py::arg("root"), py::arg("spec"), py::arg("remote") = remote::S3Options(),
      "A segment (see Tensor.make_segment) of the tensor `spec` names, in the dataset folder `root`: for a "
      "worker process, which cannot open the dataset for writing.");

  using Column = std::tuple<std::shared_ptr<Tensor>, std::shared_ptr<Tensor>, std::optional<std::vector<ImageOp>>>;
  m.def(
      "copy_rows",
      [](const std::vector<Column>& columns,
         const py::array_t<uint64_t, py::array::c_style | py::array::forcecast>& rows, uint64_t seed) {
        std::vector<RowCopy> cols;
        for (const auto& [src, dst, ops] : columns) {
          RowCopy c{src, dst, std::nullopt};
          if (ops) c.ops.emplace(*ops);
          cols.push_back(std::move(c));
        }
        std::vector<uint64_t> r = to_vector(rows);
        py::gil_scoped_release release;
        copy_rows(cols, r, seed);
      },
      py::arg("columns"), py::arg("rows"), py::arg("seed"),
      "The engine-only transform: for each row, each (source tensor, destination segment, image ops or None) "
      "column's sample appended to its segment, images decoded, run through the ops and encoded as the "
      "destination stores them. The GIL is released throughout.");

  auto dataset = py::reinterpret_borrow<py::class_<Dataset, std::shared_ptr<Dataset>>>(m.attr("Dataset"));
  dataset.def("collect_orphans", &Dataset::collect_orphans, py::call_guard<py::gil_scoped_release>(),
              "Removes chunk and temp files that no index names (what a failed transform wrote).");
}

}  // namespace chute::python
