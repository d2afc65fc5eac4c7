#pragma once
// One tensor of a dataset: its meta, its index files and its chunks; reads samples and appends
// them. Chunks fill to min_chunk_size; a full chunk is written (durably) as soon as it is sealed,
// the open chunk at flush. A chunk file is never rewritten once written: appending to a flushed
// partial chunk moves it to a new id, and the old file is deleted only after the next commit.
// Thread-safety: every method may be called from any thread. Reads run concurrently with each
// other (shared lock); appends and staging take the lock exclusively. meta() is a snapshot copy;
// htype and compressions never change once the tensor exists, so their accessors take no lock.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "chute/core/dtype.h"
#include "chute/dataset/columns.h"
#include "chute/format/chunk.h"
#include "chute/format/encoders.h"
#include "chute/format/meta.h"
#include "chute/storage/chunk_cache.h"
#include "chute/storage/storage.h"
#include "chute/version/diffs.h"

namespace chute {

/// Files a flush will publish, and the chunk files it makes obsolete once published.
struct FlushBatch {
  std::vector<std::pair<std::string, std::string>> files;  // key, contents
  std::vector<std::string> obsolete;
};

/// The rows a segment wrote (Tensor::seal_segment), for Tensor::append_segment: chunk rows of
/// (chunk id, last local index), the data size of each row's chunk, the tiled samples, dtype and
/// length. Serialisable (to_json / from_json), so a worker process can hand it to the parent.
struct SegmentDesc {
  std::string key;  // the tensor's folder
  std::vector<std::pair<uint64_t, uint64_t>> rows;
  std::vector<uint64_t> sizes;  // per row: bytes of sample data in its chunk
  std::map<uint64_t, TileLayout> tiles;
  std::string dtype;  // empty when no sample set one
  uint64_t length = 0;
  nlohmann::json to_json() const;
  static SegmentDesc from_json(const nlohmann::json& j, const std::string& what);
};

/// Everything append_segment and clear change, for restore_state after a failed transform.
struct TensorState {
  TensorMeta meta;
  nlohmann::json info;
  ChunkIdEncoder ids;
  TileEncoder tiles;
  std::shared_ptr<Chunk> open;  // shared: an append copies an open chunk someone else holds first
  std::map<uint64_t, std::shared_ptr<Chunk>> rewritten;
  uint64_t open_id = 0;
  bool open_on_disk = false, open_dirty = false, reopened = false, dirty = false;
  version::CommitDiff diff;
  uint64_t changes = 0;
  std::vector<std::string> obsolete;
  std::vector<std::string> unsynced;
  std::vector<std::shared_ptr<TensorState>> links;  // the link targets' states, in link order
};

/// A decoded sample: C-order bytes plus shape.
struct SampleData {
  Shape shape;
  std::vector<uint8_t> bytes;
};

class Tensor {
 public:
  /// Opens an existing tensor folder `key`; `name` is the user-facing name.
  Tensor(std::shared_ptr<const Storage> storage, std::shared_ptr<ChunkCache> cache, std::string name, std::string key,
         bool writable);
  /// Creates the folder and files of a new, empty tensor (not yet published: flush does that).
  static std::shared_ptr<Tensor> create(std::shared_ptr<const Storage> storage, std::shared_ptr<ChunkCache> cache,
                                        std::string name, std::string key, TensorMeta meta, nlohmann::json info);
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;

  const std::string& name() const { return name_; }
  const std::string& key() const { return key_; }
  /// A copy of the meta as of now (appends change length, shapes and a dtype set by the first one).
  TensorMeta meta() const;
  std::string htype() const { return meta_.htype(); }
  Compression sample_compression() const { return meta_.sample_compression(); }
  Compression chunk_compression() const { return meta_.chunk_compression(); }
  bool is_bytes_htype() const { return meta_.is_bytes_htype(); }
  bool has_dtype() const;
  /// The samples' dtype (uint8 until the first append of a tensor created without one).
  DType dtype() const;
  /// Refuses every later write with `why` (the dataset was replaced). Idempotent.
  void detach(const std::string& why);
  nlohmann::json info() const;
  void set_info(nlohmann::json info);
  std::string meta_json() const;
  uint64_t length() const;
  size_t num_chunks() const;
  /// Where each chunk's rows end (exclusive, ascending): rows [ends[i-1], ends[i]) share chunk i (a
  /// tiled sample's tiles count as one). For splitting work along chunk boundaries.
  std::vector<uint64_t> chunk_ends() const;
  uint64_t chunk_bytes_on_disk() const;
  bool writable() const { return writable_; }
  /// Created in the checked-out node (its commit_diff says so): deleting it leaves no trace there.
  bool created_here() const;
  /// The hidden companions Deep Lake keeps in step (_<t>_id, _<t>_shape, ...), by name.
  std::vector<std::string> link_names() const;

  // ---- reading ----
  Shape shape(uint64_t index) const;
  /// The bytes as stored (a JPEG file for a jpeg tensor, UTF-8 for text). Not for tiled samples.
  std::string stored_bytes(uint64_t index) const;
  /// Decodes a sample into `out`, which must hold num_elements(shape)*dtype_size bytes.
  void read_into(uint64_t index, const Shape& shape, uint8_t* out) const;
  SampleData read(uint64_t index) const;
  /// The stored bytes and shape of one sample for the loader. Without chunk compression only the
  /// sample's byte range is read (chunk headers are cached), so random access costs no more than
  /// the sample. Returns false for a tiled sample (use read()).
  bool fetch(uint64_t index, std::string& bytes, Shape& shape) const;
  bool is_tiled(uint64_t index) const;
  /// True when the tensor lives in an object store: reads fetch whole chunks, ahead of need.
  bool remote() const { return storage_->is_remote(); }
  /// Starts reading the chunk that holds `index` in the background (an object store's GET), unless
  /// it is cached or already on its way; a later read of that chunk waits for it. Never throws:
  /// a failed read is the error of the sample that needs the chunk.
  void prefetch(uint64_t index) const;
  /// Lets the dataset's chunk cache hold at least `bytes` (a remote loader's shuffle buffer).
  void reserve_cache(size_t bytes) const { cache_->reserve(bytes); }
  /// Whole-tensor columns for queries (columns.h), read in one pass over the chunks and kept
  /// until the tensor grows. number_column: rows that are each one uncompressed number;
  /// bytes_column: text/json rows; shape_column: every row's shape from chunk headers, when all
  /// rows have the same rank. nullptr when the tensor is not like that.
  std::shared_ptr<const NumberColumn> number_column() const;
  std::shared_ptr<const BytesColumn> bytes_column() const;
  std::shared_ptr<const ShapeColumn> shape_column() const;

  // ---- writing ----
  /// Appends a raw C-order array; the engine compresses it as the tensor says (and tiles it when
  /// it exceeds the tiling threshold).
  void append_array(const uint8_t* data, size_t nbytes, const Shape& shape, DType dtype);
  /// Appends n samples of one shape from a contiguous array of n * sample bytes (a bulk extend).
  void append_many(const uint8_t* data, size_t n, const Shape& sample_shape, DType dtype);
  /// Appends bytes that are already in `given` compression (e.g. a JPEG file). When `given`
  /// differs from the tensor's sample compression the sample is decoded and re-encoded.
  void append_compressed(std::string_view bytes, Compression given);
  /// Appends text/json/list bytes (UTF-8), stored with shape `shape`.
  void append_bytes(std::string_view bytes, const Shape& shape);
  /// Replaces sample `index` (Deep Lake's `tensor[i] = x`), in the same forms as the appends. The
  /// chunk holding it is rewritten under a new id (a chunk an older commit reads is never touched;
  /// the old file of this node's chunk goes at the next flush). tensor_update.cpp.
  void update_array(uint64_t index, const uint8_t* data, size_t nbytes, const Shape& shape, DType dtype);
  void update_compressed(uint64_t index, std::string_view bytes, Compression given);
  void update_bytes(uint64_t index, std::string_view bytes, const Shape& shape);
  /// Hidden companion tensors to keep in step (Deep Lake's "links").
  void add_link(std::shared_ptr<Tensor> target, std::string kind);

  // ---- segments: the executor's parallel writes (tensor_segment.cpp) ----
  /// A segment of this tensor: an unpublished tensor with its meta and info and no rows, whose
  /// appends write chunks into this tensor's folder under new ids. Workers (threads) fill one each
  /// without any lock of this tensor; append_segment publishes their rows in order.
  std::shared_ptr<Tensor> make_segment() const;
  /// The same, in another process: the dataset folder `root`, and the spec from segment_spec().
  static std::shared_ptr<Tensor> open_segment(std::shared_ptr<const Storage> storage, const nlohmann::json& spec);
  /// What open_segment needs (key, name, meta, info).
  nlohmann::json segment_spec() const;
  bool is_segment() const { return segment_; }
  /// Writes the segment's open chunk, makes every chunk it wrote durable, and describes its rows.
  SegmentDesc seal_segment();
  /// Appends a sealed segment's rows after the existing ones, taking its chunks as they are. A
  /// partial chunk (a segment's last) is joined with its neighbours (up to max_chunk_size), so the
  /// rows of many segments end up in as many chunks as one writer would have made, give or take one.
  void append_segment(const SegmentDesc& seg);
  /// Drops every row (for an in-place rewrite); the chunks are deleted by the next flush.
  void clear();
  std::shared_ptr<TensorState> save_state() const;
  /// Returns to a saved state; chunk files written since, that nothing names, are deleted.
  void restore_state(const TensorState& state);

  // ---- flushing ----
  bool dirty() const;
  /// Writes the open chunk if needed and adds the tensor's meta and index files to `batch`.
  void stage(FlushBatch& batch);
  void on_committed();
  /// Removes chunk files that no index names (a killed writer's leftovers).
  size_t collect_orphans();

 private:
  /// A segment's constructor: no files are read.
  Tensor(std::shared_ptr<const Storage> storage, std::shared_ptr<ChunkCache> cache, std::string name, std::string key,
         TensorMeta meta, nlohmann::json info, int64_t ndim);
  std::string chunk_key(uint64_t id) const;
  /// The chunk cache's name of a chunk (its file's location: the same at every commit that reads it).
  std::string cache_key(uint64_t id) const { return storage_->location(chunk_key(id)); }
  bool fetch_now(uint64_t index, std::string& bytes, Shape& shape) const;
  Shape shape_now(uint64_t index) const;
  std::string stored_bytes_now(uint64_t index) const;
  void read_into_now(uint64_t index, const Shape& shape, uint8_t* out) const;
  /// Runs a read; when a read-only tensor's chunk is gone (moved by a writer), refresh_index()
  /// and run it once more.
  template <class F>
  auto reading(F&& f) const -> decltype(f());
  /// Re-reads the published chunk and tile indexes (readers only). False when they name the same
  /// chunks as before, or no longer cover this reader's rows.
  bool refresh_index() const;
  void check_index_locked(uint64_t index) const;
  /// Sets the dtype of a tensor created without one; checks dtype and dimensionality of a new sample.
  void check_array_locked(DType dtype, const Shape& shape);
  std::shared_ptr<const Chunk> load_chunk(uint64_t id) const;
  /// The open chunk or a chunk an update rebuilt, when `id` is one of them (not yet written).
  std::shared_ptr<const Chunk> in_memory(uint64_t id) const;
  std::shared_ptr<const Chunk> load_chunk_index(uint64_t id) const;
  std::string what(uint64_t index) const;
  /// Appends one stored sample to the open chunk, sealing it first when the sample would take it past
  /// `limit` bytes (0: min_chunk_size).
  void append_stored_locked(std::string_view stored, const Shape& shape, uint64_t limit = 0);
  /// Before the first append after opening: keep filling the last chunk if it has room.
  void reopen_last_locked(size_t incoming);
  Chunk read_chunk_file(uint64_t id) const;
  void append_tiled_locked(const uint8_t* data, const Shape& shape);
  void seal_open_locked();
  void write_chunk_locked(uint64_t id, const Chunk& chunk);
  void check_writable() const;
  void update_links(const Shape& shape);
  /// After sample `index` changed to `shape`: the companions that follow shapes change too.
  void update_links_at(uint64_t index, const Shape& shape);
  /// Replaces sample `index` by `stored` (one stored sample) or, when `tiled_data` is set, by that
  /// raw array tiled. Caller holds mu_ exclusively.
  void replace_locked(uint64_t index, std::string_view stored, const Shape& shape, const uint8_t* tiled_data);
  /// Writes the tiles of a raw array as new chunks; returns their rows (all with `index`).
  std::vector<std::pair<uint64_t, uint64_t>> write_tiles_locked(const uint8_t* data, const Shape& shape, uint64_t index,
                                                                TileLayout& layout);
  /// A chunk this tensor stops naming: its file goes at the next flush, unless an older commit
  /// owns it.
  void retire_chunk_locked(uint64_t id);
  void decode_tiled(uint64_t index, const TileLayout& layout, uint8_t* out) const;

  std::shared_ptr<const Storage> storage_;
  std::shared_ptr<ChunkCache> cache_;
  std::string name_, key_;
  bool writable_;
  std::string detached_;  // under mu_: why writes are refused after detach()
  mutable std::shared_mutex mu_;
  struct Columns {
    std::shared_ptr<const NumberColumn> number;
    std::shared_ptr<const BytesColumn> bytes;
    std::shared_ptr<const ShapeColumn> shape;
  };
  mutable std::mutex columns_mu_;
  mutable Columns columns_;  // built on first use; a column whose rows != length() is stale
  TensorMeta meta_;
  nlohmann::json info_;
  mutable ChunkIdEncoder chunk_ids_;  // mutable: a reader refreshes it when a writer moved a chunk
  mutable TileEncoder tiles_;
  bool had_tiles_file_ = false;

  // The chunk being filled. `open_on_disk_`: its current id already has a file, so the next
  // append must move it to a new id.
  std::shared_ptr<Chunk> open_;
  std::shared_ptr<Chunk> spare_;  // a sealed chunk's allocation, reused for the next one
  // Chunks updates rebuilt under new ids since the last flush, written once by stage(): a second
  // update of the same chunk changes it in memory instead of writing another copy.
  std::map<uint64_t, std::shared_ptr<Chunk>> rewritten_;
  uint64_t open_id_ = 0;
  bool open_on_disk_ = false;
  bool open_dirty_ = false;
  bool reopened_ = false;
  bool dirty_ = false;
  uint64_t changes_ = 0;  // mutations so far; a flush clears dirty_ only if none came after its stage()
  uint64_t staged_changes_ = 0;
  size_t staged_obsolete_ = 0;  // obsolete_ entries the staged flush deletes
  version::CommitDiff diff_;    // this node's changes to the tensor (its commit_diff file)
  std::vector<std::string> obsolete_;
  std::vector<std::string> unsynced_;    // chunk files written since the last stage(), not yet fsynced
  bool segment_ = false;                 // made by make_segment/open_segment: never staged
  int64_t segment_ndim_ = -1;            // a segment's required sample rank (its tensor's), -1: any
  std::vector<uint64_t> segment_sizes_;  // a segment's per-row chunk data sizes (0 until sealed)

  struct Link {
    std::shared_ptr<Tensor> target;
    std::string kind;
  };
  std::vector<Link> links_;
};

}  // namespace chute
