#include "chute/loader/plan.h"

#include "chute/core/error.h"
#include "chute/core/random.h"

namespace chute {

std::vector<uint64_t> global_order(const std::vector<uint64_t>& rows, const PlanSpec& spec) {
  CHUTE_CHECK(spec.world >= 1 && spec.rank < spec.world, "rank must be in [0, world_size)");
  std::vector<uint64_t> order = rows;
  if (spec.shuffle && order.size() > 1) {
    Rng rng(mix_keys({spec.seed, spec.epoch, 0x5348554646ULL}));
    for (size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
  }
  if (spec.world > 1 && !order.empty()) {
    size_t n = order.size();
    if (spec.drop_last) {
      order.resize(n - n % spec.world);
    } else {
      size_t total = (n + spec.world - 1) / spec.world * spec.world;
      for (size_t i = n; i < total; ++i) order.push_back(order[(i - n) % n]);
    }
  }
  return order;
}

std::vector<uint64_t> rank_share(const std::vector<uint64_t>& order, const PlanSpec& spec, uint64_t consumed) {
  std::vector<uint64_t> out;
  if (consumed >= order.size()) return out;
  out.reserve((order.size() - consumed) / spec.world + 1);
  for (uint64_t i = consumed + spec.rank; i < order.size(); i += spec.world) out.push_back(order[i]);
  return out;
}

}  // namespace chute
