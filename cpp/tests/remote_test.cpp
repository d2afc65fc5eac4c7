// Object storage pieces that need no server: Signature V4 (against values botocore computes for
// the same requests; the first is also AWS's documented "GET Bucket" example), URL parsing, the
// on-disk chunk cache, and the single-flight background loads of the chunk cache.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "chute/core/error.h"
#include "chute/remote/disk_cache.h"
#include "chute/remote/s3_storage.h"
#include "chute/remote/sigv4.h"
#include "chute/storage/chunk_cache.h"

using namespace chute;
using namespace chute::remote;

namespace {

std::string signature_of(const std::vector<std::string>& headers) {
  for (const auto& h : headers) {
    auto at = h.find("Signature=");
    if (at != std::string::npos) return h.substr(at + 10);
  }
  return {};
}

Credentials example_creds(std::string token = {}) {
  return {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", std::move(token)};
}

}  // namespace

TEST(SigV4, MatchesAwsDocumentedListObjectsExample) {
  SignInput in{"GET",
               "examplebucket.s3.amazonaws.com",
               "/",
               {{"max-keys", "2"}, {"prefix", "J"}},
               sha256_hex({}),
               "us-east-1",
               "20130524T000000Z"};
  auto headers = sign_v4(in, example_creds());
  EXPECT_EQ(signature_of(headers), "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
  EXPECT_EQ(headers[0], "x-amz-date: 20130524T000000Z");
}

TEST(SigV4, EncodesKeysAndSignsTheSessionToken) {
  SignInput in{"GET",
               "examplebucket.s3.amazonaws.com",
               "/" + uri_encode("photos/a b+c.jpg", true),
               {},
               sha256_hex({}),
               "us-east-1",
               "20130524T000000Z"};
  auto headers = sign_v4(in, example_creds("TOKEN123"));
  EXPECT_EQ(signature_of(headers), "790f95d8928966dfb5adf9b3070256e0d3bbab262d5317e14273586760f4938b");
  bool token = false;
  for (const auto& h : headers) token = token || h == "x-amz-security-token: TOKEN123";
  EXPECT_TRUE(token);
}

TEST(SigV4, PathStyleWithAPortAndAnEncodedQuery) {
  SignInput in{"GET",
               "127.0.0.1:9000",
               "/bkt/ds/x",
               {{"list-type", "2"}, {"prefix", "ds/a b/"}, {"delimiter", "/"}},
               sha256_hex({}),
               "us-east-1",
               "20130524T000000Z"};
  EXPECT_EQ(signature_of(sign_v4(in, example_creds())),
            "f835867c4375c7242ae2b2ffc9dba8d39b3f906db8e6893ca342b39048879094");
  EXPECT_TRUE(sign_v4(in, Credentials{}).empty());  // anonymous: nothing signed
}

TEST(SigV4, UriEncoding) {
  EXPECT_EQ(uri_encode("a b/c+d~e_f.g-h", true), "a%20b/c%2Bd~e_f.g-h");
  EXPECT_EQ(uri_encode("a/b", false), "a%2Fb");
  EXPECT_EQ(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
}

TEST(S3Url, ParsesAndRefuses) {
  auto u = parse_s3_url("s3://my-bucket/some/prefix/");
  EXPECT_EQ(u.bucket, "my-bucket");
  EXPECT_EQ(u.prefix, "some/prefix");
  EXPECT_EQ(parse_s3_url("s3://bucket").prefix, "");
  EXPECT_THROW(parse_s3_url("s3://Bad_Bucket/x"), InvalidArgument);
  EXPECT_THROW(parse_s3_url("s3://bucket//x"), InvalidArgument);
  EXPECT_THROW(parse_s3_url("/local/path"), InvalidArgument);
  S3Options o;
  o.endpoint_url = "ftp://host";
  EXPECT_THROW(S3Storage("s3://bucket/x", o), InvalidArgument);
  o.endpoint_url = "http://user:secret@host";
  EXPECT_THROW(S3Storage("s3://bucket/x", o), InvalidArgument);
}

TEST(DiskCache, BoundsItsBytesAndReloadsItsFolder) {
  auto dir = std::filesystem::temp_directory_path() / ("chute_disk_cache_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  {
    DiskCache cache(dir, 2500);
    cache.put("t/chunks/a", std::string(1000, 'a'));
    cache.put("t/chunks/b", std::string(1000, 'b'));
    ASSERT_TRUE(cache.get("t/chunks/a"));  // a is now the most recent
    cache.put("t/chunks/c", std::string(1000, 'c'));
    EXPECT_FALSE(cache.get("t/chunks/b"));  // b was the least recently used
    EXPECT_EQ(*cache.get("t/chunks/c"), std::string(1000, 'c'));
    std::string part;
    EXPECT_TRUE(cache.get_range("t/chunks/a", 10, 5, part));
    EXPECT_EQ(part, "aaaaa");
    EXPECT_LE(cache.size_bytes(), 2500u);
    cache.put("t/chunks/huge", std::string(5000, 'h'));  // larger than the bound: not kept
    EXPECT_FALSE(cache.get("t/chunks/huge"));
  }
  DiskCache again(dir, 1500);  // a smaller bound on the same folder trims it at once
  EXPECT_LE(again.size_bytes(), 1500u);
  int kept = 0;
  for (const char* k : {"t/chunks/a", "t/chunks/c"}) kept += again.get(k).has_value();
  EXPECT_EQ(kept, 1);
  std::filesystem::remove_all(dir);
}

TEST(ChunkCache, BackgroundLoadsAreSingleFlightAndSurviveTheCache) {
  auto cache = std::make_shared<ChunkCache>(size_t(1) << 20);
  ChunkCache::Complete finish;
  int started = 0;
  auto start = [&](ChunkCache::Complete done) {
    ++started;
    finish = std::move(done);
  };
  EXPECT_TRUE(cache->load_async("k", start));
  EXPECT_FALSE(cache->load_async("k", start));  // already on its way
  int loads = 0;
  std::thread reader([&] {
    auto c = cache->get_or_load("k", [&] {
      ++loads;
      return Chunk();
    });
    EXPECT_NE(c, nullptr);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  Chunk c;
  c.append(std::string(10, 'x'), {10});
  finish(std::make_shared<const Chunk>(std::move(c)), nullptr);
  reader.join();
  EXPECT_EQ(started, 1);
  EXPECT_EQ(loads, 0);  // the reader waited for the background load instead of loading again
  // a completion that runs after the cache is gone does nothing
  EXPECT_TRUE(cache->load_async("late", start));
  cache.reset();
  finish(nullptr, std::make_exception_ptr(IoError("cancelled")));
}
