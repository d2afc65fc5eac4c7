// The Tensor's read path: chunk loading through the cache, the refresh of a reader whose chunk a
// writer moved, and sample fetch, shape and decode (tiled samples included).
#include <algorithm>
#include <cstring>
#include <mutex>

#include "chute/codec/sample.h"
#include "chute/core/error.h"
#include "chute/dataset/tensor.h"
#include "chute/dataset/tensor_internal.h"

namespace chute {

using tensor_detail::copy_block;
using tensor_detail::kChunkIndex;
using tensor_detail::kTileIndex;

std::shared_ptr<const Chunk> Tensor::in_memory(uint64_t id) const {
  if (open_ && id == open_id_) return open_;
  auto it = rewritten_.find(id);
  return it == rewritten_.end() ? nullptr : it->second;
}

std::shared_ptr<const Chunk> Tensor::load_chunk(uint64_t id) const {
  if (auto c = in_memory(id)) return c;
  std::string key = chunk_key(id);
  return cache_->get_or_load(cache_key(id), [&] {
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

void Tensor::prefetch(uint64_t index) const {
  uint64_t id;
  {
    std::shared_lock lock(mu_);
    if (index >= meta_.length() || tiles_.find(index)) return;
    auto loc = chunk_ids_.locate(index);
    id = chunk_ids_.rows()[loc.first_row].first;
    if (in_memory(id)) return;
  }
  std::string key = chunk_key(id);
  std::string what = "tensor '" + name_ + "' chunk " + chunk_name(id);
  Compression compression = meta_.chunk_compression();
  auto storage = storage_;
  try {
    cache_->load_async(cache_key(id), [&](ChunkCache::Complete done) {
      storage->read_async(key, [done, what, compression](std::string bytes, std::exception_ptr error) {
        if (error) {
          try {
            std::rethrow_exception(error);
          } catch (const NotFoundError& e) {
            done(nullptr, std::make_exception_ptr(NotFoundError(what + ": " + e.what())));
          } catch (const IoError& e) {
            done(nullptr, std::make_exception_ptr(IoError(what + ": " + e.what())));
          } catch (...) {
            done(nullptr, std::current_exception());
          }
          return;
        }
        try {
          done(std::make_shared<const Chunk>(Chunk::parse(std::move(bytes), compression, what)), nullptr);
        } catch (...) {
          done(nullptr, std::current_exception());
        }
      });
    });
  } catch (...) {
    // a prefetch is only a hint; the read that needs the chunk reports what went wrong
  }
}

std::shared_ptr<const Chunk> Tensor::load_chunk_index(uint64_t id) const {
  if (auto c = in_memory(id)) return c;
  std::string key = chunk_key(id);
  return cache_->get_or_load(cache_key(id) + "#index", [&] {
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
  storage_->refresh();  // chunks a writer added since are listed in the chunk_set it published with them
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
  // Object stores: whole chunks (one GET serves every sample of the chunk the plan reads next).
  if (in_memory(id) || meta_.chunk_compression() != Compression::None || storage_->is_remote()) {
    auto chunk = load_chunk(id);
    shape = chunk->shape(loc.local_index);
    bytes.assign(chunk->bytes(loc.local_index));
    return true;
  }
  if (auto full = cache_->peek(cache_key(id))) {
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
  if (in_memory(id) || meta_.chunk_compression() != Compression::None) return load_chunk(id)->shape(loc.local_index);
  if (auto full = cache_->peek(cache_key(id), storage_->is_remote())) return full->shape(loc.local_index);
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

}  // namespace chute
