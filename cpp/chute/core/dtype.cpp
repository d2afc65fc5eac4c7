#include "chute/core/dtype.h"

#include "chute/core/error.h"

namespace chute {
namespace {
struct Info {
  DType d;
  const char* name;
  size_t size;
  const char* typestr;
};
constexpr Info kInfos[] = {
    {DType::Bool, "bool", 1, "|b1"},       {DType::UInt8, "uint8", 1, "|u1"},     {DType::UInt16, "uint16", 2, "<u2"},
    {DType::UInt32, "uint32", 4, "<u4"},   {DType::UInt64, "uint64", 8, "<u8"},   {DType::Int8, "int8", 1, "|i1"},
    {DType::Int16, "int16", 2, "<i2"},     {DType::Int32, "int32", 4, "<i4"},     {DType::Int64, "int64", 8, "<i8"},
    {DType::Float16, "float16", 2, "<f2"}, {DType::Float32, "float32", 4, "<f4"}, {DType::Float64, "float64", 8, "<f8"},
    {DType::Str, "str", 1, "|O"},          {DType::Object, "Any", 1, "|O"},
};
const Info& info(DType d) { return kInfos[static_cast<int>(d)]; }
}  // namespace

DType dtype_from_name(const std::string& name) {
  for (const auto& i : kInfos)
    if (name == i.name) return i.d;
  if (name == "object" || name == "List" || name == "Any" || name.empty()) return DType::Object;
  throw InvalidArgument("unknown dtype '" + name + "'");
}
const char* dtype_name(DType d) { return info(d).name; }
size_t dtype_size(DType d) { return info(d).size; }
std::string dtype_typestr(DType d) { return info(d).typestr; }

uint64_t num_elements(const Shape& s) {
  uint64_t n = 1;
  for (auto v : s) n *= v;
  return n;
}

std::string shape_str(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  if (s.size() == 1) out += ",";
  return out + ")";
}

}  // namespace chute
