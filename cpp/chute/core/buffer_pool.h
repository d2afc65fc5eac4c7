#pragma once
// Recycles large byte buffers (batch buffers): a buffer handed out returns to the pool when its
// last owner (a numpy array's capsule, via shared_ptr) lets go, so steady-state batches reuse
// memory that is already mapped instead of faulting in fresh pages every time.
// Thread-safety: acquire() and the release path may run on any thread; the pool may die before
// the buffers it handed out (they are then simply freed).
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "chute/core/buffer.h"

namespace chute {

class BufferPool : public std::enable_shared_from_this<BufferPool> {
 public:
  explicit BufferPool(size_t max_kept) : max_kept_(max_kept) {}
  /// A buffer of exactly `size` bytes (contents undefined).
  std::shared_ptr<ByteVector> acquire(size_t size);

 private:
  void give_back(ByteVector* v);
  std::mutex mu_;
  std::vector<std::unique_ptr<ByteVector>> free_;
  size_t max_kept_;
};

}  // namespace chute
