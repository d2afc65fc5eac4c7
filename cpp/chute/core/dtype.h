#pragma once
// Numeric element types, named as numpy names them (the names Deep Lake 3 stores in tensor_meta.json).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace chute {

enum class DType : uint8_t {
  Bool,
  UInt8,
  UInt16,
  UInt32,
  UInt64,
  Int8,
  Int16,
  Int32,
  Int64,
  Float16,
  Float32,
  Float64,
  Str,
  Object
};

DType dtype_from_name(const std::string& name);
const char* dtype_name(DType d);
size_t dtype_size(DType d);
/// numpy's typestr ("|u1", "<f4", ...), as written in tensor_meta.json.
std::string dtype_typestr(DType d);

using Shape = std::vector<uint64_t>;
uint64_t num_elements(const Shape& s);
std::string shape_str(const Shape& s);

}  // namespace chute
