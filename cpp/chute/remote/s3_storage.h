#pragma once
// A dataset under an S3 prefix ("s3://bucket/prefix"), on Amazon S3 or any S3-compatible server
// (endpoint_url): Signature V4, path-style or virtual-hosted addressing, byte-range GETs,
// multipart uploads above a threshold, retries with backoff (HttpClient). Keys map to objects
// "<prefix>/<key>"; folders are key prefixes. A PUT replaces an object in one step, so every
// write is durable when it returns; rename is a server-side copy then a delete.
// Thread-safety: as Storage. A forked child makes its own HTTP client on first use.
#include <sys/types.h>

#include <memory>
#include <mutex>
#include <string>

#include "chute/remote/disk_cache.h"
#include "chute/remote/http_client.h"
#include "chute/remote/sigv4.h"
#include "chute/storage/storage.h"

namespace chute::remote {

struct S3Options {
  Credentials creds;
  std::string region;               // empty: us-east-1
  std::string endpoint_url;         // empty: https://s3.<region>.amazonaws.com
  std::string addressing = "auto";  // "path", "virtual", or "auto" (path-style with an endpoint_url)
  // Requests at once. Eight 8 MB chunk GETs keep a link busy through 100 ms of latency; more only
  // split the bandwidth, so the chunk the loader needs next arrives later.
  size_t max_in_flight = 8;
  uint64_t multipart_threshold = uint64_t(64) << 20;
  uint64_t multipart_part_size = uint64_t(16) << 20;
  HttpOptions http;
  std::string cache_dir;     // a local folder for this dataset's chunk files (with cache_bytes > 0)
  uint64_t cache_bytes = 0;  // bound of that folder (LRU); 0: no disk cache
};

/// Credentials, region and endpoint from the AWS_* environment variables (AWS_ACCESS_KEY_ID,
/// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION or AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_S3
/// or AWS_ENDPOINT_URL), for C++ programs (chute-bench); Python also reads ~/.aws profiles.
S3Options s3_options_from_environment();

struct S3Url {
  std::string bucket;
  std::string prefix;  // no leading or trailing '/'
};
/// Splits "s3://bucket/some/prefix"; InvalidArgument naming the URL when it is not one.
S3Url parse_s3_url(const std::string& url);
bool is_s3_url(const std::string& path);

class S3Storage final : public Storage {
 public:
  S3Storage(const std::string& url, S3Options options);

  std::string url() const override { return url_; }
  bool is_remote() const override { return true; }
  const S3Url& location() const { return loc_; }

  bool exists(std::string_view key) const override;
  std::string read(std::string_view key) const override;
  void read_range_into(std::string_view key, uint64_t offset, uint64_t length, std::string& out) const override;
  std::string read_prefix(std::string_view key, uint64_t max_bytes, uint64_t& file_size) const override;
  std::optional<uint64_t> size_of(std::string_view key) const override;
  void read_async(std::string_view key, ReadDone done) const override;
  void write_durable(std::string_view key, std::string_view data) const override;
  void write(std::string_view key, std::string_view data) const override;
  void write(std::string_view key, std::string_view head, std::string_view body) const override;
  void sync(std::string_view) const override {}
  void sync_folder(std::string_view) const override {}
  void rename(std::string_view from_key, std::string_view to_key) const override;
  /// Always true: an object store does not say whether a deleted object was there.
  bool remove(std::string_view key) const override;
  void remove_all(std::string_view key) const override;
  std::vector<std::string> list(std::string_view folder_key) const override;
  void make_dirs(std::string_view) const override {}

  /// The bucket answers (HEAD bucket): IoError naming it when it is missing, the credentials are
  /// refused or the endpoint cannot be reached.
  void check_bucket() const;
  HttpStats stats() const;
  void reset_stats() const;
  /// Reads the disk cache served (0 without one).
  uint64_t cache_hits() const { return disk_ ? disk_->hits() : 0; }

 private:
  struct Target {
    std::string url, host, canonical_path;
  };
  Target target(const std::string& object) const;
  std::string object_of(std::string_view key) const;
  std::string shown(std::string_view key) const;  // s3://bucket/prefix/key
  HttpClient::Factory request(std::string method, const std::string& object,
                              std::vector<std::pair<std::string, std::string>> query = {},
                              std::vector<std::string_view> body = {}, std::vector<std::string> headers = {}) const;
  HttpResponse send(HttpClient::Factory make) const;
  [[noreturn]] void fail(const std::string& what, const HttpResponse& r) const;
  void put(std::string_view key, std::vector<std::string_view> parts) const;
  void put_multipart(std::string_view key, const std::vector<std::string_view>& parts) const;
  std::vector<std::string> list_all(const std::string& object_prefix) const;
  std::shared_ptr<HttpClient> client() const;

  std::string url_;
  S3Url loc_;
  S3Options opt_;
  std::string scheme_, endpoint_host_;  // "http"/"https" and "host[:port]"
  bool path_style_ = true;
  /// The disk cache for `key` (chunk files only), or null.
  DiskCache* disk_for(std::string_view key) const;
  std::shared_ptr<DiskCache> disk_;
  mutable std::mutex client_mu_;
  mutable std::shared_ptr<HttpClient> client_;
  mutable pid_t client_pid_ = 0;
};

}  // namespace chute::remote
