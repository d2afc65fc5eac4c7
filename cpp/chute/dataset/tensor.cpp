#include "chute/dataset/tensor.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <set>

#include "chute/codec/sample.h"
#include "chute/core/error.h"
#include "chute/format/version.h"

namespace chute {
namespace {

constexpr const char* kMeta = "/tensor_meta.json";
constexpr const char* kInfo = "/tensor_info.json";
constexpr const char* kChunkIndex = "/chunks_index/unsharded";
constexpr const char* kTileIndex = "/tiles_index/unsharded";
constexpr const char* kCommitDiff = "/commit_diff";

uint64_t get_be64(const std::string& b, size_t at) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(b[at + i]);
  return v;
}

void put_be64(std::string& b, size_t at, uint64_t v) {
  for (size_t i = 0; i < 8; ++i) b[at + 7 - i] = static_cast<char>(v >> (8 * i));
}

// Deep Lake's per-tensor commit_diff (big-endian): created, info_updated, data_transformed flags,
// then the [start, end) range of samples added in this commit, then update/delete lists we keep.
std::string updated_commit_diff(std::string diff, uint64_t length, bool info_changed, bool created) {
  if (diff.size() < 19) {
    diff.assign(36, '\0');
    diff[0] = created ? 1 : 0;
  }
  uint64_t start = get_be64(diff, 3);
  if (start > length) start = length;
  put_be64(diff, 3, start);
  put_be64(diff, 11, length);
  if (info_changed) diff[1] = 1;
  return diff;
}

// Copies a C-order block `src` of shape `block` into `dst` of shape `full` at `origin`.
void copy_block(const uint8_t* src, const Shape& block, uint8_t* dst, const Shape& full, const Shape& origin,
                size_t item, bool to_full) {
  size_t nd = full.size();
  if (nd == 0) return;
  size_t row = block[nd - 1] * item;
  std::vector<uint64_t> strides(nd);
  uint64_t s = item;
  for (size_t d = nd; d-- > 0;) {
    strides[d] = s;
    s *= full[d];
  }
  uint64_t rows = 1;
  for (size_t d = 0; d + 1 < nd; ++d) rows *= block[d];
  std::vector<uint64_t> idx(nd, 0);
  for (uint64_t r = 0; r < rows; ++r) {
    uint64_t off = 0;
    for (size_t d = 0; d < nd; ++d) off += (origin[d] + idx[d]) * strides[d];
    if (to_full)
      std::memcpy(dst + off, src + r * row, row);
    else
      std::memcpy(dst + r * row, src + off, row);  // here src is the full array, dst the block
    for (size_t d = nd - 1; d-- > 0;) {
      if (++idx[d] < block[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace

Tensor::Tensor(std::shared_ptr<const LocalStorage> storage, std::shared_ptr<ChunkCache> cache, std::string name,
               std::string key, bool writable)
    : storage_(std::move(storage)),
      cache_(std::move(cache)),
      name_(std::move(name)),
      key_(std::move(key)),
      writable_(writable) {
  meta_ = TensorMeta::parse(storage_->read(key_ + kMeta), "tensor '" + name_ + "': " + key_ + kMeta);
  if (storage_->exists(key_ + kInfo)) {
    try {
      info_ = nlohmann::json::parse(storage_->read(key_ + kInfo));
    } catch (const nlohmann::json::exception& e) {
      throw FormatError("tensor '" + name_ + "': " + key_ + kInfo + " is not valid JSON (" + e.what() + ")");
    }
    if (!info_.is_object()) throw FormatError("tensor '" + name_ + "': " + key_ + kInfo + " must be a JSON object");
  } else {
    info_ = nlohmann::json::object();
  }
  if (storage_->exists(key_ + kChunkIndex))
    chunk_ids_ =
        ChunkIdEncoder::parse(storage_->read(key_ + kChunkIndex), "tensor '" + name_ + "': " + key_ + kChunkIndex);
  if (storage_->exists(key_ + kTileIndex)) {
    had_tiles_file_ = true;
    tiles_ = TileEncoder::parse(storage_->read(key_ + kTileIndex), "tensor '" + name_ + "': " + key_ + kTileIndex);
  }
  if (chunk_ids_.num_samples() != meta_.length())
    throw FormatError("tensor '" + name_ + "': tensor_meta.json says " + std::to_string(meta_.length()) +
                      " samples, chunks_index says " + std::to_string(chunk_ids_.num_samples()));
}

std::shared_ptr<Tensor> Tensor::create(std::shared_ptr<const LocalStorage> storage, std::shared_ptr<ChunkCache> cache,
                                       std::string name, std::string key, TensorMeta meta, nlohmann::json info) {
  storage->make_dirs(key + "/chunks");
  storage->make_dirs(key + "/chunks_index");
  storage->make_dirs(key + "/tiles_index");
  // A bare meta so the constructor can open the folder; flush publishes the real files.
  std::string tmp_meta = meta.serialize();
  storage->write_durable(key + kMeta, tmp_meta);
  auto t = std::make_shared<Tensor>(storage, cache, std::move(name), std::move(key), true);
  t->info_ = info.is_object() ? std::move(info) : nlohmann::json::object();
  t->dirty_ = true;
  ++t->changes_;
  t->created_ = true;
  t->info_changed_ = !t->info_.empty();
  return t;
}

nlohmann::json Tensor::info() const {
  std::shared_lock lock(mu_);
  return info_;
}

void Tensor::set_info(nlohmann::json info) {
  check_writable();
  std::unique_lock lock(mu_);
  info_ = std::move(info);
  dirty_ = true;
  ++changes_;
  info_changed_ = true;
}

TensorMeta Tensor::meta() const {
  std::shared_lock lock(mu_);
  return meta_;
}

bool Tensor::dirty() const {
  std::shared_lock lock(mu_);
  return dirty_;
}

bool Tensor::has_dtype() const {
  std::shared_lock lock(mu_);
  return meta_.has_dtype();
}

DType Tensor::dtype() const {
  std::shared_lock lock(mu_);
  return meta_.has_dtype() ? meta_.dtype() : DType::UInt8;
}

void Tensor::detach(const std::string& why) {
  std::unique_lock lock(mu_);
  detached_ = why;
}

std::string Tensor::meta_json() const {
  std::shared_lock lock(mu_);
  return meta_.serialize();
}

uint64_t Tensor::length() const {
  std::shared_lock lock(mu_);
  return meta_.length();
}

size_t Tensor::num_chunks() const {
  std::shared_lock lock(mu_);
  std::set<uint64_t> ids;
  for (const auto& r : chunk_ids_.rows()) ids.insert(r.first);
  return ids.size();
}

std::vector<uint64_t> Tensor::chunk_ends() const {
  std::shared_lock lock(mu_);
  std::vector<uint64_t> ends;
  for (const auto& r : chunk_ids_.rows()) {
    uint64_t end = std::min<uint64_t>(r.second + 1, meta_.length());
    if (ends.empty() || end > ends.back()) ends.push_back(end);
  }
  return ends;
}

uint64_t Tensor::chunk_bytes_on_disk() const {
  std::shared_lock lock(mu_);
  uint64_t total = 0;
  std::set<uint64_t> seen;
  for (const auto& r : chunk_ids_.rows()) {
    if (!seen.insert(r.first).second) continue;
    std::error_code ec;
    auto n = std::filesystem::file_size(storage_->path_of(chunk_key(r.first)), ec);
    if (!ec) total += n;
  }
  return total;
}

void Tensor::check_index_locked(uint64_t index) const {
  if (index >= meta_.length())
    throw InvalidArgument("index " + std::to_string(index) + " is out of range for tensor '" + name_ + "' of length " +
                          std::to_string(meta_.length()));
}

std::string Tensor::chunk_key(uint64_t id) const { return key_ + "/chunks/" + chunk_name(id); }

std::string Tensor::what(uint64_t index) const { return "tensor '" + name_ + "' sample " + std::to_string(index); }

std::shared_ptr<const Chunk> Tensor::load_chunk(uint64_t id) const {
  if (open_ && id == open_id_) return open_;
  std::string key = chunk_key(id);
  return cache_->get_or_load(key, [&] {
    std::string what = "tensor '" + name_ + "' chunk " + chunk_name(id);
    std::string bytes;
    try {
      bytes = storage_->read(key);
    } catch (const NotFoundError& e) {
      throw NotFoundError(what + ": " + e.what());
    } catch (const IoError& e) {
      throw IoError(what + ": " + e.what());
    }
    return Chunk::parse(std::move(bytes), meta_.chunk_compression(), what);
  });
}

std::shared_ptr<const Chunk> Tensor::load_chunk_index(uint64_t id) const {
  std::string key = chunk_key(id);
  return cache_->get_or_load(key + "#index", [&] {
    std::string what = "tensor '" + name_ + "' chunk " + chunk_name(id);
    uint64_t file_size = 0;
    uint64_t want = 16384;
    while (true) {
      std::string prefix;
      try {
        prefix = storage_->read_prefix(key, want, file_size);
      } catch (const NotFoundError& e) {
        throw NotFoundError(what + ": " + e.what());
      } catch (const IoError& e) {
        throw IoError(what + ": " + e.what());
      }
      Chunk c;
      size_t more = Chunk::parse_index(prefix, file_size, what, c);
      if (more == 0) return c;
      want = more;
    }
  });
}

// A reader (read-only open) whose chunk went missing: the writer appended to a partial chunk, which
// moved it to a new id, and deleted the old file after publishing. The rows are the same; only the
// chunk ids changed. Re-read the published index and try once more.
template <class F>
auto Tensor::reading(F&& f) const -> decltype(f()) {
  try {
    return f();
  } catch (const NotFoundError&) {
    if (writable_ || !refresh_index()) throw;
  }
  return f();
}

bool Tensor::refresh_index() const {
  std::unique_lock lock(mu_);
  std::string what = "tensor '" + name_ + "': " + key_ + kChunkIndex;
  for (int attempt = 0; attempt < 5; ++attempt) {
    // The two index files are replaced one after the other: read chunks_index on both sides of
    // tiles_index, and take them when it did not change in between.
    std::string before = storage_->read(key_ + kChunkIndex);
    std::string tiles = storage_->exists(key_ + kTileIndex) ? storage_->read(key_ + kTileIndex) : std::string();
    if (storage_->read(key_ + kChunkIndex) != before) continue;
    ChunkIdEncoder ids = ChunkIdEncoder::parse(before, what);
    if (ids.num_samples() < meta_.length()) return false;  // not the same tensor any more
    if (ids.rows() == chunk_ids_.rows()) return false;     // nothing moved: the file is really gone
    chunk_ids_ = std::move(ids);
    tiles_ = tiles.empty() ? TileEncoder() : TileEncoder::parse(tiles, "tensor '" + name_ + "': " + key_ + kTileIndex);
    return true;
  }
  return false;
}

bool Tensor::fetch(uint64_t index, std::string& bytes, Shape& shape) const {
  return reading([&] { return fetch_now(index, bytes, shape); });
}

Shape Tensor::shape(uint64_t index) const {
  return reading([&] { return shape_now(index); });
}

std::string Tensor::stored_bytes(uint64_t index) const {
  return reading([&] { return stored_bytes_now(index); });
}

void Tensor::read_into(uint64_t index, const Shape& shape, uint8_t* out) const {
  reading([&] { read_into_now(index, shape, out); });
}

bool Tensor::is_tiled(uint64_t index) const {
  std::shared_lock lock(mu_);
  return tiles_.find(index) != nullptr;
}

bool Tensor::fetch_now(uint64_t index, std::string& bytes, Shape& shape) const {
  std::shared_lock lock(mu_);
  check_index_locked(index);
  if (tiles_.find(index)) return false;
  auto loc = chunk_ids_.locate(index);
  uint64_t id = chunk_ids_.rows()[loc.first_row].first;
  if ((open_ && id == open_id_) || meta_.chunk_compression() != Compression::None) {
    auto chunk = load_chunk(id);
    shape = chunk->shape(loc.local_index);
    bytes.assign(chunk->bytes(loc.local_index));
    return true;
  }
  if (auto full = cache_->peek(chunk_key(id))) {
    shape = full->shape(loc.local_index);
    bytes.assign(full->bytes(loc.local_index));
    return true;
  }
  auto index_chunk = load_chunk_index(id);
  shape = index_chunk->shape(loc.local_index);
  auto range = index_chunk->sample_range(loc.local_index);
  try {
    storage_->read_range_into(chunk_key(id), range.first, range.second, bytes);
  } catch (const NotFoundError& e) {
    throw NotFoundError(what(index) + ": " + e.what());
  } catch (const IoError& e) {
    throw IoError(what(index) + ": " + e.what());
  }
  return true;
}

Shape Tensor::shape_now(uint64_t index) const {
  std::shared_lock lock(mu_);
  check_index_locked(index);
  if (const TileLayout* t = tiles_.find(index)) return t->sample_shape;
  auto loc = chunk_ids_.locate(index);
  uint64_t id = chunk_ids_.rows()[loc.first_row].first;
  // From the chunk's header alone when the chunk is on disk and not chunk-compressed (as fetch()
  // does): a shape never needs the samples' bytes.
  if ((open_ && id == open_id_) || meta_.chunk_compression() != Compression::None)
    return load_chunk(id)->shape(loc.local_index);
  if (auto full = cache_->peek(chunk_key(id))) return full->shape(loc.local_index);
  return load_chunk_index(id)->shape(loc.local_index);
}

std::string Tensor::stored_bytes_now(uint64_t index) const {
  std::shared_lock lock(mu_);
  check_index_locked(index);
  if (tiles_.find(index)) throw InvalidArgument(what(index) + " is tiled; read it with numpy() instead of tobytes()");
  auto loc = chunk_ids_.locate(index);
  auto chunk = load_chunk(chunk_ids_.rows()[loc.first_row].first);
  return std::string(chunk->bytes(loc.local_index));
}

void Tensor::read_into_now(uint64_t index, const Shape& shape, uint8_t* out) const {
  std::shared_lock lock(mu_);
  check_index_locked(index);
  if (const TileLayout* t = tiles_.find(index)) {
    decode_tiled(index, *t, out);
    return;
  }
  auto loc = chunk_ids_.locate(index);
  auto chunk = load_chunk(chunk_ids_.rows()[loc.first_row].first);
  DType dt = meta_.has_dtype() ? meta_.dtype() : DType::UInt8;
  Compression c = meta_.is_bytes_htype() ? Compression::None : meta_.sample_compression();
  decode_sample(c, chunk->bytes(loc.local_index), shape, dt, out, what(index));
}

void Tensor::decode_tiled(uint64_t index, const TileLayout& layout, uint8_t* out) const {
  auto loc = chunk_ids_.locate(index);
  Shape grid = layout.grid();
  uint64_t ntiles = num_elements(grid);
  if (ntiles != loc.num_rows)
    throw FormatError(what(index) + ": tiles_index describes " + std::to_string(ntiles) + " tiles, chunks_index has " +
                      std::to_string(loc.num_rows));
  DType dt = meta_.has_dtype() ? meta_.dtype() : DType::UInt8;
  size_t item = dtype_size(dt);
  std::vector<uint8_t> buf;
  Shape pos(grid.size(), 0);
  for (uint64_t t = 0; t < ntiles; ++t) {
    auto chunk = load_chunk(chunk_ids_.rows()[loc.first_row + t].first);
    Shape tshape = chunk->shape(0);
    if (tshape.size() != grid.size())
      throw FormatError(what(index) + ": tile " + std::to_string(t) + " has shape " + shape_str(tshape) +
                        ", the sample " + shape_str(layout.sample_shape) + " has " + std::to_string(grid.size()) +
                        " dimensions");
    Shape origin(grid.size());
    for (size_t d = 0; d < grid.size(); ++d) {
      origin[d] = pos[d] * layout.tile_shape[d];
      if (origin[d] + tshape[d] > layout.sample_shape[d])
        throw FormatError(what(index) + ": tile " + std::to_string(t) + " of shape " + shape_str(tshape) +
                          " does not fit the sample shape " + shape_str(layout.sample_shape));
    }
    check_decoded_size(tshape, dt, what(index) + " tile " + std::to_string(t));
    buf.resize(num_elements(tshape) * item);
    decode_sample(meta_.sample_compression(), chunk->bytes(0), tshape, dt, buf.data(),
                  what(index) + " tile " + std::to_string(t));
    copy_block(buf.data(), tshape, out, layout.sample_shape, origin, item, true);
    for (size_t d = grid.size(); d-- > 0;) {
      if (++pos[d] < grid[d]) break;
      pos[d] = 0;
    }
  }
}

SampleData Tensor::read(uint64_t index) const {
  SampleData s;
  s.shape = shape(index);
  DType dt = dtype();
  if (meta_.is_bytes_htype()) {
    std::string b = stored_bytes(index);
    s.bytes.assign(b.begin(), b.end());
    return s;
  }
  check_decoded_size(s.shape, dt, what(index));
  s.bytes.resize(num_elements(s.shape) * dtype_size(dt));
  read_into(index, s.shape, s.bytes.data());
  return s;
}

void Tensor::check_writable() const {
  if (!detached_.empty()) throw InvalidArgument("tensor '" + name_ + "': " + detached_);
  if (!writable_)
    throw InvalidArgument("tensor '" + name_ +
                          "' belongs to a read-only dataset; open it with read_only=False to write");
}

void Tensor::add_link(std::shared_ptr<Tensor> target, std::string kind) {
  links_.push_back(Link{std::move(target), std::move(kind)});
}

void Tensor::update_links(const Shape& shape) {
  for (auto& l : links_) {
    if (l.kind == "extend_id") {
      uint64_t id = new_chunk_id();
      l.target->append_array(reinterpret_cast<const uint8_t*>(&id), 8, Shape{1}, DType::UInt64);
    } else if (l.kind == "extend_shape") {
      std::vector<int64_t> v(shape.begin(), shape.end());
      l.target->append_array(reinterpret_cast<const uint8_t*>(v.data()), v.size() * 8, Shape{v.size()}, DType::Int64);
    } else if (l.kind == "extend_len") {
      int64_t n = shape.empty() ? 0 : static_cast<int64_t>(shape[0]);
      l.target->append_array(reinterpret_cast<const uint8_t*>(&n), 8, Shape{1}, DType::Int64);
    } else if (l.kind == "extend_info") {
      l.target->append_bytes("{}", Shape{1});
    } else {
      throw InvalidArgument("tensor '" + name_ + "' has a link of unsupported kind '" + l.kind + "'");
    }
  }
}

void Tensor::check_array_locked(DType dtype, const Shape& shape) {
  if (!meta_.has_dtype()) meta_.set_dtype(dtype);
  if (dtype != meta_.dtype())
    throw InvalidArgument("tensor '" + name_ + "' has dtype " + dtype_name(meta_.dtype()) + ", got " +
                          dtype_name(dtype));
  const auto& mn = meta_.json()["min_shape"];
  size_t ndim = segment_ndim_ >= 0 ? static_cast<size_t>(segment_ndim_) : mn.is_array() ? mn.size() : shape.size();
  if ((meta_.length() > 0 || segment_ndim_ >= 0) && ndim != shape.size())
    throw InvalidArgument("tensor '" + name_ + "' holds " + std::to_string(ndim) + "-dimensional samples, got shape " +
                          shape_str(shape));
}

void Tensor::append_array(const uint8_t* data, size_t nbytes, const Shape& shape, DType dtype) {
  check_writable();
  if (meta_.is_bytes_htype())
    throw InvalidArgument("tensor '" + name_ + "' (htype " + meta_.htype() + ") takes bytes, not arrays");
  {
    std::unique_lock lock(mu_);
    check_array_locked(dtype, shape);
    if (nbytes != num_elements(shape) * dtype_size(dtype))
      throw InvalidArgument("tensor '" + name_ + "': " + std::to_string(nbytes) + " bytes do not make shape " +
                            shape_str(shape));
    int64_t threshold = meta_.tiling_threshold();
    Compression sc = meta_.sample_compression();
    if (threshold > 0 && nbytes > static_cast<uint64_t>(threshold) && !shape.empty() && num_elements(shape) > 1) {
      append_tiled_locked(data, shape);
    } else {
      std::string stored = encode_sample(sc, data, nbytes, shape, dtype);
      append_stored_locked(stored, shape);
    }
  }
  update_links(shape);
}

void Tensor::append_many(const uint8_t* data, size_t n, const Shape& sample_shape, DType dtype) {
  size_t per = num_elements(sample_shape) * dtype_size(dtype);
  int64_t threshold = meta_.tiling_threshold();
  bool simple = links_.empty() && meta_.sample_compression() == Compression::None &&
                !(threshold > 0 && per > static_cast<uint64_t>(threshold));
  if (!simple) {
    for (size_t i = 0; i < n; ++i) append_array(data + i * per, per, sample_shape, dtype);
    return;
  }
  check_writable();
  if (meta_.is_bytes_htype())
    throw InvalidArgument("tensor '" + name_ + "' (htype " + meta_.htype() + ") takes bytes, not arrays");
  std::unique_lock lock(mu_);
  check_array_locked(dtype, sample_shape);
  for (size_t i = 0; i < n; ++i)
    append_stored_locked(std::string_view(reinterpret_cast<const char*>(data) + i * per, per), sample_shape);
}

void Tensor::append_compressed(std::string_view bytes, Compression given) {
  check_writable();
  Shape shape = compressed_image_shape(given, bytes, "tensor '" + name_ + "' new sample");
  Compression sc = meta_.sample_compression();
  if (given != sc || image_needs_conversion(given, bytes, name_) ||
      (meta_.has_dtype() && meta_.dtype() != DType::UInt8)) {
    // Not storable as is: decode, then store like any array.
    check_decoded_size(shape, DType::UInt8, "tensor '" + name_ + "' new sample");
    std::vector<uint8_t> raw(num_elements(shape));
    decode_sample(given, bytes, shape, DType::UInt8, raw.data(), "tensor '" + name_ + "' new sample");
    append_array(raw.data(), raw.size(), shape, DType::UInt8);
    return;
  }
  {
    std::unique_lock lock(mu_);
    check_array_locked(DType::UInt8, shape);
    append_stored_locked(bytes, shape);
  }
  update_links(shape);
}

void Tensor::append_bytes(std::string_view bytes, const Shape& shape) {
  check_writable();
  if (!meta_.is_bytes_htype())
    throw InvalidArgument("tensor '" + name_ + "' (htype " + meta_.htype() + ") takes arrays, not bytes");
  {
    std::unique_lock lock(mu_);
    append_stored_locked(bytes, shape);
  }
  update_links(shape);
}

void Tensor::write_chunk_locked(uint64_t id, const Chunk& chunk) {
  if (meta_.chunk_compression() == Compression::None)
    storage_->write(chunk_key(id), chunk.serialize_header(), chunk.data_view());
  else
    storage_->write(chunk_key(id), chunk.serialize(meta_.chunk_compression()));
  unsynced_.push_back(chunk_key(id));
}

void Tensor::seal_open_locked() {
  if (!open_) return;
  if (open_dirty_) {
    // Not fsynced here: the kernel writes it back while ingest goes on; stage() syncs it before
    // any published index names it.
    write_chunk_locked(open_id_, *open_);
  }
  if (segment_) {
    // The open chunk is always the last row (a tiled sample seals it before adding its tiles).
    segment_sizes_.resize(chunk_ids_.num_chunks(), 0);
    segment_sizes_.back() = open_->data_size();
  }
  // Keep the allocation for the next chunk unless a reader still holds this one.
  if (open_.use_count() == 1) spare_ = std::move(open_);
  open_.reset();
  open_dirty_ = false;
  open_on_disk_ = false;
}

void Tensor::reopen_last_locked(size_t incoming) {
  if (open_ || reopened_) return;
  reopened_ = true;
  if (chunk_ids_.num_chunks() == 0) return;
  // Keep filling the last chunk if it has room (under a new id: a published file is never rewritten).
  const auto& last = chunk_ids_.rows().back();
  if (tiles_.find(last.second)) return;
  auto c = load_chunk(last.first);
  if (c->data_size() + incoming <= meta_.min_chunk_size()) {
    open_ = std::make_shared<Chunk>(*c);
    open_id_ = last.first;
    open_on_disk_ = true;
  }
}

void Tensor::append_stored_locked(std::string_view stored, const Shape& shape, uint64_t limit) {
  uint64_t index = meta_.length();
  if (limit == 0) limit = meta_.min_chunk_size();
  reopen_last_locked(stored.size());
  bool fits = open_ && (open_->num_samples() == 0 || open_->data_size() + stored.size() <= limit);
  if (open_ && !fits) seal_open_locked();
  if (!open_) {
    if (spare_) {
      open_ = std::move(spare_);
      open_->reset(0);  // keeps the capacity the previous chunk grew to
    } else {
      open_ = std::make_shared<Chunk>();
    }
    open_id_ = new_chunk_id();
    open_on_disk_ = false;
    chunk_ids_.add_row(open_id_, index);
  } else if (open_on_disk_) {
    // The open chunk's file is named by the published index: move it to a new id.
    auto copy = std::make_shared<Chunk>(*open_);
    obsolete_.push_back(chunk_key(open_id_));
    cache_->erase(chunk_key(open_id_));
    open_ = std::move(copy);
    open_id_ = new_chunk_id();
    chunk_ids_.set_last_id(open_id_);
    open_on_disk_ = false;
  } else if (open_.use_count() > 1) {
    // A reader may still hold the previous state; never mutate a chunk someone else can see.
    open_ = std::make_shared<Chunk>(*open_);
  }
  open_->append(stored, shape);
  chunk_ids_.set_last_index(index);
  meta_.on_append(shape);
  open_dirty_ = true;
  dirty_ = true;
  ++changes_;
}

void Tensor::append_tiled_locked(const uint8_t* data, const Shape& shape) {
  uint64_t index = meta_.length();
  DType dt = meta_.dtype();
  size_t item = dtype_size(dt);
  uint64_t threshold = static_cast<uint64_t>(meta_.tiling_threshold());
  bool image = meta_.htype().rfind("image", 0) == 0 && shape.size() == 3;
  Shape tile = shape;
  auto tile_bytes = [&] { return num_elements(tile) * item; };
  while (tile_bytes() > threshold) {
    size_t axis = 0;
    uint64_t best = 0;
    for (size_t d = 0; d < tile.size(); ++d) {
      if (image && d == tile.size() - 1) continue;
      if (tile[d] > best) {
        best = tile[d];
        axis = d;
      }
    }
    if (best <= 1) break;
    tile[axis] = (tile[axis] + 1) / 2;
  }
  seal_open_locked();
  TileLayout layout{shape, tile};
  Shape grid = layout.grid();
  uint64_t ntiles = num_elements(grid);
  Shape pos(grid.size(), 0);
  std::vector<uint8_t> buf;
  for (uint64_t t = 0; t < ntiles; ++t) {
    Shape origin(grid.size()), tshape(grid.size());
    for (size_t d = 0; d < grid.size(); ++d) {
      origin[d] = pos[d] * tile[d];
      tshape[d] = std::min(tile[d], shape[d] - origin[d]);
    }
    buf.resize(num_elements(tshape) * item);
    copy_block(data, tshape, buf.data(), shape, origin, item, false);
    std::string stored = encode_sample(meta_.sample_compression(), buf.data(), buf.size(), tshape, dt);
    Chunk c;
    c.append(stored, tshape);
    uint64_t id = new_chunk_id();
    storage_->write(chunk_key(id), c.serialize(meta_.chunk_compression()));
    unsynced_.push_back(chunk_key(id));
    chunk_ids_.add_row(id, index);
    for (size_t d = grid.size(); d-- > 0;) {
      if (++pos[d] < grid[d]) break;
      pos[d] = 0;
    }
  }
  tiles_.add(index, layout);
  meta_.on_append(shape);
  dirty_ = true;
  ++changes_;
}

void Tensor::stage(FlushBatch& batch) {
  std::unique_lock lock(mu_);
  if (!dirty_) return;
  if (segment_) throw InvalidArgument("tensor '" + name_ + "': a segment is published by append_segment, not flushed");
  if (open_ && open_dirty_) {
    write_chunk_locked(open_id_, *open_);
    open_dirty_ = false;
    open_on_disk_ = true;
  }
  for (const auto& k : unsynced_) storage_->sync(k);
  if (!unsynced_.empty()) fsync_dir(storage_->path_of(key_ + "/chunks"));
  unsynced_.clear();
  batch.files.emplace_back(key_ + kMeta, meta_.serialize());
  bool hidden = meta_.json().value("hidden", false);
  if (!hidden || !info_.empty() || storage_->exists(key_ + kInfo)) batch.files.emplace_back(key_ + kInfo, info_.dump());
  std::string diff = storage_->exists(key_ + kCommitDiff) ? storage_->read(key_ + kCommitDiff) : std::string();
  batch.files.emplace_back(key_ + kCommitDiff,
                           updated_commit_diff(std::move(diff), meta_.length(), info_changed_, created_));
  batch.files.emplace_back(key_ + kChunkIndex, chunk_ids_.serialize());
  batch.files.emplace_back(key_ + kTileIndex, tiles_.serialize());
  for (auto& k : obsolete_) batch.obsolete.push_back(k);
  staged_changes_ = changes_;
  staged_obsolete_ = obsolete_.size();
}

void Tensor::on_committed() {
  std::unique_lock lock(mu_);
  // Appends on other threads between stage() and now belong to the next flush: keep them.
  obsolete_.erase(obsolete_.begin(),
                  obsolete_.begin() + static_cast<std::ptrdiff_t>(std::min(staged_obsolete_, obsolete_.size())));
  staged_obsolete_ = 0;
  if (changes_ == staged_changes_) dirty_ = false;
}

size_t Tensor::collect_orphans() {
  std::unique_lock lock(mu_);
  std::set<std::string> live;
  for (const auto& r : chunk_ids_.rows()) live.insert(chunk_name(r.first));
  if (open_) live.insert(chunk_name(open_id_));
  // Chunks the next flush deletes are still named by the published index.
  for (const auto& k : obsolete_) live.insert(k.substr(k.rfind('/') + 1));
  size_t removed = 0;
  // Only names chute writes: hex chunk ids and write_temp() names. Anything else is left alone.
  for (const auto& f : storage_->list(key_ + "/chunks")) {
    if (!live.count(f) && (is_chunk_name(f) || is_temp_name(f)) && storage_->remove(key_ + "/chunks/" + f)) ++removed;
  }
  // Temp files of metas a killed writer never published.
  for (const char* sub : {"", "/chunks_index", "/tiles_index"}) {
    for (const auto& f : storage_->list(key_ + sub)) {
      if (is_temp_name(f) && storage_->remove(key_ + sub + "/" + f)) ++removed;
    }
  }
  return removed;
}

}  // namespace chute
