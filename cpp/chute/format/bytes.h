#pragma once
// Little-endian readers and writers for the Deep Lake 3 binary layouts. A ByteReader throws
// FormatError naming its source when the bytes run out, so a truncated file is an error, never UB.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "chute/core/error.h"

namespace chute::detail {

class ByteReader {
 public:
  ByteReader(std::string_view data, std::string what) : data_(data), what_(std::move(what)) {}

  template <typename T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string_view take(size_t n) {
    need(n);
    auto out = data_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  size_t pos() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }
  const std::string& what() const { return what_; }

 private:
  void need(size_t n) const {
    if (data_.size() - pos_ < n)
      throw FormatError(what_ + ": truncated (needed " + std::to_string(n) + " more bytes at offset " +
                        std::to_string(pos_) + " of " + std::to_string(data_.size()) + ")");
  }
  std::string_view data_;
  std::string what_;
  size_t pos_ = 0;
};

template <typename T>
void put(std::string& out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out.append(buf, sizeof(T));
}

inline void put_version(std::string& out, std::string_view version) {
  out.push_back(static_cast<char>(version.size()));
  out.append(version);
}

}  // namespace chute::detail
