#pragma once
// The engine's error hierarchy. Every failure inside the engine is one of these exceptions;
// the bindings translate each class to a Python exception in one place (cpp/python/module.cpp).
#include <stdexcept>
#include <string>

namespace chute {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A file could not be read, written, renamed or listed.
class IoError : public Error {
 public:
  using Error::Error;
};

/// A file that is not there (ENOENT): a reader may find that a chunk its index named was replaced.
class NotFoundError : public IoError {
 public:
  using IoError::IoError;
};

/// Another process holds the dataset's write lock; `holder_pid` is its pid when it recorded one.
class LockedError : public IoError {
 public:
  LockedError(const std::string& msg, long holder_pid) : IoError(msg), holder_pid_(holder_pid) {}
  long holder_pid() const { return holder_pid_; }

 private:
  long holder_pid_;
};

/// Bytes on disk do not follow the Deep Lake 3 format (corrupt chunk, encoder or meta).
class FormatError : public Error {
 public:
  using Error::Error;
};

/// A compressed sample (JPEG, PNG, LZ4) could not be decoded.
class DecodeError : public Error {
 public:
  using Error::Error;
};

/// The caller passed something the engine cannot accept (wrong dtype, shape, name, mode).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

/// A tensor or group name that cannot be used (empty, leaves the folder, or a name the dataset's
/// own files use).
class InvalidNameError : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
};

/// Memory or threads the engine needed could not be had (an allocation or a thread start failed,
/// or a decoded size is over the engine's cap).
class ResourceError : public Error {
 public:
  using Error::Error;
};

/// A name (tensor, group) that does not exist.
class KeyError : public Error {
 public:
  using Error::Error;
};

/// A TQL query that does not parse or cannot be evaluated; line and column are 1-based (0: unknown).
class QueryError : public Error {
 public:
  QueryError(const std::string& msg, int line = 0, int column = 0) : Error(msg), line_(line), column_(column) {}
  int line() const { return line_; }
  int column() const { return column_; }

 private:
  int line_, column_;
};

/// Version control refused an operation: an address that names no branch or commit (Checkout), a
/// commit with nothing to commit (EmptyCommit), or another misuse (a branch name clash, deleting
/// the checked-out branch, writing at a commit that is not a branch head).
class VersionError : public Error {
 public:
  enum class Kind { Checkout, EmptyCommit, Other };
  VersionError(const std::string& msg, Kind kind = Kind::Other) : Error(msg), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

namespace detail {
[[noreturn]] void fail_check(const char* file, int line, const char* cond, const std::string& msg);
}  // namespace detail

}  // namespace chute

/// Throws chute::InvalidArgument with the message and the engine source location when cond is false.
#define CHUTE_CHECK(cond, msg)                                                  \
  do {                                                                          \
    if (!(cond)) ::chute::detail::fail_check(__FILE__, __LINE__, #cond, (msg)); \
  } while (0)
