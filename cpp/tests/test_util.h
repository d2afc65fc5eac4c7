#pragma once
// Helpers shared by the engine's GoogleTest files.
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>

#include <turbojpeg.h>

#include <vector>

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

/// An h x w JPEG in CMYK (TurboJPEG writes it as YCCK with an Adobe marker, inverted) with every
/// pixel C=200 M=100 Y=50 K=220; empty when TurboJPEG fails.
inline std::string cmyk_jpeg(uint32_t h, uint32_t w) {
  std::vector<uint8_t> cmyk(size_t{h} * w * 4);
  for (size_t p = 0; p < size_t{h} * w; ++p) {
    cmyk[4 * p + 0] = 200;
    cmyk[4 * p + 1] = 100;
    cmyk[4 * p + 2] = 50;
    cmyk[4 * p + 3] = 220;
  }
  tjhandle tj = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  int rc = tjCompress2(tj, cmyk.data(), static_cast<int>(w), 0, static_cast<int>(h), TJPF_CMYK, &buf, &size, TJSAMP_444,
                       100, 0);
  std::string jpg = rc == 0 ? std::string(reinterpret_cast<char*>(buf), size) : std::string();
  tjFree(buf);
  tjDestroy(tj);
  return jpg;
}

}  // namespace chute::test_util
