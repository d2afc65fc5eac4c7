#include "chute/loader/loader.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <system_error>

#include "chute/codec/limits.h"
#include "chute/codec/sample.h"
#include "chute/core/error.h"

namespace chute {
namespace {

bool same_shape_everywhere(const TensorMeta& m) {
  const auto& j = m.json();
  const auto& mn = j.value("min_shape", nlohmann::json::array());
  const auto& mx = j.value("max_shape", nlohmann::json::array());
  return mn.is_array() && !mn.empty() && mn == mx && m.length() > 0;
}

Shape meta_shape(const TensorMeta& m) {
  Shape s;
  for (const auto& v : m.json().value("max_shape", nlohmann::json::array())) s.push_back(v.get<uint64_t>());
  return s;
}

}  // namespace

Loader::Loader(std::vector<LoaderTensor> tensors, std::vector<uint64_t> order, LoaderOptions options)
    : tensors_(std::move(tensors)), order_(std::move(order)), opt_(options), pid_(::getpid()) {
  CHUTE_CHECK(opt_.batch_size >= 1, "batch_size must be at least 1");
  CHUTE_CHECK(!tensors_.empty(), "the loader needs at least one tensor");
  if (opt_.prefetch_batches == 0) opt_.prefetch_batches = 1;
  size_t n = order_.size();
  num_batches_ = opt_.drop_last ? n / opt_.batch_size : (n + opt_.batch_size - 1) / opt_.batch_size;
  limit_ = std::min<uint64_t>(n, num_batches_ * opt_.batch_size);
  for (const auto& t : tensors_) {
    // One snapshot of the meta: appends on other threads may change it meanwhile.
    const TensorMeta meta = t.tensor->meta();
    bool bytes = t.mode == DecodeMode::Bytes || meta.is_bytes_htype();
    DType dt = meta.has_dtype() ? meta.dtype() : DType::UInt8;
    if (bytes) {
      fixed_.push_back(false);
      fixed_shape_.push_back({});
      out_dtype_.push_back(DType::UInt8);
    } else if (!t.pipeline.empty()) {
      const auto mn = meta.json().value("min_shape", nlohmann::json::array());
      const auto mx = meta.json().value("max_shape", nlohmann::json::array());
      bool same_channels = mx.is_array() && mx.size() == 3 && mn.size() == 3 && mx[2] == mn[2];
      t.pipeline.check_channels(same_channels && mx[2].is_number_unsigned() ? mx[2].get<uint32_t>() : 0,
                                "tensor '" + t.name + "'");
      bool fixed = t.pipeline.fixed_size() && (t.pipeline.channels() > 0 || same_channels) && meta.length() > 0;
      fixed_.push_back(fixed);
      fixed_shape_.push_back(fixed ? t.pipeline.output_shape(meta_shape(meta)) : Shape{});
      out_dtype_.push_back(t.pipeline.output_dtype());
    } else {
      bool fixed =
          same_shape_everywhere(meta) && decoded_bytes(meta_shape(meta), dtype_size(dt)) <= max_decoded_bytes();
      fixed_.push_back(fixed);
      fixed_shape_.push_back(fixed ? meta_shape(meta) : Shape{});
      out_dtype_.push_back(dt);
    }
  }
  bool any_remote = false;
  for (const auto& t : tensors_) any_remote = any_remote || t.tensor->remote();
  if (!any_remote) opt_.readahead = 0;
  if (opt_.readahead) {
    // The first window's chunks are requested before any worker starts: the first batch waits
    // for one round trip, not one per chunk.
    readahead_ = std::min<uint64_t>(limit_, opt_.readahead);
    read_ahead(0, readahead_);
  }
  // Enough recycled batch buffers for the batches in flight and the ones the consumer still holds.
  pool_ = std::make_shared<BufferPool>((opt_.prefetch_batches + 4) * tensors_.size());
  size_t threads = opt_.num_threads ? opt_.num_threads : std::max(1u, std::thread::hardware_concurrency());
  workers_.reserve(threads);
  try {
    for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
  } catch (const std::system_error& e) {
    size_t started = workers_.size();
    close();
    throw ResourceError("cannot start " + std::to_string(threads) + " loader threads (" + std::to_string(started) +
                        " started): " + e.what() + "; pass a smaller num_threads");
  }
  num_threads_ = workers_.size();
}

Loader::~Loader() {
  if (::getpid() != pid_) {
    for (auto& t : workers_) t.detach();  // forked child: the threads are the parent's
    return;
  }
  close();
}

void Loader::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  ready_cv_.notify_all();
  std::lock_guard<std::mutex> join_lock(join_mu_);
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
  std::lock_guard<std::mutex> lock(mu_);
  slots_.clear();
}

size_t Loader::batch_rows(uint64_t b) const {
  uint64_t start = b * opt_.batch_size;
  return static_cast<size_t>(std::min<uint64_t>(opt_.batch_size, order_.size() - start));
}

Loader::Slot& Loader::slot_locked(uint64_t b) {
  auto it = slots_.find(b);
  if (it != slots_.end()) return it->second;
  Slot& s = slots_[b];
  size_t rows = batch_rows(b);
  s.remaining = rows;
  s.dropped.assign(rows, 0);
  s.batch.number = b;
  s.batch.indices.assign(order_.begin() + b * opt_.batch_size, order_.begin() + b * opt_.batch_size + rows);
  s.batch.columns.resize(tensors_.size());
  for (size_t c = 0; c < tensors_.size(); ++c) {
    Column& col = s.batch.columns[c];
    col.fixed = fixed_[c];
    col.dtype = out_dtype_[c];
    col.is_bytes = tensors_[c].mode == DecodeMode::Bytes || tensors_[c].tensor->is_bytes_htype();
    if (col.fixed) {
      col.sample_shape = fixed_shape_[c];
      try {
        Shape batch_shape = col.sample_shape;
        batch_shape.insert(batch_shape.begin(), rows);
        check_decoded_size(batch_shape, col.dtype, "tensor '" + tensors_[c].name + "' batch " + std::to_string(b));
        col.buffer = pool_->acquire(rows * num_elements(col.sample_shape) * dtype_size(col.dtype));
      } catch (...) {
        // Too big to allocate: the batch fails as a whole (never a sample to skip), on the consumer.
        s.error = std::current_exception();
        s.error_pos = 0;
        s.batch_failed = true;
        col.fixed = false;
        col.samples.resize(rows);
        col.shapes.resize(rows);
      }
    } else {
      col.samples.resize(rows);
      col.shapes.resize(rows);
    }
  }
  return s;
}

void Loader::work() {
  try {
    while (true) {
      uint64_t b;
      size_t pos;
      uint64_t ahead_from = 0, ahead_to = 0;
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_cv_.wait(lock, [&] {
          if (stopping_ || fatal_ || next_sample_ >= limit_) return true;
          return next_sample_ / opt_.batch_size < delivered_ + opt_.prefetch_batches;
        });
        if (stopping_ || fatal_ || next_sample_ >= limit_) return;
        b = next_sample_ / opt_.batch_size;
        pos = static_cast<size_t>(next_sample_ % opt_.batch_size);
        ++next_sample_;
        slot_locked(b);  // buffers exist before any worker writes into them
        if (opt_.readahead && readahead_ < limit_ && readahead_ < next_sample_ + opt_.readahead / 2) {
          ahead_from = std::max(readahead_, next_sample_);
          ahead_to = std::min<uint64_t>(limit_, next_sample_ + opt_.readahead);
          readahead_ = ahead_to;
        }
      }
      if (ahead_to > ahead_from) read_ahead(ahead_from, ahead_to);
      process(b, pos);
    }
  } catch (...) {
    // Not a sample's error (those stay in process()): the stream cannot go on. Never let it out of
    // the thread, where it would terminate the process.
    std::lock_guard<std::mutex> lock(mu_);
    if (!fatal_) fatal_ = std::current_exception();
    ready_cv_.notify_all();
    work_cv_.notify_all();
  }
}

void Loader::read_ahead(uint64_t from, uint64_t to) const {
  // Position by position, every tensor at each: requests go out in the order the plan needs them
  // (the labels' one chunk right after the first image chunk, not behind all of them).
  for (uint64_t i = from; i < to; ++i)
    for (const auto& t : tensors_)
      if (t.tensor->remote()) t.tensor->prefetch(order_[i]);
}

void Loader::process(uint64_t b, size_t pos) {
  Slot* slot;
  {
    std::lock_guard<std::mutex> lock(mu_);
    slot = &slots_.at(b);  // std::map nodes are stable; the slot stays until delivered
    if (slot->batch_failed) {
      if (--slot->remaining == 0) finish_locked(*slot);
      return;
    }
  }
  uint64_t index = slot->batch.indices[pos];
  std::exception_ptr error;
  std::string error_text;
  try {
    thread_local std::string stored;  // one buffer per worker thread: no allocation per sample
    if (stored.capacity() > (size_t{64} << 20)) std::string().swap(stored);  // not kept after a huge sample
    Shape shape;
    for (size_t c = 0; c < tensors_.size(); ++c) {
      const LoaderTensor& lt = tensors_[c];
      const Tensor& t = *lt.tensor;
      Column& col = slot->batch.columns[c];
      std::string what = "tensor '" + lt.name + "' index " + std::to_string(index);
      if (index >= t.length())
        throw InvalidArgument(what + ": out of range (the tensor has " + std::to_string(t.length()) + " samples)");
      DType dt = t.dtype();
      bool fetched = t.fetch(index, stored, shape);
      if (col.is_bytes) {
        if (!fetched) throw InvalidArgument(what + ": tiled samples have no stored bytes");
        col.samples[pos] = std::make_shared<ByteVector>(stored.begin(), stored.end());
        col.shapes[pos] = Shape{stored.size()};
        continue;
      }
      Compression comp = t.sample_compression();
      if (!fetched) {
        // A tiled sample: assemble it, then treat it as raw pixels.
        SampleData s = t.read(index);
        shape = s.shape;
        stored.assign(reinterpret_cast<const char*>(s.bytes.data()), s.bytes.size());
        comp = Compression::None;
      }
      if (!lt.pipeline.empty()) {
        Shape out_shape = lt.pipeline.output_shape(shape);
        if (col.fixed && out_shape != col.sample_shape)
          throw DecodeError(what + ": ops give shape " + shape_str(out_shape) + ", the batch holds " +
                            shape_str(col.sample_shape));
        uint8_t* out;
        if (col.fixed) {
          out = col.buffer->data() + pos * num_elements(col.sample_shape) * dtype_size(col.dtype);
        } else {
          check_decoded_size(out_shape, col.dtype, what);
          col.samples[pos] = std::make_shared<ByteVector>(num_elements(out_shape) * dtype_size(col.dtype));
          col.shapes[pos] = out_shape;
          out = col.samples[pos]->data();
        }
        lt.pipeline.run(comp, stored, shape, dt, opt_.seed, opt_.epoch, index, out, what);
        continue;
      }
      if (col.fixed) {
        if (shape != col.sample_shape)
          throw FormatError(what + ": shape " + shape_str(shape) + " differs from the tensor's " +
                            shape_str(col.sample_shape));
        decode_sample(comp, stored, shape, dt, col.buffer->data() + pos * num_elements(shape) * dtype_size(dt), what);
      } else {
        check_decoded_size(shape, dt, what);
        col.samples[pos] = std::make_shared<ByteVector>(num_elements(shape) * dtype_size(dt));
        col.shapes[pos] = shape;
        decode_sample(comp, stored, shape, dt, col.samples[pos]->data(), what);
      }
    }
  } catch (const std::exception& e) {
    error = std::current_exception();
    error_text = e.what();
  } catch (...) {
    error = std::current_exception();
    error_text = "tensor sample " + std::to_string(index) + ": unknown error";
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (error) {
    if (opt_.ignore_errors) {
      slot->dropped[pos] = 1;
      slot->batch.skipped.push_back(error_text);
      ++skipped_total_;
    } else if (pos < slot->error_pos) {
      slot->error = error;
      slot->error_pos = pos;
    }
  }
  if (--slot->remaining == 0) finish_locked(*slot);
}

void Loader::finish_locked(Slot& slot) {
  size_t rows = slot.dropped.size();
  size_t kept = rows - static_cast<size_t>(std::count(slot.dropped.begin(), slot.dropped.end(), 1));
  if (kept != rows && !slot.error) {
    std::vector<uint64_t> indices;
    for (size_t r = 0; r < rows; ++r)
      if (!slot.dropped[r]) indices.push_back(slot.batch.indices[r]);
    for (auto& col : slot.batch.columns) {
      if (col.fixed) {
        size_t per = num_elements(col.sample_shape) * dtype_size(col.dtype);
        size_t w = 0;
        for (size_t r = 0; r < rows; ++r) {
          if (slot.dropped[r]) continue;
          if (w != r) std::memmove(col.buffer->data() + w * per, col.buffer->data() + r * per, per);
          ++w;
        }
        col.buffer->resize(kept * per);
      } else {
        std::vector<SharedBytes> samples;
        std::vector<Shape> shapes;
        for (size_t r = 0; r < rows; ++r)
          if (!slot.dropped[r]) {
            samples.push_back(col.samples[r]);
            shapes.push_back(col.shapes[r]);
          }
        col.samples = std::move(samples);
        col.shapes = std::move(shapes);
      }
    }
    slot.batch.indices = std::move(indices);
  }
  slot.ready = true;
  ready_cv_.notify_all();
}

Loader::Status Loader::next(Batch& out, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  auto me = std::this_thread::get_id();
  if (consumer_ == std::thread::id()) consumer_ = me;
  if (consumer_ != me)
    throw InvalidArgument(
        "this loader is already being iterated by another thread; iterate one loader from one thread "
        "(make a loader per thread; with distributed=True each rank gets its own share)");
  if (delivered_ >= num_batches_) return Status::Done;
  if (stopping_) throw Error("the loader is closed");
  uint64_t want = delivered_;
  bool ok = ready_cv_.wait_for(lock, timeout, [&] {
    if (stopping_ || fatal_) return true;
    auto it = slots_.find(want);
    return it != slots_.end() && it->second.ready;
  });
  if (!ok) return Status::Timeout;
  if (fatal_) std::rethrow_exception(fatal_);
  if (stopping_) throw Error("the loader is closed");
  auto it = slots_.find(want);
  std::exception_ptr error = it->second.error;
  out = std::move(it->second.batch);
  slots_.erase(it);
  ++delivered_;
  lock.unlock();
  work_cv_.notify_all();
  if (error) std::rethrow_exception(error);
  return Status::Ready;
}

}  // namespace chute
