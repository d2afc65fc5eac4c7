#include "chute/loader/plan.h"

#include <algorithm>
#include <unordered_map>

#include "chute/core/error.h"
#include "chute/core/random.h"

namespace chute {

std::vector<uint64_t> global_order(const std::vector<uint64_t>& rows, const PlanSpec& spec) {
  CHUTE_CHECK(spec.world >= 1 && spec.rank < spec.world, "rank must be in [0, world_size)");
  std::vector<uint64_t> order;
  if (spec.shuffle && !spec.chunk_ends.empty()) {
    order = buffered_order(rows, spec);
  } else if (spec.shuffle && rows.size() > 1) {
    order = rows;
    Rng rng(mix_keys({spec.seed, spec.epoch, 0x5348554646ULL}));
    for (size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
  } else {
    order = rows;
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

std::vector<uint64_t> buffered_order(const std::vector<uint64_t>& rows, const PlanSpec& spec) {
  Rng rng(mix_keys({spec.seed, spec.epoch, 0x4255464655ULL}));
  // Rows by chunk, chunks in the order they first appear.
  std::vector<std::vector<uint64_t>> groups;
  std::unordered_map<size_t, size_t> group_of;
  for (uint64_t r : rows) {
    size_t chunk = static_cast<size_t>(std::upper_bound(spec.chunk_ends.begin(), spec.chunk_ends.end(), r) -
                                       spec.chunk_ends.begin());
    auto [it, fresh] = group_of.emplace(chunk, groups.size());
    if (fresh) groups.emplace_back();
    groups[it->second].push_back(r);
  }
  for (size_t i = groups.size(); i > 1; --i) std::swap(groups[i - 1], groups[rng.below(i)]);
  size_t capacity = static_cast<size_t>(std::max<uint64_t>(1, spec.buffer_rows));
  size_t width = std::max<uint32_t>(1, spec.interleave);
  uint64_t ratio = std::max<uint32_t>(1, spec.fill_ratio);
  std::vector<uint64_t> out, buffer;
  out.reserve(rows.size());
  buffer.reserve(std::min(capacity, rows.size()) + 1);
  uint64_t seen = 0;
  auto take = [&](uint64_t r) {
    buffer.push_back(r);
    ++seen;
    size_t target = static_cast<size_t>(std::min<uint64_t>(capacity, std::max<uint64_t>(1, seen - seen / ratio)));
    while (buffer.size() > target) {
      size_t j = static_cast<size_t>(rng.below(buffer.size()));
      out.push_back(buffer[j]);
      buffer[j] = buffer.back();
      buffer.pop_back();
    }
  };
  for (size_t start = 0; start < groups.size(); start += width) {
    size_t stop = std::min(groups.size(), start + width);
    std::vector<size_t> pos(stop - start, 0);
    for (bool more = true; more;) {
      more = false;
      for (size_t g = start; g < stop; ++g) {
        if (pos[g - start] < groups[g].size()) {
          take(groups[g][pos[g - start]++]);
          more = true;
        }
      }
    }
  }
  while (!buffer.empty()) {
    size_t j = static_cast<size_t>(rng.below(buffer.size()));
    out.push_back(buffer[j]);
    buffer[j] = buffer.back();
    buffer.pop_back();
  }
  return out;
}

std::vector<uint64_t> rank_share(const std::vector<uint64_t>& order, const PlanSpec& spec, uint64_t consumed) {
  std::vector<uint64_t> out;
  if (consumed >= order.size()) return out;
  out.reserve((order.size() - consumed) / spec.world + 1);
  for (uint64_t i = consumed + spec.rank; i < order.size(); i += spec.world) out.push_back(order[i]);
  return out;
}

}  // namespace chute
