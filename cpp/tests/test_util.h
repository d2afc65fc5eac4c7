#pragma once
// Helpers shared by the engine's GoogleTest files.
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>

#include "chute/dataset/dataset.h"

namespace chute::test_util {

/// A fresh path under the temp folder (not created).
inline std::string temp_dir(const std::string& name) {
  auto p =
      std::filesystem::temp_directory_path() / ("chute_test_" + name + "_" + std::to_string(std::random_device{}()));
  std::filesystem::remove_all(p);
  return p.string();
}

/// A tensor spec with the fields the tests set.
inline TensorSpec spec(const std::string& name, const std::string& dtype, const std::string& htype = "generic",
                       int64_t max_chunk_size = 0) {
  TensorSpec s;
  s.name = name;
  s.dtype = dtype;
  s.htype = htype;
  s.max_chunk_size = max_chunk_size;
  return s;
}

}  // namespace chute::test_util
