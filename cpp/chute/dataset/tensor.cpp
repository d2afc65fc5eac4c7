#include "chute/dataset/tensor.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <set>

#include "chute/codec/sample.h"
#include "chute/core/error.h"
#include "chute/dataset/tensor_internal.h"
#include "chute/format/version.h"

namespace chute {

using tensor_detail::copy_block;
using tensor_detail::kChunkIndex;
using tensor_detail::kTileIndex;

namespace {

constexpr const char* kMeta = "/tensor_meta.json";
constexpr const char* kInfo = "/tensor_info.json";
constexpr const char* kCommitDiff = "/commit_diff";

}  // namespace

Tensor::Tensor(std::shared_ptr<const Storage> storage, std::shared_ptr<ChunkCache> cache, std::string name,
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
  if (storage_->exists(key_ + kCommitDiff))
    diff_ =
        version::CommitDiff::parse(storage_->read(key_ + kCommitDiff), "tensor '" + name_ + "': " + key_ + kCommitDiff);
  else
    diff_ = version::CommitDiff::starting_at(meta_.length());
  if (chunk_ids_.num_samples() != meta_.length())
    throw FormatError("tensor '" + name_ + "': tensor_meta.json says " + std::to_string(meta_.length()) +
                      " samples, chunks_index says " + std::to_string(chunk_ids_.num_samples()));
}

std::shared_ptr<Tensor> Tensor::create(std::shared_ptr<const Storage> storage, std::shared_ptr<ChunkCache> cache,
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
  t->diff_ = version::CommitDiff::starting_at(0);
  t->diff_.created = true;
  t->diff_.info_updated = !t->info_.empty();
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
  diff_.info_updated = true;
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
    if (auto n = storage_->size_of(chunk_key(r.first))) total += *n;
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

void Tensor::check_writable() const {
  if (!detached_.empty()) throw InvalidArgument("tensor '" + name_ + "': " + detached_);
  if (!writable_)
    throw InvalidArgument("tensor '" + name_ +
                          "' belongs to a read-only dataset; open it with read_only=False to write");
}

bool Tensor::created_here() const {
  std::shared_lock lock(mu_);
  return diff_.created;
}

std::vector<std::string> Tensor::link_names() const {
  std::vector<std::string> out;
  for (const auto& l : links_) out.push_back(l.target->name());
  return out;
}

void Tensor::retire_chunk_locked(uint64_t id) {
  cache_->erase(cache_key(id));
  if (!storage_->frozen(chunk_key(id))) obsolete_.push_back(chunk_key(id));
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
  if (storage_->frozen(chunk_key(last.first))) return;  // an older commit's chunk: start a new one
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
    retire_chunk_locked(open_id_);
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
  seal_open_locked();
  TileLayout layout;
  for (const auto& row : write_tiles_locked(data, shape, index, layout)) chunk_ids_.add_row(row.first, row.second);
  tiles_.add(index, layout);
  meta_.on_append(shape);
  dirty_ = true;
  ++changes_;
}

std::vector<std::pair<uint64_t, uint64_t>> Tensor::write_tiles_locked(const uint8_t* data, const Shape& shape,
                                                                      uint64_t index, TileLayout& layout) {
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
  layout = TileLayout{shape, tile};
  Shape grid = layout.grid();
  uint64_t ntiles = num_elements(grid);
  Shape pos(grid.size(), 0);
  std::vector<uint8_t> buf;
  std::vector<std::pair<uint64_t, uint64_t>> rows;
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
    rows.emplace_back(id, index);
    for (size_t d = grid.size(); d-- > 0;) {
      if (++pos[d] < grid[d]) break;
      pos[d] = 0;
    }
  }
  return rows;
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
  for (const auto& [id, chunk] : rewritten_) write_chunk_locked(id, *chunk);
  rewritten_.clear();
  for (const auto& k : unsynced_) storage_->sync(k);
  if (!unsynced_.empty()) storage_->sync_folder(key_ + "/chunks");
  unsynced_.clear();
  batch.files.emplace_back(key_ + kMeta, meta_.serialize());
  bool hidden = meta_.json().value("hidden", false);
  if (!hidden || !info_.empty() || storage_->exists(key_ + kInfo)) batch.files.emplace_back(key_ + kInfo, info_.dump());
  diff_.added_start = std::min(diff_.added_start, meta_.length());
  diff_.added_end = meta_.length();
  batch.files.emplace_back(key_ + kCommitDiff, diff_.serialize());
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
