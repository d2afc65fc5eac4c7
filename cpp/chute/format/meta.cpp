#include "chute/format/meta.h"

#include "chute/core/error.h"
#include "chute/format/version.h"

namespace chute {
namespace {

void expect(const nlohmann::json& j, const char* key, bool ok, const char* type, const std::string& what) {
  if (j.contains(key) && !ok)
    throw FormatError(what + ": key '" + key + "' must be " + type + ", found " + j.at(key).type_name());
}

bool null_or_string(const nlohmann::json& j, const char* k) {
  return !j.contains(k) || j[k].is_null() || j[k].is_string();
}
bool null_or_uint(const nlohmann::json& j, const char* k) {
  return !j.contains(k) || j[k].is_null() || j[k].is_number_unsigned() ||
         (j[k].is_number_integer() && j[k].get<int64_t>() >= 0);
}
bool int_array(const nlohmann::json& j, const char* k) {
  if (!j.contains(k)) return true;
  if (!j[k].is_array()) return false;
  for (const auto& v : j[k])
    if (!v.is_number_integer() && !v.is_null()) return false;
  return true;
}

std::string str_or_empty(const nlohmann::json& j, const char* k) {
  return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
}

}  // namespace

TensorMeta TensorMeta::parse(std::string_view text, const std::string& what) {
  TensorMeta m;
  try {
    m.json_ = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(what + ": not valid JSON (" + e.what() + ")");
  }
  const auto& j = m.json_;
  if (!j.is_object()) throw FormatError(what + ": expected a JSON object");
  expect(j, "htype", null_or_string(j, "htype"), "a string", what);
  expect(j, "dtype", null_or_string(j, "dtype"), "a string or null", what);
  expect(j, "sample_compression", null_or_string(j, "sample_compression"), "a string or null", what);
  expect(j, "chunk_compression", null_or_string(j, "chunk_compression"), "a string or null", what);
  expect(j, "length", j.contains("length") && j["length"].is_number_integer() && j["length"].get<int64_t>() >= 0,
         "a non-negative integer", what);
  expect(j, "max_chunk_size", null_or_uint(j, "max_chunk_size"), "a positive integer or null", what);
  expect(
      j, "tiling_threshold",
      !j.contains("tiling_threshold") || j["tiling_threshold"].is_null() || j["tiling_threshold"].is_number_integer(),
      "an integer or null", what);
  expect(j, "min_shape", int_array(j, "min_shape"), "a list of integers", what);
  expect(j, "max_shape", int_array(j, "max_shape"), "a list of integers", what);
  expect(j, "is_sequence", !j.contains("is_sequence") || j["is_sequence"].is_boolean(), "a boolean", what);
  expect(j, "is_link", !j.contains("is_link") || j["is_link"].is_boolean(), "a boolean", what);
  expect(j, "hidden", !j.contains("hidden") || j["hidden"].is_boolean(), "a boolean", what);
  expect(j, "links", !j.contains("links") || j["links"].is_object(), "an object", what);
  if (j.value("is_sequence", false)) throw FormatError(what + ": sequence tensors are not supported yet");
  if (j.value("is_link", false)) throw FormatError(what + ": link tensors are not supported yet");
  try {
    m.load_cached();
  } catch (const InvalidArgument& e) {
    throw FormatError(what + ": " + e.what());
  }
  // Text-like dtypes only for text-like htypes: anything else would hand raw chunk bytes to numpy
  // as Python object pointers.
  if (m.has_dtype_ && (m.dtype_ == DType::Object || m.dtype_ == DType::Str) && !m.is_bytes_htype())
    throw FormatError(what + ": dtype '" + j.value("dtype", std::string()) +
                      "' is only valid for text, json, list or tag tensors, not htype '" + m.htype_ + "'");
  return m;
}

void TensorMeta::load_cached() {
  htype_ = str_or_empty(json_, "htype");
  if (htype_.empty()) htype_ = "generic";
  std::string d = str_or_empty(json_, "dtype");
  has_dtype_ = !d.empty();
  if (has_dtype_) dtype_ = dtype_from_name(d);
  sample_compression_ = compression_from_name(str_or_empty(json_, "sample_compression"));
  chunk_compression_ = compression_from_name(str_or_empty(json_, "chunk_compression"));
}

bool is_bytes_htype(std::string_view htype) {
  return htype == "text" || htype == "json" || htype == "list" || htype == "tag";
}

bool TensorMeta::is_bytes_htype() const { return chute::is_bytes_htype(htype_); }

uint64_t TensorMeta::max_chunk_size() const {
  auto it = json_.find("max_chunk_size");
  if (it == json_.end() || it->is_null()) return kDefaultMaxChunkSize;
  return it->get<uint64_t>();
}

int64_t TensorMeta::tiling_threshold() const {
  auto it = json_.find("tiling_threshold");
  if (it == json_.end() || it->is_null()) return static_cast<int64_t>(kDefaultTilingThreshold);
  return it->get<int64_t>();
}

void TensorMeta::set_dtype(DType d) {
  dtype_ = d;
  has_dtype_ = true;
  json_["dtype"] = dtype_name(d);
}

void TensorMeta::on_append(const Shape& shape) {
  auto& mn = json_["min_shape"];
  auto& mx = json_["max_shape"];
  if (length() == 0 || !mn.is_array() || mn.size() != shape.size()) {
    mn = nlohmann::json::array();
    mx = nlohmann::json::array();
    for (auto v : shape) {
      mn.push_back(v);
      mx.push_back(v);
    }
  } else {
    for (size_t i = 0; i < shape.size(); ++i) {
      if (mn[i].is_null() || mn[i].get<uint64_t>() > shape[i]) mn[i] = shape[i];
      if (mx[i].is_null() || mx[i].get<uint64_t>() < shape[i]) mx[i] = shape[i];
    }
  }
  json_["length"] = length() + 1;
}

void TensorMeta::on_update(const Shape& shape) {
  auto& mn = json_["min_shape"];
  auto& mx = json_["max_shape"];
  if (!mn.is_array() || !mx.is_array() || mn.size() != shape.size() || mx.size() != shape.size()) return;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (mn[i].is_null() || mn[i].get<uint64_t>() > shape[i]) mn[i] = shape[i];
    if (mx[i].is_null() || mx[i].get<uint64_t>() < shape[i]) mx[i] = shape[i];
  }
}

TensorMeta TensorMeta::make(const std::string& name, const std::string& htype, const std::string& dtype,
                            const std::string& sample_compression, const std::string& chunk_compression,
                            int64_t max_chunk_size, int64_t tiling_threshold, const nlohmann::json& extra) {
  nlohmann::json j = {
      {"chunk_compression", chunk_compression.empty() ? nlohmann::json() : nlohmann::json(chunk_compression)},
      {"dtype", dtype.empty() ? nlohmann::json() : nlohmann::json(dtype)},
      {"hidden", false},
      {"htype", htype},
      {"is_link", false},
      {"is_sequence", false},
      {"length", 0},
      {"links", nlohmann::json::object()},
      {"max_chunk_size", max_chunk_size > 0 ? nlohmann::json(max_chunk_size) : nlohmann::json()},
      {"max_shape", nlohmann::json::array()},
      {"min_shape", nlohmann::json::array()},
      {"name", name},
      {"sample_compression", sample_compression.empty() ? nlohmann::json() : nlohmann::json(sample_compression)},
      {"tiling_threshold", tiling_threshold != 0 ? nlohmann::json(tiling_threshold) : nlohmann::json()},
      {"typestr", nlohmann::json()},
      {"verify", true},
      {"version", kFormatVersion},
  };
  for (auto it = extra.begin(); it != extra.end(); ++it) j[it.key()] = it.value();
  TensorMeta m;
  m.json_ = std::move(j);
  m.load_cached();
  if (m.has_dtype_ && m.dtype_ != DType::Str && m.dtype_ != DType::Object) m.json_["typestr"] = dtype_typestr(m.dtype_);
  return m;
}

}  // namespace chute
