#include "core/parse.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "core/error.h"

namespace lc {

int64_t parse_int(const std::string& what, const std::string& text, int64_t lo, int64_t hi) {
  const char* s = text.c_str();
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s, &end, 10);
  bool ok = !text.empty() && end == s + text.size() && errno == 0 &&
            !(text[0] == ' ' || text[0] == '\t' || text[0] == '+');
  if (!ok || v < lo || v > hi)
    fail(what, ": expected an integer in [", lo, ", ", hi, "], got '", text, "'");
  return v;
}

double parse_float(const std::string& what, const std::string& text, double lo, double hi) {
  const char* s = text.c_str();
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s, &end);
  bool ok = !text.empty() && end == s + text.size() && errno == 0 && std::isfinite(v) &&
            !(text[0] == ' ' || text[0] == '\t');
  if (!ok || v < lo || v > hi)
    fail(what, ": expected a number in [", lo, ", ", hi, "], got '", text, "'");
  return v;
}

std::vector<int64_t> parse_int_list(const std::string& what, const std::string& text, int64_t lo,
                                    int64_t hi) {
  if (text.empty()) fail(what, ": expected a comma-separated list of integers, got ''");
  std::vector<int64_t> out;
  size_t start = 0;
  for (;;) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos
                                                                     : comma - start);
    out.push_back(parse_int(what, item, lo, hi));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace lc
