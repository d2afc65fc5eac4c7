#include "chute/core/buffer_pool.h"

namespace chute {

std::shared_ptr<ByteVector> BufferPool::acquire(size_t size) {
  std::unique_ptr<ByteVector> v;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < free_.size(); ++i) {
      if (free_[i]->capacity() >= size && free_[i]->capacity() <= size + size / 4) {
        v = std::move(free_[i]);
        free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      }
    }
  }
  if (!v) v = std::make_unique<ByteVector>();
  v->resize(size);
  std::weak_ptr<BufferPool> pool = weak_from_this();
  return std::shared_ptr<ByteVector>(v.release(), [pool](ByteVector* p) {
    if (auto live = pool.lock())
      live->give_back(p);
    else
      delete p;
  });
}

void BufferPool::give_back(ByteVector* v) {
  std::unique_ptr<ByteVector> owned(v);
  std::lock_guard<std::mutex> lock(mu_);
  if (free_.size() < max_kept_) free_.push_back(std::move(owned));
}

}  // namespace chute
