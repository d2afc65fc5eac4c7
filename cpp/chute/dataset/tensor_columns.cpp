// Tensor's whole-tensor columns for queries (columns.h): one pass over the chunks, cached until
// the tensor grows.
#include <cstring>
#include <mutex>

#include "chute/dataset/tensor.h"

namespace chute {

namespace {

template <typename T>
void gather_as_double(const uint8_t* data, const uint64_t* index, size_t begin, size_t n, double* out) {
  const T* v = reinterpret_cast<const T*>(data);
  if (index == nullptr) {
    v += begin;
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<double>(v[i]);
  } else {
    index += begin;
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<double>(v[index[i]]);
  }
}

// The cached column if it still covers every row, else a fresh one from `build` (cached too).
template <typename C, typename F>
std::shared_ptr<const C> cached(std::mutex& mu, std::shared_ptr<const C>& slot, uint64_t length, F build) {
  {
    std::lock_guard lock(mu);
    if (slot && slot->rows == length) return slot;
  }
  std::shared_ptr<const C> col = build();
  std::lock_guard lock(mu);
  if (col) slot = col;
  return col;
}

}  // namespace

void NumberColumn::gather(const uint64_t* index, size_t begin, size_t n, double* out) const {
  const uint8_t* p = data.data();
  switch (dtype) {
    case DType::Bool:
    case DType::UInt8: return gather_as_double<uint8_t>(p, index, begin, n, out);
    case DType::Int8: return gather_as_double<int8_t>(p, index, begin, n, out);
    case DType::UInt16: return gather_as_double<uint16_t>(p, index, begin, n, out);
    case DType::Int16: return gather_as_double<int16_t>(p, index, begin, n, out);
    case DType::UInt32: return gather_as_double<uint32_t>(p, index, begin, n, out);
    case DType::Int32: return gather_as_double<int32_t>(p, index, begin, n, out);
    case DType::UInt64: return gather_as_double<uint64_t>(p, index, begin, n, out);
    case DType::Int64: return gather_as_double<int64_t>(p, index, begin, n, out);
    case DType::Float32: return gather_as_double<float>(p, index, begin, n, out);
    case DType::Float64: return gather_as_double<double>(p, index, begin, n, out);
    default: return;
  }
}

std::shared_ptr<const NumberColumn> Tensor::number_column() const {
  std::shared_lock lock(mu_);
  return cached(columns_mu_, columns_.number, meta_.length(), [&]() -> std::shared_ptr<const NumberColumn> {
    const auto& j = meta_.json();
    const auto mn = j.value("min_shape", nlohmann::json::array()), mx = j.value("max_shape", nlohmann::json::array());
    if (meta_.is_bytes_htype() || !meta_.has_dtype() || meta_.sample_compression() != Compression::None ||
        !tiles_.empty() || mn != mx || mn.size() != 1 || mn[0] != 1)
      return nullptr;
    auto col = std::make_shared<NumberColumn>();
    col->dtype = meta_.dtype();
    if (col->dtype == DType::Float16 || col->dtype == DType::Str || col->dtype == DType::Object) return nullptr;
    size_t item = dtype_size(col->dtype);
    col->rows = meta_.length();
    col->data.resize(col->rows * item);
    uint64_t next = 0;
    for (const auto& [id, last] : chunk_ids_.rows()) {
      size_t count = static_cast<size_t>(last + 1 - next);
      if (count == 0) continue;
      auto chunk = load_chunk(id);
      // One-number samples lie back to back in a chunk: copy them in one go.
      std::string_view first = chunk->bytes(0), final_ = chunk->bytes(count - 1);
      if (first.size() != item || final_.data() != first.data() + (count - 1) * item) return nullptr;
      std::memcpy(col->data.data() + next * item, first.data(), count * item);
      next += count;
    }
    return col;
  });
}

std::shared_ptr<const BytesColumn> Tensor::bytes_column() const {
  std::shared_lock lock(mu_);
  return cached(columns_mu_, columns_.bytes, meta_.length(), [&]() -> std::shared_ptr<const BytesColumn> {
    if (!meta_.is_bytes_htype() || meta_.sample_compression() != Compression::None || !tiles_.empty()) return nullptr;
    auto col = std::make_shared<BytesColumn>();
    col->rows = meta_.length();
    col->offsets.reserve(col->rows + 1);
    col->offsets.push_back(0);
    uint64_t next = 0;
    for (const auto& [id, last] : chunk_ids_.rows()) {
      size_t count = static_cast<size_t>(last + 1 - next);
      if (count == 0) continue;
      auto chunk = load_chunk(id);
      for (size_t i = 0; i < count; ++i) {
        col->blob += chunk->bytes(i);
        col->offsets.push_back(col->blob.size());
      }
      next += count;
    }
    return col;
  });
}

std::shared_ptr<const ShapeColumn> Tensor::shape_column() const {
  std::shared_lock lock(mu_);
  return cached(columns_mu_, columns_.shape, meta_.length(), [&]() -> std::shared_ptr<const ShapeColumn> {
    if (!tiles_.empty()) return nullptr;  // tiled rows: the row-by-row path asks each sample
    auto col = std::make_shared<ShapeColumn>();
    col->rows = meta_.length();
    bool first_row = true;
    uint64_t next = 0;
    for (const auto& [id, last] : chunk_ids_.rows()) {
      size_t count = static_cast<size_t>(last + 1 - next);
      if (count == 0) continue;
      // The header is enough: shapes live in the chunk's tables, not in the sample data.
      bool whole = (open_ && id == open_id_) || meta_.chunk_compression() != Compression::None;
      auto chunk = whole ? load_chunk(id) : load_chunk_index(id);
      for (size_t i = 0; i < count; ++i) {
        Shape s = chunk->shape(i);
        if (first_row) {
          col->ndim = s.size();
          col->dims.reserve(col->rows * col->ndim);
          first_row = false;
        }
        if (s.size() != col->ndim) return nullptr;
        for (uint64_t d : s) col->dims.push_back(static_cast<uint32_t>(d));
      }
      next += count;
    }
    return col;
  });
}

}  // namespace chute
