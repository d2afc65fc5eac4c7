// Image codecs for the Python layer (chute.read, the CLI's contact sheet, tests).
#include "chute/codec/image.h"
#include "chute/codec/limits.h"
#include "chute/codec/sample.h"
#include "common.h"

namespace chute::python {

void register_codec(py::module_& m) {
  m.def(
      "image_shape",
      [](const py::bytes& b, const std::string& compression) {
        std::string_view v = b;
        return py::tuple(py::cast(to_py_shape(compressed_image_shape(compression_from_name(compression), v, "image"))));
      },
      py::arg("data"), py::arg("compression"), "The (height, width, channels) a compressed image's header gives.");
  m.def(
      "decode_image",
      [](const py::bytes& b, const std::string& compression) {
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
      },
      py::arg("data"), py::arg("compression"), "Decodes a JPEG or PNG to an HWC uint8 array.");
  m.def(
      "encode_image",
      [](const py::array_t<uint8_t, py::array::c_style | py::array::forcecast>& a, const std::string& compression,
         int quality) {
        Shape s = shape_of(a);
        std::string out;
        {
          const uint8_t* p = a.data();
          size_t n = static_cast<size_t>(a.nbytes());
          py::gil_scoped_release release;
          out = encode_sample(compression_from_name(compression), p, n, s, DType::UInt8, quality);
        }
        return py::bytes(out);
      },
      py::arg("array"), py::arg("compression"), py::arg("quality") = 75);
}

}  // namespace chute::python
