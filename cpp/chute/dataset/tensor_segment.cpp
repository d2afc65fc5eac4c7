// Tensor segments: the executor's parallel writes. A segment is an unpublished Tensor that writes
// chunks into its tensor's folder; append_segment takes its rows into the tensor in order, by
// reference for full chunks and by copy for the partial ones, so that N segments leave the layout
// one writer would have left. save_state/restore_state undo an append_segment or clear that the
// transform must not publish.
#include <algorithm>
#include <mutex>
#include <set>

#include "chute/core/error.h"
#include "chute/dataset/tensor.h"
#include "chute/version/node_storage.h"
#include "chute/version/version_info.h"

namespace chute {

nlohmann::json SegmentDesc::to_json() const {
  nlohmann::json t = nlohmann::json::array();
  for (const auto& [index, layout] : tiles) t.push_back({index, layout.sample_shape, layout.tile_shape});
  return {{"key", key}, {"rows", rows}, {"sizes", sizes}, {"tiles", t}, {"dtype", dtype}, {"length", length}};
}

SegmentDesc SegmentDesc::from_json(const nlohmann::json& j, const std::string& what) {
  SegmentDesc d;
  try {
    d.key = j.at("key").get<std::string>();
    d.rows = j.at("rows").get<std::vector<std::pair<uint64_t, uint64_t>>>();
    d.sizes = j.at("sizes").get<std::vector<uint64_t>>();
    for (const auto& t : j.at("tiles"))
      d.tiles[t.at(0).get<uint64_t>()] = TileLayout{t.at(1).get<Shape>(), t.at(2).get<Shape>()};
    d.dtype = j.at("dtype").get<std::string>();
    d.length = j.at("length").get<uint64_t>();
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(what + ": not a segment description (" + e.what() + ")");
  }
  if (d.sizes.size() != d.rows.size())
    throw FormatError(what + ": " + std::to_string(d.rows.size()) + " rows but " + std::to_string(d.sizes.size()) +
                      " sizes");
  return d;
}

Tensor::Tensor(std::shared_ptr<const Storage> storage, std::shared_ptr<ChunkCache> cache, std::string name,
               std::string key, TensorMeta meta, nlohmann::json info, int64_t ndim)
    : storage_(std::move(storage)),
      cache_(std::move(cache)),
      name_(std::move(name)),
      key_(std::move(key)),
      writable_(true),
      meta_(std::move(meta)),
      info_(info.is_object() ? std::move(info) : nlohmann::json::object()),
      reopened_(true),
      segment_(true),
      segment_ndim_(ndim) {
  meta_.set_length(0);
  meta_.json()["min_shape"] = nlohmann::json::array();
  meta_.json()["max_shape"] = nlohmann::json::array();
}

nlohmann::json Tensor::segment_spec() const {
  std::shared_lock lock(mu_);
  const auto& mn = meta_.json()["min_shape"];
  int64_t ndim = meta_.length() > 0 && mn.is_array() ? static_cast<int64_t>(mn.size()) : -1;
  // The node whose folder the segment's chunks go to (a worker process opens the dataset's root).
  auto* node = dynamic_cast<const version::NodeStorage*>(storage_.get());
  return {{"key", key_},   {"name", name_}, {"meta", meta_.json()},
          {"info", info_}, {"ndim", ndim},  {"node", node ? node->node() : std::string(version::kFirstCommit)}};
}

std::shared_ptr<Tensor> Tensor::make_segment() const {
  check_writable();
  nlohmann::json spec = segment_spec();
  TensorMeta meta;
  {
    std::shared_lock lock(mu_);
    meta = meta_;
  }
  return std::shared_ptr<Tensor>(
      new Tensor(storage_, cache_, name_, key_, std::move(meta), spec["info"], spec["ndim"].get<int64_t>()));
}

std::shared_ptr<Tensor> Tensor::open_segment(std::shared_ptr<const Storage> storage, const nlohmann::json& spec) {
  std::string key, name;
  nlohmann::json info;
  int64_t ndim = -1;
  try {
    key = spec.at("key").get<std::string>();
    name = spec.at("name").get<std::string>();
    info = spec.at("info");
    ndim = spec.at("ndim").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument(std::string("not a segment spec (") + e.what() + ")");
  }
  TensorMeta meta = TensorMeta::parse(spec.at("meta").dump(), "segment of tensor '" + name + "'");
  std::string node = spec.value("node", std::string(version::kFirstCommit));
  if (node != version::kFirstCommit) {
    if (node.size() != 40 || node.find_first_not_of("0123456789abcdef") != std::string::npos)
      throw InvalidArgument("segment spec: '" + node + "' is not a commit id");
    storage = std::make_shared<version::NodeStorage>(std::move(storage), node, std::vector<std::string>{});
  }
  if (!storage->exists(key + "/tensor_meta.json"))
    throw IoError("no tensor folder '" + key + "' in dataset '" + storage->url() + "'");
  auto cache = std::make_shared<ChunkCache>(size_t(64) << 20);
  return std::shared_ptr<Tensor>(
      new Tensor(std::move(storage), std::move(cache), std::move(name), std::move(key), std::move(meta), info, ndim));
}

SegmentDesc Tensor::seal_segment() {
  std::unique_lock lock(mu_);
  if (!segment_) throw InvalidArgument("tensor '" + name_ + "' is not a segment");
  seal_open_locked();
  for (const auto& k : unsynced_) storage_->sync(k);
  if (!unsynced_.empty()) storage_->sync_folder(key_ + "/chunks");
  unsynced_.clear();
  SegmentDesc d;
  d.key = key_;
  d.rows = chunk_ids_.rows();
  d.sizes = segment_sizes_;
  d.sizes.resize(d.rows.size(), 0);
  d.tiles = tiles_.entries();
  d.dtype = meta_.has_dtype() ? dtype_name(meta_.dtype()) : "";
  d.length = meta_.length();
  return d;
}

Chunk Tensor::read_chunk_file(uint64_t id) const {
  std::string what = "tensor '" + name_ + "' chunk " + chunk_name(id);
  std::string bytes;
  try {
    bytes = storage_->read(chunk_key(id));
  } catch (const IoError& e) {
    throw IoError(what + ": " + e.what());
  }
  return Chunk::parse(std::move(bytes), meta_.chunk_compression(), what);
}

void Tensor::append_segment(const SegmentDesc& seg) {
  check_writable();
  std::string what = "tensor '" + name_ + "': a transform's segment";
  if (seg.key != key_) throw InvalidArgument(what + " of tensor folder '" + seg.key + "' cannot be appended here");
  std::vector<Shape> link_shapes;
  {
    std::unique_lock lock(mu_);
    if (segment_) throw InvalidArgument(what + " cannot be appended to another segment");
    if (!seg.dtype.empty()) {
      DType d = dtype_from_name(seg.dtype);
      if (!meta_.has_dtype())
        meta_.set_dtype(d);
      else if (d != meta_.dtype())
        throw InvalidArgument("tensor '" + name_ + "' has dtype " + dtype_name(meta_.dtype()) +
                              ", the transform's samples are " + seg.dtype);
    }
    for (const auto& r : seg.rows) storage_->adopt_chunk(chunk_key(r.first));  // written by a worker
    uint64_t base = meta_.length();
    uint64_t first = 0;  // local index of the first sample of rows[i]
    auto check_count = [&](size_t have, uint64_t want, uint64_t id) {
      if (have != want)
        throw FormatError(what + ": chunk " + chunk_name(id) + " holds " + std::to_string(have) + " samples, its row " +
                          std::to_string(want));
    };
    for (size_t i = 0; i < seg.rows.size();) {
      auto [id, last] = seg.rows[i];
      if (last < first || last >= seg.length) throw FormatError(what + ": rows out of order");
      if (auto t = seg.tiles.find(last); t != seg.tiles.end()) {
        // A tiled sample: its tile chunks, as they are.
        seal_open_locked();
        reopened_ = true;
        for (; i < seg.rows.size() && seg.rows[i].second == last; ++i)
          chunk_ids_.add_row(seg.rows[i].first, base + last);
        tiles_.add(base + last, t->second);
        meta_.on_append(t->second.sample_shape);
        if (!links_.empty()) link_shapes.push_back(t->second.sample_shape);
        first = last + 1;
        continue;
      }
      uint64_t n = last - first + 1, size = seg.sizes[i];
      bool tail = i + 1 == seg.rows.size();
      reopen_last_locked(0);
      if (open_ && open_->num_samples() > 0 && open_->data_size() + size <= meta_.max_chunk_size()) {
        // Joined with the partial chunk before it: copied, and the segment's file goes at the flush.
        Chunk c = read_chunk_file(id);
        check_count(c.num_samples(), n, id);
        for (size_t j = 0; j < n; ++j) {
          append_stored_locked(c.bytes(j), c.shape(j), meta_.max_chunk_size());
          if (!links_.empty()) link_shapes.push_back(c.shape(j));
        }
        retire_chunk_locked(id);
        if (open_->data_size() >= meta_.min_chunk_size()) seal_open_locked();
      } else {
        seal_open_locked();
        std::shared_ptr<const Chunk> c;
        if (tail) {
          // The segment's last chunk stays open: the next segment's rows may join it.
          auto whole = std::make_shared<Chunk>(read_chunk_file(id));
          open_ = whole;
          open_id_ = id;
          open_on_disk_ = true;
          open_dirty_ = false;
          c = whole;
        } else {
          c = load_chunk_index(id);
        }
        check_count(c->num_samples(), n, id);
        chunk_ids_.add_row(id, base + last);
        for (size_t j = 0; j < n; ++j) {
          Shape s = c->shape(j);
          meta_.on_append(s);
          if (!links_.empty()) link_shapes.push_back(std::move(s));
        }
      }
      first = last + 1;
      ++i;
    }
    if (first != seg.length)
      throw FormatError(what + " describes " + std::to_string(seg.length) + " samples, its rows " +
                        std::to_string(first));
    dirty_ = true;
    ++changes_;
  }
  for (const auto& s : link_shapes) update_links(s);
}

void Tensor::clear() {
  check_writable();
  {
    std::unique_lock lock(mu_);
    if (segment_) throw InvalidArgument("tensor '" + name_ + "': a segment cannot be cleared");
    std::set<uint64_t> ids;
    for (const auto& r : chunk_ids_.rows()) ids.insert(r.first);
    for (uint64_t id : ids) retire_chunk_locked(id);
    diff_.cleared = true;
    diff_.added_start = diff_.added_end = 0;
    diff_.updated.clear();
    chunk_ids_ = ChunkIdEncoder();
    tiles_ = TileEncoder();
    meta_.set_length(0);
    meta_.json()["min_shape"] = nlohmann::json::array();
    meta_.json()["max_shape"] = nlohmann::json::array();
    open_.reset();
    open_dirty_ = false;
    open_on_disk_ = false;
    reopened_ = true;
    dirty_ = true;
    ++changes_;
    std::lock_guard<std::mutex> g(columns_mu_);
    columns_ = Columns{};
  }
  for (auto& l : links_) l.target->clear();
}

std::shared_ptr<TensorState> Tensor::save_state() const {
  auto s = std::make_shared<TensorState>();
  {
    std::shared_lock lock(mu_);
    s->meta = meta_;
    s->info = info_;
    s->ids = chunk_ids_;
    s->tiles = tiles_;
    s->open = open_;
    s->rewritten = rewritten_;
    s->open_id = open_id_;
    s->open_on_disk = open_on_disk_;
    s->open_dirty = open_dirty_;
    s->reopened = reopened_;
    s->dirty = dirty_;
    s->diff = diff_;
    s->changes = changes_;
    s->obsolete = obsolete_;
    s->unsynced = unsynced_;
  }
  for (const auto& l : links_) s->links.push_back(l.target->save_state());
  return s;
}

void Tensor::restore_state(const TensorState& s) {
  {
    std::unique_lock lock(mu_);
    meta_ = s.meta;
    info_ = s.info;
    chunk_ids_ = s.ids;
    tiles_ = s.tiles;
    open_ = s.open;
    rewritten_ = s.rewritten;
    open_id_ = s.open_id;
    open_on_disk_ = s.open_on_disk;
    open_dirty_ = s.open_dirty;
    reopened_ = s.reopened;
    dirty_ = s.dirty;
    diff_ = s.diff;
    changes_ = s.changes;
    obsolete_ = s.obsolete;
    unsynced_ = s.unsynced;
    std::lock_guard<std::mutex> g(columns_mu_);
    columns_ = Columns{};
  }
  for (size_t i = 0; i < links_.size() && i < s.links.size(); ++i) links_[i].target->restore_state(*s.links[i]);
}

}  // namespace chute
