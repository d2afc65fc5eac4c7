#include "chute/remote/s3_storage.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <set>

#include "chute/core/error.h"

namespace chute::remote {
namespace {

std::string xml_unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    auto end = s.find(';', i);
    if (end == std::string_view::npos) {
      out += s[i];
      continue;
    }
    std::string_view ent = s.substr(i + 1, end - i - 1);
    if (ent == "amp")
      out += '&';
    else if (ent == "lt")
      out += '<';
    else if (ent == "gt")
      out += '>';
    else if (ent == "quot")
      out += '"';
    else if (ent == "apos")
      out += '\'';
    else if (!ent.empty() && ent[0] == '#') {
      long c = ent.size() > 1 && ent[1] == 'x' ? std::strtol(std::string(ent.substr(2)).c_str(), nullptr, 16)
                                               : std::strtol(std::string(ent.substr(1)).c_str(), nullptr, 10);
      if (c > 0 && c < 128) out += static_cast<char>(c);
    } else {
      out += std::string(s.substr(i, end - i + 1));
    }
    i = end;
  }
  return out;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '&')
      out += "&amp;";
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '"')
      out += "&quot;";
    else
      out += c;
  }
  return out;
}

// The inner texts of every <tag>...</tag> in `xml` (no nesting of the same tag in S3's answers).
std::vector<std::string_view> xml_blocks(std::string_view xml, const std::string& tag) {
  std::vector<std::string_view> out;
  std::string open = "<" + tag + ">", close = "</" + tag + ">";
  size_t at = 0;
  while ((at = xml.find(open, at)) != std::string_view::npos) {
    size_t start = at + open.size();
    size_t end = xml.find(close, start);
    if (end == std::string_view::npos) break;
    out.push_back(xml.substr(start, end - start));
    at = end + close.size();
  }
  return out;
}

std::string xml_value(std::string_view xml, const std::string& tag) {
  auto blocks = xml_blocks(xml, tag);
  return blocks.empty() ? std::string() : xml_unescape(blocks.front());
}

bool valid_bucket(const std::string& b) {
  if (b.size() < 3 || b.size() > 63) return false;
  return std::all_of(b.begin(), b.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'; });
}

}  // namespace

bool is_s3_url(const std::string& path) { return path.rfind("s3://", 0) == 0; }

S3Options s3_options_from_environment() {
  auto env = [](std::initializer_list<const char*> names) {
    for (const char* n : names)
      if (const char* v = std::getenv(n); v && *v) return std::string(v);
    return std::string();
  };
  S3Options o;
  o.creds.access_key = env({"AWS_ACCESS_KEY_ID"});
  o.creds.secret_key = env({"AWS_SECRET_ACCESS_KEY"});
  o.creds.session_token = env({"AWS_SESSION_TOKEN"});
  o.region = env({"AWS_REGION", "AWS_DEFAULT_REGION"});
  o.endpoint_url = env({"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"});
  return o;
}

S3Url parse_s3_url(const std::string& url) {
  if (!is_s3_url(url)) throw InvalidArgument("'" + url + "' is not an s3:// URL");
  std::string rest = url.substr(5);
  auto slash = rest.find('/');
  S3Url out;
  out.bucket = rest.substr(0, slash);
  std::string prefix = slash == std::string::npos ? std::string() : rest.substr(slash + 1);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  out.prefix = prefix;
  if (!valid_bucket(out.bucket))
    throw InvalidArgument("'" + url + "': '" + out.bucket +
                          "' is not a valid bucket name (3-63 characters: lower-case letters, digits, '-' and '.')");
  if (prefix.find("//") != std::string::npos || prefix.rfind('/', 0) == 0)
    throw InvalidArgument("'" + url + "': the prefix has an empty segment ('//')");
  return out;
}

S3Storage::S3Storage(const std::string& url, S3Options options) : loc_(parse_s3_url(url)), opt_(std::move(options)) {
  url_ = "s3://" + loc_.bucket + (loc_.prefix.empty() ? "" : "/" + loc_.prefix);
  if (opt_.region.empty()) opt_.region = "us-east-1";
  std::string endpoint = opt_.endpoint_url;
  if (endpoint.empty()) endpoint = "https://s3." + opt_.region + ".amazonaws.com";
  auto sep = endpoint.find("://");
  if (sep == std::string::npos)
    throw InvalidArgument("endpoint_url '" + endpoint + "' has no scheme (http:// or https://)");
  scheme_ = endpoint.substr(0, sep);
  if (scheme_ != "http" && scheme_ != "https")
    throw InvalidArgument("endpoint_url '" + endpoint + "': the scheme must be http or https");
  endpoint_host_ = endpoint.substr(sep + 3);
  while (!endpoint_host_.empty() && endpoint_host_.back() == '/') endpoint_host_.pop_back();
  if (endpoint_host_.empty() || endpoint_host_.find('/') != std::string::npos)
    throw InvalidArgument("endpoint_url '" + endpoint + "' must be scheme://host[:port] without a path");
  if (endpoint_host_.find('@') != std::string::npos)
    throw InvalidArgument("endpoint_url must not hold credentials; pass them in creds");
  // Strip default ports: the Host header (and so the signature) carries none.
  auto strip = [&](const std::string& port) {
    if (endpoint_host_.size() > port.size() &&
        endpoint_host_.compare(endpoint_host_.size() - port.size(), port.size(), port) == 0)
      endpoint_host_.resize(endpoint_host_.size() - port.size());
  };
  strip(scheme_ == "https" ? ":443" : ":80");
  if (opt_.addressing == "auto") {
    path_style_ = !opt_.endpoint_url.empty() || loc_.bucket.find('.') != std::string::npos;
  } else if (opt_.addressing == "path" || opt_.addressing == "virtual") {
    path_style_ = opt_.addressing == "path";
  } else {
    throw InvalidArgument("addressing_style must be 'auto', 'path' or 'virtual', not '" + opt_.addressing + "'");
  }
  opt_.http.max_in_flight = std::max<size_t>(1, opt_.max_in_flight);
  if (opt_.multipart_part_size < (uint64_t(5) << 20))
    throw InvalidArgument("multipart part size must be at least 5 MB (S3's minimum)");
  if (opt_.cache_bytes > 0 && !opt_.cache_dir.empty())
    disk_ = std::make_shared<DiskCache>(opt_.cache_dir, opt_.cache_bytes);
}

DiskCache* S3Storage::disk_for(std::string_view key) const {
  if (!disk_ || key.find("/chunks/") == std::string_view::npos || is_temp_name(key)) return nullptr;
  return disk_.get();
}

std::shared_ptr<HttpClient> S3Storage::client() const {
  std::lock_guard<std::mutex> lock(client_mu_);
  pid_t pid = ::getpid();
  if (!client_ || client_pid_ != pid) {
    if (client_ && client_pid_ != pid) {
      // A forked child: the parent's client has no thread here. Keep it alive (its destructor
      // must not run in this process's terms) and make a new one.
      static std::vector<std::shared_ptr<HttpClient>>* abandoned = new std::vector<std::shared_ptr<HttpClient>>();
      abandoned->push_back(client_);
    }
    client_ = std::make_shared<HttpClient>(opt_.http);
    client_pid_ = pid;
  }
  return client_;
}

HttpStats S3Storage::stats() const { return client()->stats(); }
void S3Storage::reset_stats() const { client()->reset_stats(); }

std::string S3Storage::object_of(std::string_view key) const {
  if (loc_.prefix.empty()) return std::string(key);
  if (key.empty()) return loc_.prefix;
  return loc_.prefix + "/" + std::string(key);
}

std::string S3Storage::shown(std::string_view key) const { return key.empty() ? url_ : url_ + "/" + std::string(key); }

S3Storage::Target S3Storage::target(const std::string& object) const {
  Target t;
  std::string path = uri_encode(object, true);
  if (path_style_) {
    t.host = endpoint_host_;
    t.canonical_path = "/" + loc_.bucket + (object.empty() ? "" : "/" + path);
  } else {
    t.host = loc_.bucket + "." + endpoint_host_;
    t.canonical_path = "/" + path;
  }
  t.url = scheme_ + "://" + t.host + t.canonical_path;
  return t;
}

HttpClient::Factory S3Storage::request(std::string method, const std::string& object,
                                       std::vector<std::pair<std::string, std::string>> query,
                                       std::vector<std::string_view> body, std::vector<std::string> headers) const {
  Target t = target(object);
  std::string payload = body.empty() ? sha256_hex({}) : sha256_hex(body);
  return [this, method = std::move(method), t = std::move(t), query = std::move(query), body = std::move(body),
          headers = std::move(headers), payload = std::move(payload)]() {
    HttpRequest r;
    r.method = method;
    r.url = t.url;
    std::string qs;
    for (const auto& [k, v] : query) qs += (qs.empty() ? "?" : "&") + uri_encode(k, false) + "=" + uri_encode(v, false);
    r.url += qs;
    r.body = body;
    r.headers = headers;
    SignInput in{method, t.host, t.canonical_path, query, payload, opt_.region, amz_date_now()};
    for (auto& h : sign_v4(in, opt_.creds)) r.headers.push_back(std::move(h));
    return r;
  };
}

HttpResponse S3Storage::send(HttpClient::Factory make) const { return client()->send(std::move(make)); }

void S3Storage::fail(const std::string& what, const HttpResponse& r) const {
  if (r.status == 0) {
    std::string endpoint = scheme_ + "://" + endpoint_host_;
    throw IoError(what + ": cannot reach " + endpoint + " (" + r.error + ") after " + std::to_string(r.attempts) +
                  " attempt" + (r.attempts == 1 ? "" : "s"));
  }
  std::string code = xml_value(r.body, "Code"), message = xml_value(r.body, "Message");
  std::string status = "HTTP " + std::to_string(r.status) + (code.empty() ? "" : " " + code);
  if (!r.error.empty()) status += ", " + r.error;
  if (!message.empty()) status += ": " + message;
  if (r.attempts > 1) status += " (after " + std::to_string(r.attempts) + " attempts)";
  if (code == "NoSuchBucket")
    throw NotFoundError(what + ": the bucket '" + loc_.bucket + "' does not exist (" + status + ")");
  if (r.status == 404) throw NotFoundError(what + ": not found (" + status + ")");
  if (r.status == 403 || r.status == 401)
    throw IoError(
        what + ": access denied (" + status +
        "); check the credentials (creds=, the AWS_* variables or ~/.aws/credentials) and the bucket's policy");
  throw IoError(what + ": " + status);
}

void S3Storage::check_bucket() const {
  auto r = send(request("HEAD", ""));
  if (r.ok()) return;
  if (r.status == 404)
    throw NotFoundError("'" + url_ + "': the bucket '" + loc_.bucket + "' does not exist (HTTP 404)");
  fail("'" + url_ + "'", r);
}

bool S3Storage::exists(std::string_view key) const {
  std::string k(key);
  if (const std::string* temp = redirect_of(key)) {
    auto r = send(request("HEAD", object_of(*temp)));
    if (r.ok()) return true;
  }
  auto r = send(request("HEAD", object_of(k)));
  if (r.ok()) return true;
  if (r.status == 404) return false;
  fail(shown(key), r);
}

std::optional<uint64_t> S3Storage::size_of(std::string_view key) const {
  auto r = send(request("HEAD", object_of(key)));
  if (r.status == 404) return std::nullopt;
  if (!r.ok()) fail(shown(key), r);
  return std::strtoull(r.header("content-length").c_str(), nullptr, 10);
}

std::string S3Storage::read(std::string_view key) const {
  if (const std::string* temp = redirect_of(key)) {
    // An unfinished flush's file, while it is there; the published one after the copy.
    auto factory = request("GET", object_of(*temp));
    auto r = send([factory] {
      auto req = factory();
      req.verify_md5_etag = true;
      return req;
    });
    if (r.ok()) return std::move(r.body);
  }
  DiskCache* disk = disk_for(key);
  if (disk)
    if (auto hit = disk->get(std::string(key))) return std::move(*hit);
  auto factory = request("GET", object_of(key));
  auto r = send([factory] {
    auto req = factory();
    req.verify_md5_etag = true;
    return req;
  });
  if (!r.ok()) fail(shown(key), r);
  if (disk) disk->put(std::string(key), r.body);
  return std::move(r.body);
}

void S3Storage::read_async(std::string_view key, ReadDone done) const {
  DiskCache* disk = disk_for(key);
  if (disk) {
    if (auto hit = disk->get(std::string(key))) {
      done(std::move(*hit), nullptr);
      return;
    }
  }
  auto factory = request("GET", object_of(key));
  std::string what = shown(key);
  client()->submit(
      [factory] {
        auto req = factory();
        req.verify_md5_etag = true;
        return req;
      },
      [this, what, disk, k = std::string(key), done = std::move(done)](HttpResponse r) {
        if (r.ok()) {
          if (disk) disk->put(k, r.body);
          done(std::move(r.body), nullptr);
          return;
        }
        try {
          fail(what, r);
        } catch (...) {
          done(std::string(), std::current_exception());
        }
      });
}

void S3Storage::read_range_into(std::string_view key, uint64_t offset, uint64_t length, std::string& out) const {
  if (length == 0) {
    out.clear();
    return;
  }
  if (DiskCache* disk = disk_for(key))
    if (disk->get_range(std::string(key), offset, length, out)) return;
  std::string range = "Range: bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1);
  auto factory = request("GET", object_of(key), {}, {}, {range});
  auto r = send([factory, length] {
    auto req = factory();
    req.expected_length = length;
    return req;
  });
  if (r.status == 416)
    throw IoError("'" + shown(key) + "' is shorter than its index says (wanted " + std::to_string(length) +
                  " bytes at offset " + std::to_string(offset) + ")");
  if (!r.ok()) fail(shown(key), r);
  if (r.status != 206 && offset == 0 && r.body.size() > length) r.body.resize(length);  // a server that ignored Range
  if (r.status != 206 && offset != 0) {
    if (r.body.size() < offset + length) throw IoError("'" + shown(key) + "' is shorter than its index says");
    r.body = r.body.substr(offset, length);
  }
  out = std::move(r.body);
}

std::string S3Storage::read_prefix(std::string_view key, uint64_t max_bytes, uint64_t& file_size) const {
  std::string range = "Range: bytes=0-" + std::to_string(max_bytes - 1);
  auto r = send(request("GET", object_of(key), {}, {}, {range}));
  if (r.status == 416) {  // an empty object
    file_size = 0;
    return {};
  }
  if (!r.ok()) fail(shown(key), r);
  if (r.status == 206) {
    std::string cr = r.header("content-range");  // "bytes 0-16383/123456"
    auto slash = cr.rfind('/');
    if (slash == std::string::npos) throw IoError("'" + shown(key) + "': a range answer without Content-Range");
    file_size = std::strtoull(cr.c_str() + slash + 1, nullptr, 10);
  } else {
    file_size = r.body.size();
    if (r.body.size() > max_bytes) r.body.resize(max_bytes);
  }
  return std::move(r.body);
}

void S3Storage::put(std::string_view key, std::vector<std::string_view> parts) const {
  uint64_t size = 0;
  for (auto p : parts) size += p.size();
  if (size > opt_.multipart_threshold) {
    put_multipart(key, parts);
    return;
  }
  std::vector<std::string> headers = {"Content-MD5: " + md5_base64(parts)};
  auto r = send(request("PUT", object_of(key), {}, parts, headers));
  if (!r.ok()) fail(shown(key) + " (upload)", r);
}

void S3Storage::put_multipart(std::string_view key, const std::vector<std::string_view>& parts) const {
  std::string object = object_of(key), what = shown(key) + " (multipart upload)";
  auto r = send(request("POST", object, {{"uploads", ""}}));
  if (!r.ok()) fail(what, r);
  std::string upload_id = xml_value(r.body, "UploadId");
  if (upload_id.empty()) throw IoError(what + ": the server gave no UploadId");
  // Slice the parts (head + body) into part_size pieces without copying.
  std::vector<std::vector<std::string_view>> pieces;
  uint64_t want = opt_.multipart_part_size;
  std::vector<std::string_view> cur;
  uint64_t cur_size = 0;
  for (auto p : parts) {
    while (!p.empty()) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(p.size(), want - cur_size));
      cur.push_back(p.substr(0, take));
      cur_size += take;
      p.remove_prefix(take);
      if (cur_size == want) {
        pieces.push_back(std::move(cur));
        cur.clear();
        cur_size = 0;
      }
    }
  }
  if (cur_size > 0 || pieces.empty()) pieces.push_back(std::move(cur));
  std::mutex mu;
  std::condition_variable cv;
  size_t left = pieces.size();
  std::vector<HttpResponse> answers(pieces.size());
  auto c = client();
  for (size_t i = 0; i < pieces.size(); ++i) {
    std::vector<std::string> headers = {"Content-MD5: " + md5_base64(pieces[i])};
    c->submit(
        request("PUT", object, {{"partNumber", std::to_string(i + 1)}, {"uploadId", upload_id}}, pieces[i], headers),
        [&, i](HttpResponse a) {
          std::lock_guard<std::mutex> lock(mu);
          answers[i] = std::move(a);
          if (--left == 0) cv.notify_all();
        });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return left == 0; });
  }
  auto abort = [&] { send(request("DELETE", object, {{"uploadId", upload_id}})); };
  std::string xml = "<CompleteMultipartUpload>";
  for (size_t i = 0; i < answers.size(); ++i) {
    if (!answers[i].ok()) {
      abort();
      fail(what + " part " + std::to_string(i + 1), answers[i]);
    }
    xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" +
           xml_escape(answers[i].header("etag")) + "</ETag></Part>";
  }
  xml += "</CompleteMultipartUpload>";
  auto done = send(request("POST", object, {{"uploadId", upload_id}}, {xml}));
  // CompleteMultipartUpload may answer 200 with an error in the body.
  if (!done.ok() || done.body.find("<Error>") != std::string::npos) {
    if (done.ok()) done.status = 500;
    abort();
    fail(what, done);
  }
}

void S3Storage::write_durable(std::string_view key, std::string_view data) const { put(key, {data}); }
void S3Storage::write(std::string_view key, std::string_view data) const { put(key, {data}); }
void S3Storage::write(std::string_view key, std::string_view head, std::string_view body) const {
  put(key, {head, body});
}

void S3Storage::rename(std::string_view from_key, std::string_view to_key) const {
  std::string source = "/" + loc_.bucket + "/" + uri_encode(object_of(from_key), true);
  auto r = send(request("PUT", object_of(to_key), {}, {}, {"x-amz-copy-source: " + source}));
  if (r.ok() && r.body.find("<Error>") != std::string::npos) r.status = 500;  // a copy that failed after 200
  if (!r.ok()) fail(shown(to_key) + " (copy from " + shown(from_key) + ")", r);
  remove(from_key);
}

bool S3Storage::remove(std::string_view key) const {
  auto r = send(request("DELETE", object_of(key)));
  if (!r.ok() && r.status != 404) fail(shown(key) + " (delete)", r);
  return true;
}

std::vector<std::string> S3Storage::list_all(const std::string& object_prefix) const {
  std::vector<std::string> keys;
  std::string token;
  while (true) {
    std::vector<std::pair<std::string, std::string>> q = {{"list-type", "2"}, {"prefix", object_prefix}};
    if (!token.empty()) q.emplace_back("continuation-token", token);
    auto r = send(request("GET", "", q));
    if (!r.ok()) fail(url_ + " (list " + object_prefix + ")", r);
    for (auto block : xml_blocks(r.body, "Contents")) keys.push_back(xml_value(block, "Key"));
    if (xml_value(r.body, "IsTruncated") != "true") break;
    token = xml_value(r.body, "NextContinuationToken");
    if (token.empty()) break;
  }
  return keys;
}

void S3Storage::remove_all(std::string_view key) const {
  std::string base = object_of(key);
  std::vector<std::string> keys = list_all(base + "/");
  keys.push_back(base);
  std::mutex mu;
  std::condition_variable cv;
  size_t left = keys.size();
  HttpResponse first_error;
  std::string first_key;
  auto c = client();
  for (const auto& k : keys) {
    c->submit(request("DELETE", k), [&, k](HttpResponse r) {
      std::lock_guard<std::mutex> lock(mu);
      if (!r.ok() && r.status != 404 && first_key.empty()) {
        first_key = k;
        first_error = std::move(r);
      }
      if (--left == 0) cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return left == 0; });
  if (!first_key.empty()) fail("s3://" + loc_.bucket + "/" + first_key + " (delete)", first_error);
}

std::vector<std::string> S3Storage::list(std::string_view folder_key) const {
  std::string base = object_of(folder_key);
  std::string prefix = base.empty() ? std::string() : base + "/";
  std::set<std::string> names;
  std::string token;
  while (true) {
    std::vector<std::pair<std::string, std::string>> q = {{"delimiter", "/"}, {"list-type", "2"}, {"prefix", prefix}};
    if (!token.empty()) q.emplace_back("continuation-token", token);
    auto r = send(request("GET", "", q));
    if (!r.ok()) fail(shown(folder_key) + " (list)", r);
    for (auto block : xml_blocks(r.body, "Contents")) {
      std::string k = xml_value(block, "Key");
      if (k.size() > prefix.size()) names.insert(k.substr(prefix.size()));
    }
    for (auto block : xml_blocks(r.body, "CommonPrefixes")) {
      std::string p = xml_value(block, "Prefix");
      if (p.size() > prefix.size() + 1) names.insert(p.substr(prefix.size(), p.size() - prefix.size() - 1));
    }
    if (xml_value(r.body, "IsTruncated") != "true") break;
    token = xml_value(r.body, "NextContinuationToken");
    if (token.empty()) break;
  }
  return {names.begin(), names.end()};
}

}  // namespace chute::remote
