#include "chute/remote/http_client.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>
#include <random>

#include "chute/core/error.h"
#include "chute/remote/sigv4.h"

namespace chute::remote {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(std::string_view s) {
  size_t a = 0, b = s.size();
  while (a < b && (s[a] == ' ' || s[a] == '\t')) ++a;
  while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\r' || s[b - 1] == '\n')) --b;
  return std::string(s.substr(a, b - a));
}

// Where an upload has got to in its body's parts; READDATA of the easy handle.
struct UploadCursor {
  const std::vector<std::string_view>* parts = nullptr;
  size_t part = 0;
  size_t off = 0;
};

size_t on_upload(char* out, size_t size, size_t n, void* user) {
  auto* c = static_cast<UploadCursor*>(user);
  size_t room = size * n, written = 0;
  while (room > 0 && c->part < c->parts->size()) {
    std::string_view part = (*c->parts)[c->part];
    size_t take = std::min(room, part.size() - c->off);
    std::memcpy(out + written, part.data() + c->off, take);
    written += take;
    room -= take;
    c->off += take;
    if (c->off == part.size()) {
      ++c->part;
      c->off = 0;
    }
  }
  return written;
}

}  // namespace

struct HttpClient::Pending {
  Factory make;
  Callback done;
  HttpRequest req;
  HttpResponse resp;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  char errbuf[CURL_ERROR_SIZE] = {0};
  UploadCursor upload;
  int connect_failures = 0;
};

std::string HttpResponse::header(std::string_view name) const {
  std::string n = lower(std::string(name));
  for (const auto& [k, v] : headers)
    if (k == n) return v;
  return {};
}

HttpClient::HttpClient(HttpOptions options) : opt_(options), pid_(::getpid()) {
  global_init();
  multi_ = curl_multi_init();
  if (!multi_) throw Error("libcurl: curl_multi_init failed");
  curl_multi_setopt(static_cast<CURLM*>(multi_), CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(opt_.max_in_flight));
  thread_ = std::thread([this] { run(); });
}

HttpClient::~HttpClient() {
  if (::getpid() != pid_) {
    // A forked child: the I/O thread is the parent's and does not exist here.
    thread_.detach();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
  thread_.join();
  for (void* e : idle_easy_) curl_easy_cleanup(static_cast<CURL*>(e));
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

void HttpClient::submit(Factory make, Callback done) {
  auto p = std::make_unique<Pending>();
  p->make = std::move(make);
  p->done = std::move(done);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) throw Error("HTTP client is shut down");
    queue_.push_back(std::move(p));
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

HttpResponse HttpClient::send(Factory make) {
  auto promise = std::make_shared<std::promise<HttpResponse>>();
  auto future = promise->get_future();
  submit(std::move(make), [promise](HttpResponse r) { promise->set_value(std::move(r)); });
  return future.get();
}

HttpStats HttpClient::stats() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return stats_;
}

void HttpClient::reset_stats() {
  std::lock_guard<std::mutex> lock(stats_mu_);
  stats_ = HttpStats{};
}

bool HttpClient::retryable(const HttpResponse& r, bool& connect_failure) {
  connect_failure = false;
  if (r.status == 0) {
    // Transport errors: connection refused and connect timeouts are told apart by the caller's
    // message; everything else (reset, timeout, nothing received, cut short) is worth a retry.
    connect_failure = r.error.find("onnect") != std::string::npos && r.error.find("resolve") == std::string::npos;
    return r.error.find("resolve") == std::string::npos;
  }
  if (!r.error.empty()) return true;  // a body cut short or not matching its checksum
  return r.status == 429 || r.status >= 500;
}

namespace {

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  body->append(data, size * n);
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* resp = static_cast<HttpResponse*>(user);
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    resp->headers.clear();  // a new response (after 100 Continue or a redirect)
  } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
    std::string name = lower(std::string(line.substr(0, colon)));
    std::string value = trim(line.substr(colon + 1));
    if (name == "content-length") {
      uint64_t len = std::strtoull(value.c_str(), nullptr, 10);
      if (len < (uint64_t(1) << 32)) resp->body.reserve(len);
    }
    resp->headers.emplace_back(std::move(name), std::move(value));
  }
  return size * n;
}

}  // namespace

void HttpClient::start(std::unique_ptr<Pending> p) {
  try {
    p->req = p->make();
  } catch (const std::exception& e) {
    p->resp.error = std::string("cannot build the request: ") + e.what();
    try {
      p->done(std::move(p->resp));
    } catch (...) {
    }
    return;
  }
  CURL* e = nullptr;
  if (!idle_easy_.empty()) {
    e = static_cast<CURL*>(idle_easy_.back());
    idle_easy_.pop_back();
    curl_easy_reset(e);
  } else {
    e = curl_easy_init();
  }
  p->easy = e;
  curl_easy_setopt(e, CURLOPT_URL, p->req.url.c_str());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, opt_.connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, opt_.low_speed_time_s);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, p->errbuf);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &p->resp.body);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &p->resp);
  curl_easy_setopt(e, CURLOPT_PRIVATE, p.get());
  p->errbuf[0] = 0;
  curl_slist* h = nullptr;
  for (const auto& line : p->req.headers) h = curl_slist_append(h, line.c_str());
  h = curl_slist_append(h, "Expect:");
  uint64_t body_size = 0;
  for (auto part : p->req.body) body_size += part.size();
  const std::string& m = p->req.method;
  if (m == "HEAD") {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (m == "PUT" || m == "POST") {
    p->upload = UploadCursor{&p->req.body, 0, 0};
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_upload);
    curl_easy_setopt(e, CURLOPT_READDATA, &p->upload);
    if (m == "PUT") {
      curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body_size));
    } else {
      curl_easy_setopt(e, CURLOPT_POST, 1L);
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body_size));
    }
    h = curl_slist_append(h, "Content-Type: application/octet-stream");
  } else if (m != "GET") {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m.c_str());
  }
  p->headers = h;
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    ++stats_.requests;
    if (m == "GET") ++stats_.gets;
    stats_.bytes_out += body_size;
  }
  curl_multi_add_handle(static_cast<CURLM*>(multi_), e);
  active_.push_back(std::move(p));
}

void HttpClient::finish(Pending* raw, int code) {
  auto it = std::find_if(active_.begin(), active_.end(), [&](const auto& q) { return q.get() == raw; });
  std::unique_ptr<Pending> p = std::move(*it);
  active_.erase(it);
  CURL* e = static_cast<CURL*>(p->easy);
  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  curl_multi_remove_handle(static_cast<CURLM*>(multi_), e);
  curl_slist_free_all(p->headers);
  p->headers = nullptr;
  idle_easy_.push_back(e);
  p->easy = nullptr;

  HttpResponse& r = p->resp;
  ++r.attempts;
  r.status = code == CURLE_OK ? status : 0;
  if (code != CURLE_OK) {
    r.error = std::string(curl_easy_strerror(static_cast<CURLcode>(code)));
    if (p->errbuf[0]) r.error += std::string(" (") + p->errbuf + ")";
  } else if ((status == 200 || status == 206) && p->req.expected_length && r.body.size() != *p->req.expected_length) {
    r.error = "truncated body: " + std::to_string(r.body.size()) + " of " + std::to_string(*p->req.expected_length) +
              " bytes";
  } else if (status == 200 && p->req.verify_md5_etag) {
    std::string etag = r.header("etag");
    if (etag.size() == 34 && etag.front() == '"' && etag.find('-') == std::string::npos &&
        md5_hex(r.body) != etag.substr(1, 32))
      r.error = "body does not match its ETag (corrupted in transit)";
  }
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_.bytes_in += r.body.size();
  }
  bool connect_failure = false;
  bool again = retryable(r, connect_failure);
  if (connect_failure) ++p->connect_failures;
  int limit = connect_failure ? opt_.max_connect_attempts : opt_.max_attempts;
  if (again && r.attempts < limit && !stop_) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    double backoff =
        std::min<double>(static_cast<double>(opt_.backoff_max_ms),
                         static_cast<double>(opt_.backoff_base_ms) * double(1 << std::min(r.attempts, 16)));
    if (r.status == 503 || r.status == 429) backoff = std::min<double>(opt_.backoff_max_ms, backoff * 2);
    double jittered = backoff * std::uniform_real_distribution<double>(0.5, 1.0)(rng);
    {
      std::lock_guard<std::mutex> lock(stats_mu_);
      ++stats_.retries;
    }
    int attempts = r.attempts;
    p->resp = HttpResponse{};
    p->resp.attempts = attempts;
    retry_at_.emplace_back(now_ms() + static_cast<int64_t>(jittered), std::move(p));
    return;
  }
  try {
    p->done(std::move(r));
  } catch (...) {
    // callbacks must not throw; nothing to give the error to
  }
}

void HttpClient::run() {
  CURLM* multi = static_cast<CURLM*>(multi_);
  while (true) {
    std::vector<std::unique_ptr<Pending>> to_start;
    bool stopping;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping = stop_;
      int64_t now = now_ms();
      for (auto it = retry_at_.begin(); it != retry_at_.end();) {
        if (it->first <= now || stopping) {
          to_start.push_back(std::move(it->second));
          it = retry_at_.erase(it);
        } else {
          ++it;
        }
      }
      while (!queue_.empty() && active_.size() + to_start.size() < opt_.max_in_flight) {
        to_start.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (stopping)
        while (!queue_.empty()) {
          to_start.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
    }
    if (stopping) {
      std::vector<std::unique_ptr<Pending>> all = std::move(to_start);
      for (auto& p : active_) {
        curl_multi_remove_handle(multi, static_cast<CURL*>(p->easy));
        curl_easy_cleanup(static_cast<CURL*>(p->easy));
        curl_slist_free_all(p->headers);
        all.push_back(std::move(p));
      }
      active_.clear();
      for (auto& p : all) {
        p->resp.error = "cancelled: the HTTP client shut down";
        try {
          p->done(std::move(p->resp));
        } catch (...) {
        }
      }
      return;
    }
    for (auto& p : to_start) start(std::move(p));
    int running = 0;
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Pending* p = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &p);
      finish(p, msg->data.result);
    }
    int64_t wait = 100;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!queue_.empty() && active_.size() < opt_.max_in_flight) wait = 0;
      int64_t now = now_ms();
      for (const auto& [due, p] : retry_at_) wait = std::min<int64_t>(wait, std::max<int64_t>(0, due - now));
    }
    if (wait > 0) curl_multi_poll(multi, nullptr, 0, static_cast<int>(wait), nullptr);
  }
}

}  // namespace chute::remote
