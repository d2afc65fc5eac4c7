// Object storage: the options an s3:// dataset is opened with, and its request counters.
#include "chute/dataset/dataset.h"
#include "chute/remote/s3_storage.h"
#include "common.h"

namespace chute::python {

void register_remote(py::module_& m) {
  using remote::S3Options;
  py::class_<S3Options>(m, "S3Options",
                        "Credentials, endpoint and request limits of an s3:// dataset. Built by chute from `creds`; "
                        "its repr never shows a secret.")
      .def(py::init<>())
      .def_property(
          "access_key", [](const S3Options& o) { return o.creds.access_key; },
          [](S3Options& o, std::string v) { o.creds.access_key = std::move(v); })
      .def_property(
          "secret_key", [](const S3Options&) { return std::string("***"); },
          [](S3Options& o, std::string v) { o.creds.secret_key = std::move(v); }, "Write-only: reads give '***'.")
      .def_property(
          "session_token", [](const S3Options& o) { return o.creds.session_token.empty() ? "" : "***"; },
          [](S3Options& o, std::string v) { o.creds.session_token = std::move(v); }, "Write-only: reads give '***'.")
      .def_readwrite("region", &S3Options::region)
      .def_readwrite("endpoint_url", &S3Options::endpoint_url)
      .def_readwrite("addressing", &S3Options::addressing, "'auto', 'path' or 'virtual'")
      .def_readwrite("max_in_flight", &S3Options::max_in_flight, "requests in flight at most")
      .def_readwrite("multipart_threshold", &S3Options::multipart_threshold, "bytes above which uploads are multipart")
      .def_readwrite("multipart_part_size", &S3Options::multipart_part_size, "bytes per part (5 MB at least)")
      .def_readwrite("cache_dir", &S3Options::cache_dir, "local folder of the chunk cache")
      .def_readwrite("cache_bytes", &S3Options::cache_bytes, "bound of the chunk cache on disk (0: none)")
      .def_property(
          "connect_timeout_ms", [](const S3Options& o) { return o.http.connect_timeout_ms; },
          [](S3Options& o, long v) { o.http.connect_timeout_ms = v; })
      .def_property(
          "max_attempts", [](const S3Options& o) { return o.http.max_attempts; },
          [](S3Options& o, int v) { o.http.max_attempts = v; })
      .def_property(
          "backoff_base_ms", [](const S3Options& o) { return o.http.backoff_base_ms; },
          [](S3Options& o, long v) { o.http.backoff_base_ms = v; })
      .def("__repr__", [](const S3Options& o) {
        return "S3Options(endpoint_url='" + o.endpoint_url + "', region='" + o.region + "', addressing='" +
               o.addressing + "', access_key=" + (o.creds.access_key.empty() ? "None" : "'***'") + ")";
      });

  m.def(
      "storage_stats",
      [](const Dataset& d) {
        py::dict out;
        auto* s3 = dynamic_cast<const remote::S3Storage*>(d.storage().get());
        if (!s3) return out;
        auto st = s3->stats();
        out["requests"] = st.requests;
        out["gets"] = st.gets;
        out["retries"] = st.retries;
        out["bytes_in"] = st.bytes_in;
        out["bytes_out"] = st.bytes_out;
        out["cache_hits"] = s3->cache_hits();
        return out;
      },
      py::arg("dataset"), "HTTP counters of an s3:// dataset's storage ({} for a local one).");
  m.def(
      "reset_storage_stats",
      [](const Dataset& d) {
        if (auto* s3 = dynamic_cast<const remote::S3Storage*>(d.storage().get())) s3->reset_stats();
      },
      py::arg("dataset"));
}

}  // namespace chute::python
