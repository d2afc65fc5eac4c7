#include "chute/transform/copy_rows.h"

#include "chute/codec/limits.h"
#include "chute/core/error.h"

namespace chute {
namespace {

bool is_image_compression(Compression c) { return c == Compression::Jpeg || c == Compression::Png; }

void copy_sample(const Tensor& src, Tensor& dst, uint64_t row) {
  if (src.is_bytes_htype()) {
    dst.append_bytes(src.stored_bytes(row), src.shape(row));
    return;
  }
  Compression c = src.sample_compression();
  if (is_image_compression(c) && c == dst.sample_compression() && !src.is_tiled(row) && src.dtype() == DType::UInt8) {
    dst.append_compressed(src.stored_bytes(row), c);  // the file as it is: no decode, no re-encode
    return;
  }
  SampleData s = src.read(row);
  dst.append_array(s.bytes.data(), s.bytes.size(), s.shape, src.dtype());
}

void transform_image(const Tensor& src, Tensor& dst, const ImagePipeline& ops, uint64_t seed, uint64_t row,
                     std::vector<uint8_t>& out) {
  std::string what = "tensor '" + src.name() + "' index " + std::to_string(row);
  Shape in = src.shape(row);
  std::string stored;
  Shape stored_shape;
  Compression c = src.sample_compression();
  DType dt = src.dtype();
  if (!src.fetch(row, stored, stored_shape)) {  // tiled: decode it whole, then run the ops on raw pixels
    SampleData s = src.read(row);
    stored.assign(reinterpret_cast<const char*>(s.bytes.data()), s.bytes.size());
    stored_shape = s.shape;
    c = Compression::None;
  }
  Shape shape = ops.output_shape(stored_shape);
  if (shape.empty()) throw InvalidArgument(what + ": the ops give no fixed output shape for input " + shape_str(in));
  check_decoded_size(shape, DType::UInt8, what);
  out.resize(num_elements(shape));
  ops.run(c, stored, stored_shape, dt, seed, 0, row, out.data(), what);
  dst.append_array(out.data(), out.size(), shape, DType::UInt8);
}

}  // namespace

void check_image_ops(const ImagePipeline& ops, const Tensor& dst) {
  std::string what = "tensor '" + dst.name() + "'";
  if (ops.output_dtype() != DType::UInt8)
    throw InvalidArgument(what +
                          ": engine transforms store images, so their ops must give uint8 pixels (no Normalize)");
  for (const auto& op : ops.ops())
    if (op.kind == OpKind::ToCHW || op.kind == OpKind::Normalize)
      throw InvalidArgument(what + ": engine transforms store HxWxC images; ToCHW and Normalize belong in a loader");
  if (dst.is_bytes_htype()) throw InvalidArgument(what + " (htype " + dst.htype() + ") cannot take images");
}

void copy_rows(const std::vector<RowCopy>& columns, const std::vector<uint64_t>& rows, uint64_t seed) {
  std::vector<uint8_t> out;
  for (const auto& col : columns) {
    if (!col.src || !col.dst) throw InvalidArgument("copy_rows: a column without its source or destination");
    if (col.ops) check_image_ops(*col.ops, *col.dst);
  }
  for (uint64_t row : rows) {
    for (const auto& col : columns) {
      if (col.ops)
        transform_image(*col.src, *col.dst, *col.ops, seed, row, out);
      else
        copy_sample(*col.src, *col.dst, row);
    }
  }
}

}  // namespace chute
