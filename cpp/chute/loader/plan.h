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
  /// Object stores: the end row (exclusive) of each chunk of the tensor the plan reads most. When
  /// set, a shuffle is chunk-local (buffered_order) instead of a full permutation.
  std::vector<uint64_t> chunk_ends;
  uint64_t buffer_rows = 0;  // rows the shuffle buffer holds
  uint32_t interleave = 8;   // chunks read side by side
  uint32_t fill_ratio = 16;  // rows the buffer takes for each row it gives, until it is full
};

/// The global order of an epoch: `rows` permuted (Fisher-Yates on a counter-based generator)
/// when shuffling, then padded by wrapping around (or truncated when drop_last) to a multiple of
/// `world`, as torch's DistributedSampler does.
std::vector<uint64_t> global_order(const std::vector<uint64_t>& rows, const PlanSpec& spec);

/// A shuffle that reads each chunk once: rows grouped by chunk, the chunks permuted, their rows
/// interleaved `interleave` chunks at a time and streamed through a buffer of `buffer_rows` from
/// which every output row is drawn at random. Until it is full the buffer gives one row for every
/// `fill_ratio` it takes: the first batch waits for a few chunks, not for the whole buffer, and
/// the first thousand rows still come from fill_ratio thousand.
std::vector<uint64_t> buffered_order(const std::vector<uint64_t>& rows, const PlanSpec& spec);

/// This rank's share of the global order after `consumed` global samples have been used:
/// order[consumed + rank], order[consumed + rank + world], ... Since ranks take strided slices,
/// the first k*world samples of the global order are exactly what k steps of every rank used,
/// so a stream can resume at any world size.
std::vector<uint64_t> rank_share(const std::vector<uint64_t>& order, const PlanSpec& spec, uint64_t consumed);

}  // namespace chute
