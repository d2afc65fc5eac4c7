#include "chute/version/diffs.h"

#include "chute/core/error.h"

namespace chute::version {

namespace {

class Reader {
 public:
  Reader(std::string_view b, const std::string& what) : b_(b), what_(what) {}
  uint8_t u8() {
    need(1);
    return static_cast<uint8_t>(b_[at_++]);
  }
  uint64_t u64() {
    need(8);
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(b_[at_++]);
    return v;
  }
  std::string str(uint64_t n) {
    need(n);
    std::string s(b_.substr(at_, n));
    at_ += n;
    return s;
  }
  size_t left() const { return b_.size() - at_; }

 private:
  void need(uint64_t n) const {
    if (n > left()) throw FormatError(what_ + ": truncated (" + std::to_string(b_.size()) + " bytes)");
  }
  std::string_view b_;
  size_t at_ = 0;
  const std::string& what_;
};

void put_u64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}

}  // namespace

CommitDiff CommitDiff::parse(std::string_view bytes, const std::string& what) {
  Reader r(bytes, what);
  CommitDiff d;
  d.created = r.u8();
  d.info_updated = r.u8();
  d.data_transformed = r.u8();
  d.added_start = r.u64();
  d.added_end = r.u64();
  uint64_t m = r.u64();
  if (m > r.left() / 8) throw FormatError(what + ": it lists " + std::to_string(m) + " updated rows in fewer bytes");
  for (uint64_t i = 0; i < m; ++i) d.updated.insert(r.u64());
  d.cleared = r.u8();
  uint64_t n = r.u64();
  if (n > r.left() / 8) throw FormatError(what + ": it lists " + std::to_string(n) + " deleted rows in fewer bytes");
  for (uint64_t i = 0; i < n; ++i) d.deleted.push_back(r.u64());
  // Sample ids of deleted rows follow when the tensor keeps ids; a pop of a row appended in the
  // same node adds an id without an index, so there may be more ids than rows.
  while (r.left() >= 8) d.deleted_ids.push_back(r.u64());
  return d;
}

std::string CommitDiff::serialize() const {
  std::string out;
  out.push_back(created ? 1 : 0);
  out.push_back(info_updated ? 1 : 0);
  out.push_back(data_transformed ? 1 : 0);
  put_u64(out, added_start);
  put_u64(out, added_end);
  put_u64(out, updated.size());
  for (uint64_t i : updated) put_u64(out, i);
  out.push_back(cleared ? 1 : 0);
  put_u64(out, deleted.size());
  for (uint64_t i : deleted) put_u64(out, i);
  for (uint64_t i : deleted_ids) put_u64(out, i);
  return out;
}

nlohmann::json CommitDiff::to_json() const {
  return {{"created", created},
          {"cleared", cleared},
          {"info_updated", info_updated},
          {"data_added", {added_start, added_end}},
          {"data_updated", updated},
          {"data_deleted", deleted},
          {"data_transformed_in_place", data_transformed}};
}

DatasetDiff DatasetDiff::parse(std::string_view bytes, const std::string& what) {
  Reader r(bytes, what);
  DatasetDiff d;
  d.info_updated = r.u8();
  uint64_t renames = r.u64();
  for (uint64_t i = 0; i < renames; ++i) {
    uint64_t a = r.u64(), b = r.u64();
    std::string from = r.str(a);
    d.renamed.emplace_back(from, r.str(b));
  }
  uint64_t deleted = r.u64();
  for (uint64_t i = 0; i < deleted; ++i) d.deleted.push_back(r.str(r.u64()));
  return d;
}

std::string DatasetDiff::serialize() const {
  std::string out;
  out.push_back(info_updated ? 1 : 0);
  put_u64(out, renamed.size());
  for (const auto& [a, b] : renamed) {
    put_u64(out, a.size());
    put_u64(out, b.size());
    out += a;
    out += b;
  }
  put_u64(out, deleted.size());
  for (const auto& n : deleted) {
    put_u64(out, n.size());
    out += n;
  }
  return out;
}

std::vector<std::pair<std::string, ChunkRef>> parse_chunk_set(std::string_view bytes) {
  std::vector<std::pair<std::string, ChunkRef>> out;
  size_t start = 0;
  while (start < bytes.size()) {
    size_t end = bytes.find(',', start);
    if (end == std::string_view::npos) end = bytes.size();
    std::string_view entry = bytes.substr(start, end - start);
    start = end + 1;
    if (entry.empty()) continue;
    ChunkRef ref;
    size_t c1 = entry.find(':');
    std::string name(entry.substr(0, c1));
    if (c1 != std::string_view::npos) {
      size_t c2 = entry.find(':', c1 + 1);
      ref.commit =
          std::string(entry.substr(c1 + 1, c2 == std::string_view::npos ? std::string_view::npos : c2 - c1 - 1));
      if (c2 != std::string_view::npos) ref.key = std::string(entry.substr(c2 + 1));
    }
    out.emplace_back(std::move(name), std::move(ref));
  }
  return out;
}

std::string serialize_chunk_set(const std::vector<std::pair<std::string, ChunkRef>>& entries) {
  std::string out;
  for (const auto& [name, ref] : entries) {
    if (!out.empty()) out.push_back(',');
    out += name;
    if (!ref.commit.empty()) out += ":" + ref.commit;
    if (!ref.key.empty()) out += ":" + ref.key;
  }
  return out;
}

}  // namespace chute::version
