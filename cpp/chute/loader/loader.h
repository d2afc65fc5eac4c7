#pragma once
// The streaming loader: plan → fetch → decode → ops → collate → queue, on the engine's own
// threads. Workers take samples in plan order inside a window of `prefetch_batches` batches;
// each sample is fetched (its byte range only), decoded, run through the tensor's image ops and
// written straight into its slot of a preallocated batch buffer (fixed shapes) or into its own
// buffer (ragged). Batches are handed out strictly in plan order.
// Thread-safety: one consumer: the thread that first calls next() owns the stream, and next()
// from any other thread is an InvalidArgument (two consumers would each silently miss the other's
// batches). close() and the accessors may be called from any thread, close() any number of times.
// No exception escapes a worker: a sample's error goes to its batch, anything else to the loader,
// and next() rethrows it. The destructor stops and joins the workers (or abandons them in a forked
// child).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

#include "chute/core/buffer.h"
#include "chute/core/buffer_pool.h"
#include "chute/core/dtype.h"
#include "chute/dataset/tensor.h"
#include "chute/ops/image_ops.h"

namespace chute {

enum class DecodeMode : uint8_t { Numpy, Bytes };

struct LoaderTensor {
  std::shared_ptr<Tensor> tensor;
  std::string name;
  DecodeMode mode = DecodeMode::Numpy;
  ImagePipeline pipeline;
};

struct LoaderOptions {
  size_t batch_size = 1;
  bool drop_last = false;
  size_t num_threads = 0;       // 0: the core count
  size_t prefetch_batches = 2;  // batches decoded ahead of the consumer
  bool ignore_errors = false;
  uint64_t seed = 0;
  uint64_t epoch = 0;
  size_t readahead = 0;  // samples of the plan whose chunks are read ahead (remote tensors; 0: none)
};

using SharedBytes = std::shared_ptr<ByteVector>;

/// One tensor's values in a batch.
struct Column {
  bool fixed = false;  // one buffer [rows, *sample_shape]
  DType dtype = DType::UInt8;
  bool is_bytes = false;  // text/json/list bytes, or decode_method="tobytes"
  Shape sample_shape;
  SharedBytes buffer;
  std::vector<SharedBytes> samples;  // ragged: one buffer per row
  std::vector<Shape> shapes;
};

struct Batch {
  uint64_t number = 0;
  std::vector<uint64_t> indices;  // dataset rows, in order
  std::vector<Column> columns;
  std::vector<std::string> skipped;  // errors of samples dropped with ignore_errors
};

class Loader {
 public:
  Loader(std::vector<LoaderTensor> tensors, std::vector<uint64_t> order, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  size_t num_batches() const { return num_batches_; }
  size_t num_threads() const { return num_threads_; }

  enum class Status { Ready, Timeout, Done };
  /// Waits up to `timeout` for the next batch in order. Rethrows a sample's error (naming
  /// tensor and index) when ignore_errors is off.
  Status next(Batch& out, std::chrono::milliseconds timeout);
  /// Stops the workers and joins them. Idempotent; safe from several threads at once (one joins,
  /// the others wait for it).
  void close();
  uint64_t skipped_total() const { return skipped_total_; }

 private:
  struct Slot {
    Batch batch;
    size_t remaining = 0;
    std::vector<uint8_t> dropped;  // per position, with ignore_errors
    std::exception_ptr error;
    size_t error_pos = SIZE_MAX;
    bool batch_failed = false;  // its buffers could not be had: no sample is processed
    bool ready = false;
  };
  void work();
  void process(uint64_t batch_no, size_t pos);
  Slot& slot_locked(uint64_t batch_no);
  void finish_locked(Slot& slot);
  size_t batch_rows(uint64_t batch_no) const;

  std::vector<LoaderTensor> tensors_;
  std::vector<bool> fixed_;
  std::vector<Shape> fixed_shape_;
  std::vector<DType> out_dtype_;
  std::vector<uint64_t> order_;
  LoaderOptions opt_;
  size_t num_batches_ = 0;
  uint64_t limit_ = 0;  // samples the batches hold (drop_last leaves the tail out)

  std::mutex mu_;
  std::condition_variable work_cv_, ready_cv_;
  std::map<uint64_t, Slot> slots_;
  uint64_t next_sample_ = 0;  // flattened position in order_ of the next sample to take
  uint64_t readahead_ = 0;    // position in order_ up to which chunks were requested
  void read_ahead(uint64_t from, uint64_t to) const;
  uint64_t delivered_ = 0;  // batches handed to the consumer
  bool stopping_ = false;
  std::exception_ptr fatal_;    // a worker's error outside any sample; next() rethrows it
  std::thread::id consumer_{};  // the thread of the first next()
  std::atomic<uint64_t> skipped_total_{0};
  std::shared_ptr<BufferPool> pool_;
  std::mutex join_mu_;  // close(): the workers are joined once
  std::vector<std::thread> workers_;
  size_t num_threads_ = 0;
  pid_t pid_;
};

}  // namespace chute
