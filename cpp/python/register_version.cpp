// Version control on chute._core.Dataset (Deep Lake 3's commit, checkout, branches, reset) and the
// updates of chute._core.Tensor (`tensor[i] = x`).
#include "chute/core/error.h"
#include "chute/dataset/dataset.h"
#include "common.h"

namespace chute::python {

void register_version(py::module_& m) {
  auto dataset = py::reinterpret_borrow<py::class_<Dataset, std::shared_ptr<Dataset>>>(m.attr("Dataset"));
  dataset
      .def("commit", &Dataset::commit, py::arg("message") = std::nullopt, py::arg("allow_empty") = false,
           py::arg("checkpoint") = false, py::arg("samples_processed") = 0, py::call_guard<py::gil_scoped_release>(),
           "Freezes the head as a commit (returns its id) and starts a new head on the branch.")
      .def("checkout", &Dataset::checkout, py::arg("address"), py::arg("create") = false,
           py::call_guard<py::gil_scoped_release>(), "Switches to a branch or commit; create=True makes a branch.")
      .def("reset", &Dataset::reset, py::arg("force") = false, py::call_guard<py::gil_scoped_release>(),
           "Drops the head's uncommitted changes; False when there were none.")
      .def("delete_branch", &Dataset::delete_branch, py::arg("name"), py::call_guard<py::gil_scoped_release>())
      .def("delete_tensor", &Dataset::delete_tensor, py::arg("name"), py::call_guard<py::gil_scoped_release>(),
           "Removes a tensor and its hidden companions from the head (older commits keep it).")
      .def_property_readonly("branch", &Dataset::branch)
      .def_property_readonly("pending_commit_id", &Dataset::pending_commit_id)
      .def_property_readonly("commit_id",
                             [](const Dataset& d) -> py::object {
                               std::string id = d.commit_id();
                               return id.empty() ? py::none() : py::object(py::str(id));
                             })
      .def_property_readonly("has_head_changes", &Dataset::has_head_changes)
      .def_property_readonly("at_head", &Dataset::at_head)
      .def("version_info_json", &Dataset::version_info_json)
      .def(
          "node_changes", [](const Dataset& d, const std::string& id) { return d.node_changes(id).dump(); },
          py::arg("id"), "JSON of what commit `id` changed (its commit_diff and dataset_diff files).");

  auto tensor = py::reinterpret_borrow<py::class_<Tensor, std::shared_ptr<Tensor>>>(m.attr("Tensor"));
  tensor
      .def(
          "update_array",
          [](Tensor& t, uint64_t index, const py::array& a) {
            py::array c = py::array::ensure(a, py::array::c_style);
            if (!c)
              throw InvalidArgument("tensor '" + t.name() + "': cannot make a C-contiguous array from the sample");
            DType dt = dtype_of(c);
            Shape shape = shape_of(c);
            const uint8_t* data = static_cast<const uint8_t*>(c.data());
            size_t nbytes = static_cast<size_t>(c.nbytes());
            py::gil_scoped_release release;
            t.update_array(index, data, nbytes, shape, dt);
          },
          py::arg("index"), py::arg("array"))
      .def(
          "update_compressed",
          [](Tensor& t, uint64_t index, const py::bytes& b, const std::string& compression) {
            std::string_view v = b;
            Compression c = compression_from_name(compression);
            py::gil_scoped_release release;
            t.update_compressed(index, v, c);
          },
          py::arg("index"), py::arg("data"), py::arg("compression"))
      .def(
          "update_bytes",
          [](Tensor& t, uint64_t index, const py::bytes& b, const std::vector<uint64_t>& shape) {
            std::string_view v = b;
            py::gil_scoped_release release;
            t.update_bytes(index, v, Shape(shape.begin(), shape.end()));
          },
          py::arg("index"), py::arg("data"), py::arg("shape"));
}

}  // namespace chute::python
