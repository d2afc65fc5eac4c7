#include "chute/version/version_info.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <random>
#include <set>

#include "chute/core/error.h"

namespace chute::version {

namespace {

nlohmann::ordered_json node_json(const CommitNode& n, bool commit_info_order) {
  nlohmann::ordered_json j;
  nlohmann::json parent = n.parent.empty() ? nlohmann::json(nullptr) : nlohmann::json(n.parent);
  j["branch"] = n.branch;
  if (commit_info_order) {
    j["children"] = n.children;
    j["parent"] = parent;
  } else {
    j["parent"] = parent;
    j["children"] = n.children;
  }
  j["commit_message"] = n.message;
  j["commit_time"] = n.time;
  j["commit_user_name"] = n.user;
  j["is_checkpoint"] = n.is_checkpoint;
  j["total_samples_processed"] = n.total_samples_processed;
  return j;
}

bool is_safe_id(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; });
}

}  // namespace

VersionInfo VersionInfo::fresh() {
  VersionInfo v;
  CommitNode first;
  first.id = kFirstCommit;
  first.branch = "main";
  v.nodes_[first.id] = first;
  v.branches_["main"] = kFirstCommit;
  return v;
}

VersionInfo VersionInfo::parse(const std::string& text, const std::string& what) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(what + " is not valid JSON (" + e.what() + ")");
  }
  auto bad = [&](const std::string& why) -> void { throw FormatError(what + ": " + why); };
  if (!j.is_object() || !j.contains("commits") || !j["commits"].is_object() || !j.contains("branches") ||
      !j["branches"].is_object())
    bad("expected {\"commits\": {...}, \"branches\": {...}}");
  VersionInfo v;
  for (auto it = j["branches"].begin(); it != j["branches"].end(); ++it) {
    if (!it.value().is_string()) bad("branch '" + it.key() + "' does not name a commit");
    v.branches_[it.key()] = it.value().get<std::string>();
  }
  for (auto it = j["commits"].begin(); it != j["commits"].end(); ++it) {
    const auto& c = it.value();
    if (!is_safe_id(it.key())) bad("commit id '" + it.key() + "' is not a name a folder can have");
    if (!c.is_object() || !c.contains("branch") || !c["branch"].is_string())
      bad("commit '" + it.key() + "' has no branch");
    CommitNode n;
    n.id = it.key();
    n.branch = c["branch"].get<std::string>();
    if (c.contains("parent") && c["parent"].is_string()) n.parent = c["parent"].get<std::string>();
    if (c.contains("children")) {
      if (!c["children"].is_array()) bad("commit '" + it.key() + "': children must be a list");
      for (const auto& ch : c["children"]) {
        if (!ch.is_string()) bad("commit '" + it.key() + "': a child is not an id");
        n.children.push_back(ch.get<std::string>());
      }
    }
    n.message = c.value("commit_message", nlohmann::json(nullptr));
    n.time = c.value("commit_time", nlohmann::json(nullptr));
    if (!n.time.is_null() && !n.time.is_number()) bad("commit '" + it.key() + "': commit_time must be a number");
    n.user = c.value("commit_user_name", nlohmann::json(nullptr));
    n.is_checkpoint = c.value("is_checkpoint", false);
    n.total_samples_processed = c.value("total_samples_processed", uint64_t(0));
    v.listed_.insert(n.id);
    v.nodes_[n.id] = std::move(n);
  }
  if (!v.nodes_.count(kFirstCommit)) bad("it has no first commit '" + std::string(kFirstCommit) + "'");
  // Deep Lake reads the nodes reachable from the first through children; others are ignored.
  std::set<std::string> reachable;
  std::vector<std::string> stack{kFirstCommit};
  while (!stack.empty()) {
    std::string id = stack.back();
    stack.pop_back();
    if (!v.nodes_.count(id) || !reachable.insert(id).second) continue;
    for (const auto& ch : v.nodes_[id].children) stack.push_back(ch);
  }
  for (auto it = v.nodes_.begin(); it != v.nodes_.end();)
    it = reachable.count(it->first) ? std::next(it) : v.nodes_.erase(it);
  for (auto& [id, n] : v.nodes_) {
    std::vector<std::string> kept;
    for (const auto& ch : n.children)
      if (v.nodes_.count(ch)) kept.push_back(ch);
    n.children = std::move(kept);
  }
  for (const auto& [b, head] : v.branches_)
    if (!v.nodes_.count(head)) bad("branch '" + b + "' names commit '" + head + "', which is not in the commit tree");
  return v;
}

std::vector<std::string> VersionInfo::ids() const {
  std::vector<std::string> out;
  std::vector<std::string> stack{kFirstCommit};
  std::set<std::string> seen;
  while (!stack.empty()) {
    std::string id = stack.back();
    stack.pop_back();
    if (!nodes_.count(id) || !seen.insert(id).second) continue;
    out.push_back(id);
    const auto& ch = nodes_.at(id).children;
    for (auto it = ch.rbegin(); it != ch.rend(); ++it) stack.push_back(*it);
  }
  return out;
}

std::string VersionInfo::serialize() const {
  nlohmann::ordered_json commits = nlohmann::ordered_json::object();
  for (const auto& id : ids()) commits[id] = node_json(nodes_.at(id), false);
  nlohmann::ordered_json branches = nlohmann::ordered_json::object();
  for (const auto& [b, head] : branches_) branches[b] = head;
  nlohmann::ordered_json j;
  j["commits"] = commits;
  j["branches"] = branches;
  return j.dump();
}

std::string VersionInfo::commit_info(const std::string& id) const { return node_json(node(id), true).dump(); }

const CommitNode& VersionInfo::node(const std::string& id) const {
  auto it = nodes_.find(id);
  if (it == nodes_.end())
    throw VersionError("commit '" + id + "' is not in the commit tree", VersionError::Kind::Checkout);
  return it->second;
}

CommitNode& VersionInfo::node(const std::string& id) {
  return const_cast<CommitNode&>(static_cast<const VersionInfo&>(*this).node(id));
}

std::string VersionInfo::resolve(const std::string& address) const {
  auto b = branches_.find(address);
  if (b != branches_.end()) return b->second;
  return nodes_.count(address) ? address : std::string();
}

std::vector<std::string> VersionInfo::ancestors(const std::string& id) const {
  std::vector<std::string> out;
  std::set<std::string> seen{id};
  for (std::string p = node(id).parent; !p.empty() && nodes_.count(p) && seen.insert(p).second; p = nodes_.at(p).parent)
    out.push_back(p);
  return out;
}

void VersionInfo::add_head(const std::string& id, const std::string& branch, const std::string& parent) {
  CommitNode n;
  n.id = id;
  n.branch = branch;
  n.parent = parent;
  node(parent).children.push_back(id);
  nodes_[id] = std::move(n);
  branches_[branch] = id;
}

void VersionInfo::remove(const std::string& id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return;
  if (!it->second.parent.empty() && nodes_.count(it->second.parent)) {
    auto& ch = nodes_[it->second.parent].children;
    ch.erase(std::remove(ch.begin(), ch.end(), id), ch.end());
  }
  nodes_.erase(it);
}

std::string VersionInfo::folder(const std::string& id) {
  return id == kFirstCommit ? std::string() : "versions/" + id + "/";
}

std::string VersionInfo::new_id() {
  static thread_local std::mt19937_64 rng{
      std::random_device{}() ^ static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
  static const char* hex = "0123456789abcdef";
  std::string id(40, '0');
  for (auto& c : id) c = hex[rng() & 15];
  return id;
}

double VersionInfo::now() {
  auto t = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  double frac = std::chrono::duration<double>(t.time_since_epoch()).count() - static_cast<double>(secs);
  std::tm utc{};
  gmtime_r(&secs, &utc);
  utc.tm_isdst = -1;
  return static_cast<double>(std::mktime(&utc)) + frac;  // the UTC wall clock as local time
}

}  // namespace chute::version
