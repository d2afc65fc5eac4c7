#pragma once
// An HTTP/1.1 client on libcurl's multi interface: one I/O thread drives every request in
// flight, connections are kept alive and reused, at most `max_in_flight` requests run at once
// (the rest wait in a queue), and failed attempts are retried with exponential backoff and
// jitter (timeouts, resets, truncated bodies, 5xx, 429 and S3's SlowDown) without blocking any
// thread. Requests are built by a factory called for each attempt, so each is signed afresh.
// Thread-safety: submit() and send() may be called from any thread. Callbacks run on the I/O
// thread: they must be short and must not throw (an exception there is caught and dropped).
// The destructor fails what is still queued and joins the thread; a forked child never touches
// the parent's thread (its client is abandoned, see ~HttpClient).
#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace chute::remote {

struct HttpRequest {
  std::string method = "GET";  // GET, HEAD, PUT, POST, DELETE
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  /// The body, in parts sent one after the other; their owner must outlive every attempt.
  std::vector<std::string_view> body;
  /// A range GET: the body must be exactly this long, else the attempt failed (truncated).
  std::optional<uint64_t> expected_length;
  /// Checks a whole GET's body against a hex MD5 ETag (single-part uploads only).
  bool verify_md5_etag = false;
};

struct HttpResponse {
  long status = 0;    // 0 when no response came (transport error)
  std::string error;  // transport error, or why a body was refused; empty on success
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
  int attempts = 0;
  /// The header's value, or "" when it is absent.
  std::string header(std::string_view name) const;
  bool ok() const { return error.empty() && status >= 200 && status < 300; }
};

struct HttpOptions {
  size_t max_in_flight = 32;
  long connect_timeout_ms = 3000;
  long low_speed_time_s = 20;    // abort an attempt that moves < 1 KB/s for this long
  int max_attempts = 6;          // every retryable failure
  int max_connect_attempts = 2;  // connection refused or connect timeout: fail fast
  long backoff_base_ms = 50;
  long backoff_max_ms = 3000;
};

struct HttpStats {
  uint64_t requests = 0;  // attempts sent
  uint64_t retries = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t gets = 0;
};

class HttpClient {
 public:
  using Factory = std::function<HttpRequest()>;
  using Callback = std::function<void(HttpResponse)>;

  explicit HttpClient(HttpOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// Queues a request; `done` gets the final response (after retries) on the I/O thread.
  void submit(Factory make, Callback done);
  /// Sends and waits for the final response.
  HttpResponse send(Factory make);
  HttpStats stats() const;
  void reset_stats();

  /// True for a response worth another attempt (transport errors, truncated bodies, 5xx, 429).
  static bool retryable(const HttpResponse& r, bool& connect_failure);

 private:
  struct Pending;
  void run();
  void start(std::unique_ptr<Pending> p);
  void finish(Pending* p, int curl_code);

  HttpOptions opt_;
  void* multi_ = nullptr;  // CURLM*
  std::mutex mu_;
  std::deque<std::unique_ptr<Pending>> queue_;                          // not started yet
  std::vector<std::pair<int64_t, std::unique_ptr<Pending>>> retry_at_;  // due time (ms), request
  std::vector<std::unique_ptr<Pending>> active_;
  std::vector<void*> idle_easy_;  // CURL* handles kept for reuse
  std::atomic<bool> stop_{false};
  std::thread thread_;
  pid_t pid_;
  mutable std::mutex stats_mu_;
  HttpStats stats_;
};

}  // namespace chute::remote
