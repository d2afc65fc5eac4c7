#include "chute/remote/open_storage.h"

#include "chute/core/error.h"
#include "chute/storage/local_storage.h"

namespace chute {

bool is_remote_path(const std::string& path) { return remote::is_s3_url(path); }

std::shared_ptr<Storage> open_storage(const std::string& path, const remote::S3Options& options) {
  if (remote::is_s3_url(path)) return std::make_shared<remote::S3Storage>(path, options);
  auto sep = path.find("://");
  if (sep != std::string::npos && path.find('/') > sep)
    throw InvalidArgument("'" + path + "': only local paths and s3:// URLs are supported (not " + path.substr(0, sep) +
                          "://; GCS, R2 and MinIO are read through their S3 interface with creds['endpoint_url'])");
  return std::make_shared<LocalStorage>(path);
}

}  // namespace chute
