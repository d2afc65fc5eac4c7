#pragma once
// AWS Signature Version 4 for S3 requests, on OpenSSL's SHA-256 and HMAC.
// Thread-safety: pure functions.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chute::remote {

struct Credentials {
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // temporary credentials only
  bool anonymous() const { return access_key.empty(); }
};

/// Lower-case hex SHA-256 of the concatenated parts.
std::string sha256_hex(const std::vector<std::string_view>& parts);
/// Base64 of the MD5 of the concatenated parts (Content-MD5), and the lower-case hex form.
std::string md5_base64(const std::vector<std::string_view>& parts);
std::string md5_hex(std::string_view data);
/// Percent-encoding of RFC 3986 (unreserved characters kept); '/' kept when `keep_slash`.
std::string uri_encode(std::string_view s, bool keep_slash);

struct SignInput {
  std::string method;
  std::string host;            // as sent in the Host header (with ":port" when not the default)
  std::string canonical_path;  // already encoded ("/bucket/a/b")
  std::vector<std::pair<std::string, std::string>> query;  // raw (unencoded) names and values
  std::string payload_sha256;                              // hex, or "UNSIGNED-PAYLOAD"
  std::string region;
  std::string amz_date;  // "20261203T071500Z"
};

/// The headers to send (x-amz-date, x-amz-content-sha256, x-amz-security-token when there is one,
/// Authorization), as "Name: value" lines. No headers at all for anonymous credentials.
std::vector<std::string> sign_v4(const SignInput& in, const Credentials& creds);
/// The current UTC time as SigV4 writes it.
std::string amz_date_now();

}  // namespace chute::remote
