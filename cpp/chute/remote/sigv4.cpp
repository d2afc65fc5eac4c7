#include "chute/remote/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <ctime>
#include <memory>

#include "chute/core/error.h"

namespace chute::remote {
namespace {

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

std::string digest(const EVP_MD* md, const std::vector<std::string_view>& parts) {
  MdCtx ctx(EVP_MD_CTX_new());
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) throw Error("OpenSSL digest init failed");
  for (auto p : parts)
    if (!p.empty() && EVP_DigestUpdate(ctx.get(), p.data(), p.size()) != 1) throw Error("OpenSSL digest failed");
  if (EVP_DigestFinal_ex(ctx.get(), out, &n) != 1) throw Error("OpenSSL digest failed");
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string hex(std::string_view bytes) {
  static const char* k = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += k[c >> 4];
    out += k[c & 15];
  }
  return out;
}

std::string hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
            data.size(), out, &n))
    throw Error("OpenSSL HMAC failed");
  return std::string(reinterpret_cast<char*>(out), n);
}

}  // namespace

std::string sha256_hex(const std::vector<std::string_view>& parts) { return hex(digest(EVP_sha256(), parts)); }

std::string md5_hex(std::string_view data) { return hex(digest(EVP_md5(), {data})); }

std::string md5_base64(const std::vector<std::string_view>& parts) {
  std::string raw = digest(EVP_md5(), parts);
  unsigned char out[64];
  int n = EVP_EncodeBlock(out, reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()));
  return std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n));
}

std::string uri_encode(std::string_view s, bool keep_slash) {
  static const char* k = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.' || c == '~' || (keep_slash && c == '/');
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += k[c >> 4];
      out += k[c & 15];
    }
  }
  return out;
}

std::string amz_date_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::vector<std::string> sign_v4(const SignInput& in, const Credentials& creds) {
  if (creds.anonymous()) return {};
  std::vector<std::pair<std::string, std::string>> headers = {
      {"host", in.host}, {"x-amz-content-sha256", in.payload_sha256}, {"x-amz-date", in.amz_date}};
  if (!creds.session_token.empty()) headers.emplace_back("x-amz-security-token", creds.session_token);
  std::sort(headers.begin(), headers.end());

  std::vector<std::pair<std::string, std::string>> query;
  for (const auto& [k, v] : in.query) query.emplace_back(uri_encode(k, false), uri_encode(v, false));
  std::sort(query.begin(), query.end());
  std::string canonical_query;
  for (const auto& [k, v] : query) canonical_query += (canonical_query.empty() ? "" : "&") + k + "=" + v;

  std::string canonical_headers, signed_headers;
  for (const auto& [k, v] : headers) {
    canonical_headers += k + ":" + v + "\n";
    signed_headers += (signed_headers.empty() ? "" : ";") + k;
  }
  std::string canonical_request = in.method + "\n" + in.canonical_path + "\n" + canonical_query + "\n" +
                                  canonical_headers + "\n" + signed_headers + "\n" + in.payload_sha256;
  std::string date = in.amz_date.substr(0, 8);
  std::string scope = date + "/" + in.region + "/s3/aws4_request";
  std::string to_sign = "AWS4-HMAC-SHA256\n" + in.amz_date + "\n" + scope + "\n" + sha256_hex({canonical_request});
  std::string key = hmac("AWS4" + creds.secret_key, date);
  key = hmac(key, in.region);
  key = hmac(key, "s3");
  key = hmac(key, "aws4_request");
  std::string signature = hex(hmac(key, to_sign));

  std::vector<std::string> out = {"x-amz-date: " + in.amz_date, "x-amz-content-sha256: " + in.payload_sha256};
  if (!creds.session_token.empty()) out.push_back("x-amz-security-token: " + creds.session_token);
  out.push_back("Authorization: AWS4-HMAC-SHA256 Credential=" + creds.access_key + "/" + scope +
                ", SignedHeaders=" + signed_headers + ", Signature=" + signature);
  return out;
}

}  // namespace chute::remote
