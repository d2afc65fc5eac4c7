#include "chute/format/chunk.h"

#include <cstring>

#include <algorithm>

#include "chute/codec/lz4.h"
#include "chute/core/error.h"
#include "chute/format/bytes.h"
#include "chute/format/version.h"

namespace chute {

Compression compression_from_name(const std::string& name) {
  if (name.empty() || name == "none" || name == "null") return Compression::None;
  if (name == "jpeg" || name == "jpg") return Compression::Jpeg;
  if (name == "png") return Compression::Png;
  if (name == "lz4") return Compression::Lz4;
  if (name == "zstd") return Compression::Zstd;
  throw InvalidArgument("unsupported compression '" + name + "' (supported: jpeg, png, lz4, zstd, none)");
}

const char* compression_name(Compression c) {
  switch (c) {
    case Compression::None:
      return "";
    case Compression::Jpeg:
      return "jpeg";
    case Compression::Png:
      return "png";
    case Compression::Lz4:
      return "lz4";
    case Compression::Zstd:
      return "zstd";
  }
  return "";
}

void Chunk::parse_tables(std::string_view file, size_t& header_end) {
  detail::ByteReader r(file, what_);
  uint8_t vlen = r.get<uint8_t>();
  r.take(vlen);
  int32_t nrows = r.get<int32_t>(), ncols = r.get<int32_t>();
  if (nrows < 0 || ncols < 0 || (nrows > 0 && ncols < 1) ||
      (ncols > 0 && static_cast<uint64_t>(nrows) * ncols > r.remaining() / 4))
    throw FormatError(what_ + ": corrupt shape table (" + std::to_string(nrows) + "x" + std::to_string(ncols) + ")");
  shape_cols_ = static_cast<uint32_t>(ncols);
  shape_rows_.resize(static_cast<size_t>(nrows) * ncols);
  for (auto& v : shape_rows_) v = r.get<uint32_t>();
  uint32_t bp_rows = r.get<uint32_t>();
  if (static_cast<uint64_t>(bp_rows) * 3 > r.remaining() / 4)
    throw FormatError(what_ + ": corrupt byte-position table (" + std::to_string(bp_rows) + " rows)");
  byte_rows_.resize(static_cast<size_t>(bp_rows) * 3);
  for (auto& v : byte_rows_) v = r.get<uint32_t>();
  header_end = r.pos();

  if (!byte_rows_.empty())
    num_samples_ = static_cast<size_t>(byte_rows_.back()) + 1;
  else if (nrows > 0)
    num_samples_ = static_cast<size_t>(shape_rows_.back()) + 1;
  if (nrows > 0 && static_cast<size_t>(shape_rows_.back()) + 1 != num_samples_)
    throw FormatError(what_ + ": shape table and byte-position table disagree on the sample count");
  for (size_t i = 1; i < bp_rows; ++i)
    if (byte_rows_[i * 3 + 2] <= byte_rows_[(i - 1) * 3 + 2])
      throw FormatError(what_ + ": byte-position table not increasing");
}

void Chunk::check_ranges(uint64_t data_size) const {
  // Every sample must lie inside the data: checked once here so bytes() never reads past the end.
  size_t bp_rows = byte_rows_.size() / 3;
  for (size_t i = 0; i < bp_rows; ++i) {
    uint64_t first = i == 0 ? 0 : uint64_t(byte_rows_[(i - 1) * 3 + 2]) + 1;
    uint64_t count = uint64_t(byte_rows_[i * 3 + 2]) + 1 - first;
    uint64_t end = uint64_t(byte_rows_[i * 3 + 1]) + count * byte_rows_[i * 3];
    if (end > data_size)
      throw FormatError(what_ + ": samples extend past the end of the chunk (" + std::to_string(end) + " > " +
                        std::to_string(data_size) + " bytes)");
  }
}

Chunk Chunk::parse(std::string file, Compression chunk_compression, const std::string& what) {
  Chunk c;
  c.what_ = what;
  size_t header = 0;
  c.parse_tables(file, header);
  std::string_view payload = std::string_view(file).substr(header);
  if (chunk_compression == Compression::Lz4 && !payload.empty()) {
    c.buf_ = lz4_decompress(payload, what);
  } else if (chunk_compression == Compression::Zstd && !payload.empty()) {
    c.buf_ = zstd_decompress(payload, what);
  } else {
    c.buf_ = std::move(file);
    c.data_begin_ = header;
  }
  c.check_ranges(c.data().size());
  return c;
}

size_t Chunk::parse_index(std::string_view prefix, uint64_t file_size, const std::string& what, Chunk& out) {
  Chunk c;
  c.what_ = what;
  size_t header = 0;
  try {
    c.parse_tables(prefix, header);
  } catch (const FormatError&) {
    // Too short a prefix looks like truncation: ask for the whole header if the file has it.
    if (prefix.size() < file_size) return static_cast<size_t>(std::min<uint64_t>(file_size, prefix.size() * 4 + 4096));
    throw;
  }
  if (header > file_size) throw FormatError(what + ": header longer than the file");
  c.check_ranges(file_size - header);
  c.data_begin_ = header;
  out = std::move(c);
  return 0;
}

std::pair<uint64_t, uint64_t> Chunk::sample_range(size_t local) const {
  if (local >= num_samples_) throw FormatError(what_ + ": no sample " + std::to_string(local));
  if (byte_rows_.empty()) throw FormatError(what_ + ": has no byte-position table");
  size_t row = byte_row(local);
  uint64_t first = row == 0 ? 0 : uint64_t(byte_rows_[(row - 1) * 3 + 2]) + 1;
  uint64_t nbytes = byte_rows_[row * 3];
  uint64_t start = byte_rows_[row * 3 + 1] + (local - first) * nbytes;
  return {data_begin_ + start, nbytes};
}

size_t Chunk::shape_row(size_t local) const {
  size_t rows = shape_cols_ ? shape_rows_.size() / shape_cols_ : 0;
  size_t lo = 0, hi = rows;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (shape_rows_[mid * shape_cols_ + shape_cols_ - 1] < local)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

size_t Chunk::byte_row(size_t local) const {
  size_t rows = byte_rows_.size() / 3;
  size_t lo = 0, hi = rows;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (byte_rows_[mid * 3 + 2] < local)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

Shape Chunk::shape(size_t local) const {
  if (local >= num_samples_) throw FormatError(what_ + ": no sample " + std::to_string(local));
  if (shape_cols_ == 0) return {};
  size_t row = shape_row(local);
  if (row * shape_cols_ >= shape_rows_.size())
    throw FormatError(what_ + ": shape table has no row for sample " + std::to_string(local));
  const uint32_t* r = &shape_rows_[row * shape_cols_];
  return Shape(r, r + shape_cols_ - 1);
}

std::string_view Chunk::bytes(size_t local) const {
  if (local >= num_samples_) throw FormatError(what_ + ": no sample " + std::to_string(local));
  if (byte_rows_.empty()) {
    // Deep Lake writes tile chunks (one sample) with no byte-position rows: the sample is all the data.
    if (num_samples_ == 1) return data();
    throw FormatError(what_ + ": has no byte-position table for " + std::to_string(num_samples_) + " samples");
  }
  size_t row = byte_row(local);
  uint64_t first = row == 0 ? 0 : uint64_t(byte_rows_[(row - 1) * 3 + 2]) + 1;
  uint64_t nbytes = byte_rows_[row * 3];
  uint64_t start = byte_rows_[row * 3 + 1] + (local - first) * nbytes;
  return data().substr(start, nbytes);
}

void Chunk::append(std::string_view sample, const Shape& shape) {
  uint32_t idx = static_cast<uint32_t>(num_samples_);
  uint32_t cols = static_cast<uint32_t>(shape.size() + 1);
  if (num_samples_ == 0 || shape_cols_ == 0) shape_cols_ = cols;
  CHUTE_CHECK(cols == shape_cols_, "sample has " + std::to_string(shape.size()) + " dimensions, the chunk holds " +
                                       std::to_string(shape_cols_ - 1));
  size_t srows = shape_rows_.size() / shape_cols_;
  bool same_shape = srows > 0 && std::equal(shape.begin(), shape.end(), &shape_rows_[(srows - 1) * cols],
                                            [](uint64_t a, uint32_t b) { return a == b; });
  if (same_shape) {
    shape_rows_[srows * cols - 1] = idx;
  } else {
    for (auto d : shape) shape_rows_.push_back(static_cast<uint32_t>(d));
    shape_rows_.push_back(idx);
  }
  uint32_t start = static_cast<uint32_t>(data().size());
  size_t brows = byte_rows_.size() / 3;
  if (brows > 0 && byte_rows_[(brows - 1) * 3] == sample.size()) {
    byte_rows_[(brows - 1) * 3 + 2] = idx;
  } else {
    byte_rows_.insert(byte_rows_.end(), {static_cast<uint32_t>(sample.size()), start, idx});
  }
  buf_.append(sample);
  ++num_samples_;
}

void Chunk::reset(size_t capacity) {
  shape_rows_.clear();
  byte_rows_.clear();
  shape_cols_ = 0;
  num_samples_ = 0;
  buf_.clear();
  data_begin_ = 0;
  if (buf_.capacity() < capacity) buf_.reserve(capacity);
}

std::string Chunk::serialize(Compression chunk_compression) const {
  std::string_view payload = data();
  std::string compressed;
  if (chunk_compression == Compression::Lz4 && !payload.empty())
    payload = compressed = lz4_compress(payload);
  else if (chunk_compression == Compression::Zstd && !payload.empty())
    payload = compressed = zstd_compress(payload);
  std::string out = serialize_header();
  out.append(payload);
  return out;
}

std::string Chunk::serialize_header() const {
  std::string out;
  out.reserve(32 + 4 * (shape_rows_.size() + byte_rows_.size()));
  detail::put_version(out, kFormatVersion);
  int32_t ncols = static_cast<int32_t>(shape_cols_);
  int32_t nrows = ncols ? static_cast<int32_t>(shape_rows_.size() / shape_cols_) : 0;
  if (nrows == 0) ncols = 0;
  detail::put<int32_t>(out, nrows);
  detail::put<int32_t>(out, ncols);
  for (auto v : shape_rows_) detail::put<uint32_t>(out, v);
  detail::put<uint32_t>(out, static_cast<uint32_t>(byte_rows_.size() / 3));
  for (auto v : byte_rows_) detail::put<uint32_t>(out, v);
  return out;
}

bool Chunk::overwrite(size_t local, std::string_view sample, const Shape& shape) {
  if (local >= num_samples_ || this->shape(local) != shape) return false;
  std::string_view current = bytes(local);
  if (current.size() != sample.size()) return false;
  std::memcpy(&buf_[static_cast<size_t>(current.data() - buf_.data())], sample.data(), sample.size());
  return true;
}

}  // namespace chute
