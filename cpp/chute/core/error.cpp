#include "chute/core/error.h"

namespace chute::detail {

void fail_check(const char* file, int line, const char* cond, const std::string& msg) {
  std::string where = file;
  auto slash = where.rfind("chute/");
  if (slash != std::string::npos) where = where.substr(slash);
  throw InvalidArgument(msg + " [" + where + ":" + std::to_string(line) + ": " + cond + "]");
}

}  // namespace chute::detail
