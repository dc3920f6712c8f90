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

namespace {

// The comma-separated items of text, each parsed by `one`; an empty text is an error.
template <typename T, typename F>
std::vector<T> parse_list(const std::string& what, const std::string& text, const char* kind,
                          F one) {
  if (text.empty()) fail(what, ": expected a comma-separated list of ", kind, ", got ''");
  std::vector<T> out;
  size_t start = 0;
  for (;;) {
    size_t comma = text.find(',', start);
    std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    out.push_back(one(item));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

std::vector<int64_t> parse_int_list(const std::string& what, const std::string& text, int64_t lo,
                                    int64_t hi) {
  return parse_list<int64_t>(what, text, "integers", [&](const std::string& item) {
    return parse_int(what, item, lo, hi);
  });
}

std::vector<double> parse_float_list(const std::string& what, const std::string& text, double lo,
                                     double hi) {
  return parse_list<double>(what, text, "numbers", [&](const std::string& item) {
    return parse_float(what, item, lo, hi);
  });
}

}  // namespace lc
