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

// Columns above this size are built for each query instead of being kept.
constexpr size_t kKeepBytes = size_t{256} << 20;

// The cached column if it still covers every row, else a fresh one from `build` (cached too,
// unless it is larger than kKeepBytes).
template <typename C, typename F>
std::shared_ptr<const C> cached(std::mutex& mu, std::shared_ptr<const C>& slot, uint64_t length, F build) {
  {
    std::lock_guard lock(mu);
    if (slot && slot->rows == length) return slot;
  }
  std::shared_ptr<const C> col = build();
  std::lock_guard lock(mu);
  if (col && col->memory_bytes() <= kKeepBytes) slot = col;
  return col;
}

}  // namespace

void NumberColumn::gather(const uint64_t* index, size_t begin, size_t n, double* out) const {
  visit_number_type(dtype, [&](auto t) { gather_as_double<decltype(t)>(data.data(), index, begin, n, out); });
}

void NumberColumn::row(uint64_t r, double* out) const {
  visit_number_type(dtype, [&](auto t) {
    using T = decltype(t);
    const T* v = reinterpret_cast<const T*>(data.data()) + r * width;
    for (size_t i = 0; i < width; ++i) out[i] = static_cast<double>(v[i]);
  });
}

std::shared_ptr<const NumberColumn> Tensor::number_column() const {
  std::shared_lock lock(mu_);
  return cached(columns_mu_, columns_.number, meta_.length(), [&]() -> std::shared_ptr<const NumberColumn> {
    const auto& j = meta_.json();
    const auto mn = j.value("min_shape", nlohmann::json::array()), mx = j.value("max_shape", nlohmann::json::array());
    if (meta_.is_bytes_htype() || !meta_.has_dtype() || meta_.sample_compression() != Compression::None ||
        !tiles_.empty() || mn != mx || !mn.is_array())
      return nullptr;
    auto col = std::make_shared<NumberColumn>();
    col->dtype = meta_.dtype();
    if (!visit_number_type(col->dtype, [](auto) {})) return nullptr;  // float16, str, object
    for (const auto& d : mn) col->sample_shape.push_back(d.get<uint64_t>());
    col->width = static_cast<size_t>(num_elements(col->sample_shape));
    if (col->width == 0) return nullptr;
    size_t item = dtype_size(col->dtype) * col->width;
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
    if (col->dtype == DType::Bool)  // any non-zero byte is true, as the row-by-row reader has it
      for (auto& b : col->data) b = b != 0;
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
      bool whole = in_memory(id) || meta_.chunk_compression() != Compression::None;
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
