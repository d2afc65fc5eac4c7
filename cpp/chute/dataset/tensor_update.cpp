// Tensor updates (Deep Lake's `tensor[i] = x`). A chunk file is never rewritten: the chunk that
// holds the sample is rebuilt under a new id (in the head's folder, so a chunk an older commit
// reads stays as it is), the index names the new id, and the old file, when this node owns it, is
// deleted by the next flush. A tiled sample's tiles are replaced by new tiles (or one chunk), and
// a sample that becomes big enough to tile splits its chunk around it.
#include <mutex>
#include <set>

#include "chute/codec/sample.h"
#include "chute/core/error.h"
#include "chute/dataset/tensor.h"

namespace chute {

namespace {

// `c` with sample `local` replaced; samples [from, to) of `c` only (to = c.num_samples() for all).
Chunk rebuilt(const Chunk& c, size_t from, size_t to, size_t local, std::string_view stored, const Shape& shape,
              bool replace) {
  Chunk out;
  for (size_t j = from; j < to; ++j) {
    if (replace && j == local)
      out.append(stored, shape);
    else
      out.append(c.bytes(j), c.shape(j));
  }
  return out;
}

}  // namespace

void Tensor::update_array(uint64_t index, const uint8_t* data, size_t nbytes, const Shape& shape, DType dtype) {
  check_writable();
  if (meta_.is_bytes_htype())
    throw InvalidArgument("tensor '" + name_ + "' (htype " + meta_.htype() + ") takes bytes, not arrays");
  {
    std::unique_lock lock(mu_);
    check_index_locked(index);
    if (segment_) throw InvalidArgument("tensor '" + name_ + "': a segment cannot be updated");
    check_array_locked(dtype, shape);
    if (nbytes != num_elements(shape) * dtype_size(dtype))
      throw InvalidArgument("tensor '" + name_ + "': " + std::to_string(nbytes) + " bytes do not make shape " +
                            shape_str(shape));
    int64_t threshold = meta_.tiling_threshold();
    if (threshold > 0 && nbytes > static_cast<uint64_t>(threshold) && !shape.empty() && num_elements(shape) > 1) {
      replace_locked(index, {}, shape, data);
    } else {
      std::string stored = encode_sample(meta_.sample_compression(), data, nbytes, shape, dtype);
      replace_locked(index, stored, shape, nullptr);
    }
  }
  update_links_at(index, shape);
}

void Tensor::update_compressed(uint64_t index, std::string_view bytes, Compression given) {
  check_writable();
  Shape shape = compressed_image_shape(given, bytes, what(index));
  if (given != meta_.sample_compression() || image_needs_conversion(given, bytes, name_) ||
      (meta_.has_dtype() && meta_.dtype() != DType::UInt8)) {
    check_decoded_size(shape, DType::UInt8, what(index));
    std::vector<uint8_t> raw(num_elements(shape));
    decode_sample(given, bytes, shape, DType::UInt8, raw.data(), what(index));
    update_array(index, raw.data(), raw.size(), shape, DType::UInt8);
    return;
  }
  {
    std::unique_lock lock(mu_);
    check_index_locked(index);
    check_array_locked(DType::UInt8, shape);
    replace_locked(index, bytes, shape, nullptr);
  }
  update_links_at(index, shape);
}

void Tensor::update_bytes(uint64_t index, std::string_view bytes, const Shape& shape) {
  check_writable();
  if (!meta_.is_bytes_htype())
    throw InvalidArgument("tensor '" + name_ + "' (htype " + meta_.htype() + ") takes arrays, not bytes");
  {
    std::unique_lock lock(mu_);
    check_index_locked(index);
    replace_locked(index, bytes, shape, nullptr);
  }
  update_links_at(index, shape);
}

void Tensor::replace_locked(uint64_t index, std::string_view stored, const Shape& shape, const uint8_t* tiled_data) {
  auto loc = chunk_ids_.locate(index);
  bool old_tiled = tiles_.find(index) != nullptr;
  uint64_t old_id = chunk_ids_.rows()[loc.first_row].first;
  bool in_open = open_ && !old_tiled && old_id == open_id_ && loc.first_row + 1 == chunk_ids_.num_chunks();
  if (in_open && !tiled_data) {
    // The chunk being filled: changed in memory (under a new id if its file is published).
    auto c = std::make_shared<Chunk>(*open_);
    if (!c->overwrite(loc.local_index, stored, shape))
      *c = rebuilt(*open_, 0, open_->num_samples(), loc.local_index, stored, shape, true);
    if (open_on_disk_) {
      retire_chunk_locked(open_id_);
      open_id_ = new_chunk_id();
      chunk_ids_.set_last_id(open_id_);
      open_on_disk_ = false;
    }
    open_ = std::move(c);
    open_dirty_ = true;
  } else if (!old_tiled && !tiled_data && rewritten_.count(old_id)) {
    // Rebuilt by an earlier update of this flush and not written yet: changed again in memory.
    auto& c = rewritten_.at(old_id);
    if (c.use_count() > 1) c = std::make_shared<Chunk>(*c);  // a reader holds it: change a copy
    if (!c->overwrite(loc.local_index, stored, shape))
      c = std::make_shared<Chunk>(rebuilt(*c, 0, c->num_samples(), loc.local_index, stored, shape, true));
  } else {
    if (in_open) seal_open_locked();
    std::vector<std::pair<uint64_t, uint64_t>> rows;
    auto write_new = [&](Chunk c, uint64_t last) {
      uint64_t id = new_chunk_id();
      rewritten_[id] = std::make_shared<Chunk>(std::move(c));  // written once, by the next flush
      rows.emplace_back(id, last);
    };
    auto write_sample = [&] {
      if (tiled_data) {
        TileLayout layout;
        for (const auto& r : write_tiles_locked(tiled_data, shape, index, layout)) rows.push_back(r);
        tiles_.add(index, layout);
      } else {
        Chunk one;
        one.append(stored, shape);
        write_new(one, index);
      }
    };
    if (old_tiled) {
      tiles_.erase(index);
      write_sample();
    } else {
      auto old = load_chunk(old_id);
      uint64_t last = chunk_ids_.rows()[loc.first_row].second;
      size_t n = old->num_samples(), local = loc.local_index;
      if (!tiled_data) {
        Chunk copy(*old);
        if (!copy.overwrite(local, stored, shape)) copy = rebuilt(*old, 0, n, local, stored, shape, true);
        write_new(std::move(copy), last);
      } else {
        if (local > 0) write_new(rebuilt(*old, 0, local, 0, {}, {}, false), index - 1);
        write_sample();
        if (local + 1 < n) write_new(rebuilt(*old, local + 1, n, 0, {}, {}, false), last);
      }
    }
    std::set<uint64_t> retired;
    for (size_t r = loc.first_row; r < loc.first_row + loc.num_rows; ++r) {
      uint64_t id = chunk_ids_.rows()[r].first;
      if (!retired.insert(id).second) continue;
      if (rewritten_.erase(id) == 0) retire_chunk_locked(id);  // an unwritten rebuild has no file to delete
    }
    chunk_ids_.replace_rows(loc.first_row, loc.num_rows, rows);
  }
  meta_.on_update(shape);
  diff_.on_update(index);
  dirty_ = true;
  ++changes_;
  std::lock_guard<std::mutex> g(columns_mu_);
  columns_ = Columns{};
}

void Tensor::update_links_at(uint64_t index, const Shape& shape) {
  for (auto& l : links_) {
    if (l.kind == "extend_shape") {
      std::vector<int64_t> v(shape.begin(), shape.end());
      l.target->update_array(index, reinterpret_cast<const uint8_t*>(v.data()), v.size() * 8, Shape{v.size()},
                             DType::Int64);
    } else if (l.kind == "extend_len") {
      int64_t n = shape.empty() ? 0 : static_cast<int64_t>(shape[0]);
      l.target->update_array(index, reinterpret_cast<const uint8_t*>(&n), 8, Shape{1}, DType::Int64);
    }
    // Sample ids and infos stay as they are (Deep Lake's update keeps a sample's id).
  }
}

}  // namespace chute
