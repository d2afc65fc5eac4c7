#pragma once
// The index plan of one epoch: a pure function of (rows, seed, epoch, rank, world, position).
// Thread-safety: pure functions.
#include <cstdint>
#include <vector>

namespace chute {

struct PlanSpec {
  bool shuffle = false;
  uint64_t seed = 0;
  uint64_t epoch = 0;
  uint32_t rank = 0;
  uint32_t world = 1;
  bool drop_last = false;  // DDP: truncate to a multiple of world instead of padding
};

/// The global order of an epoch: `rows` permuted (Fisher-Yates on a counter-based generator)
/// when shuffling, then padded by wrapping around (or truncated when drop_last) to a multiple of
/// `world`, as torch's DistributedSampler does.
std::vector<uint64_t> global_order(const std::vector<uint64_t>& rows, const PlanSpec& spec);

/// This rank's share of the global order after `consumed` global samples have been used:
/// order[consumed + rank], order[consumed + rank + world], ... Since ranks take strided slices,
/// the first k*world samples of the global order are exactly what k steps of every rank used,
/// so a stream can resume at any world size.
std::vector<uint64_t> rank_share(const std::vector<uint64_t>& order, const PlanSpec& spec, uint64_t consumed);

}  // namespace chute
