#pragma once
// The storage behind a dataset path: local disk, or an object store for "s3://bucket/prefix".
#include <memory>
#include <string>

#include "chute/remote/s3_storage.h"
#include "chute/storage/storage.h"

namespace chute {

/// InvalidArgument for a scheme chute does not read ("gcs://", "hub://", ...).
std::shared_ptr<Storage> open_storage(const std::string& path, const remote::S3Options& options);
/// True for a path open_storage() serves from an object store.
bool is_remote_path(const std::string& path);

}  // namespace chute
