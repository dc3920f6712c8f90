// Errors with context. Library code throws lc::Error with a one-line message that names the
// file / tensor / flag and what was expected; only tools/ catches it, prints it and exits.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace lc {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

// Builds a message from any streamable parts: fail("file ", path, ": expected ", n, " bytes").
template <typename... Args>
[[noreturn]] void fail(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  throw Error(os.str());
}

template <typename... Args>
void check(bool cond, Args&&... args) {
  if (!cond) fail(std::forward<Args>(args)...);
}

}  // namespace lc
