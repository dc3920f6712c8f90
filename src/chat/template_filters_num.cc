// jinja2's number filters: int, float, abs, round (jinja2/filters.py), with Python's own
// int(), float() and round() rules.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "chat/template_builtins.h"
#include "chat/template_eval.h"

namespace lc::jinja {
namespace {

using Args = std::vector<std::optional<Value>>;

// Python's int(str, base): optional sign, underscores between digits, a 0x/0o/0b prefix when it
// matches the base. False when s is not such a literal.
bool parse_py_int(std::string s, int base, int64_t& out) {
  s = py_strip(s, std::nullopt, true, true);
  std::string digits;
  size_t i = 0;
  const bool neg = !s.empty() && s[0] == '-';
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) ++i;
  if (s.size() > i + 1 && s[i] == '0') {
    const char p = static_cast<char>(s[i + 1] | 0x20);
    if ((p == 'x' && base == 16) || (p == 'o' && base == 8) || (p == 'b' && base == 2)) i += 2;
  }
  for (; i < s.size(); ++i) {
    if (s[i] == '_' && !digits.empty() && i + 1 < s.size() && s[i + 1] != '_') continue;
    digits += s[i];
  }
  if (digits.empty() || base < 2 || base > 36) return false;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(digits.c_str(), &end, base);
  if (*end != '\0' || errno == ERANGE || digits[0] == '-' || digits[0] == '+') return false;
  out = neg ? -v : v;
  return true;
}

// Python's float(str): decimal or "inf"/"nan" with optional sign and surrounding whitespace.
bool parse_py_float(const std::string& text, double& out) {
  std::string s = py_strip(text, std::nullopt, true, true);
  if (s.empty() || s.find_first_of("xXpP") != std::string::npos) return false;  // no hex floats
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return *end == '\0';
}

Value f_int(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  const Args p = bind_args(ev, a, "int", {"default", "base"}, line);
  if (x.is_undefined()) ev.error(line, x.undefined_hint());  // int(Undefined) raises
  const Value def = p[0] ? *p[0] : Value::integer(0);
  const int base = p[1] && p[1]->is_int() ? static_cast<int>(p[1]->as_int()) : 10;
  if (x.is_int()) return Value::integer(x.as_int());
  double f = 0;
  if (x.is_string()) {
    int64_t i = 0;
    if (parse_py_int(x.str(), base, i)) return Value::integer(i);
    if (!parse_py_float(x.str(), f)) return def;
  } else if (x.kind() == Kind::Float) {
    f = x.as_double();
  } else {
    return def;
  }
  if (!std::isfinite(f) || std::fabs(f) >= 9.2e18) return def;
  return Value::integer(static_cast<int64_t>(f));
}

Value f_float(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  const Args p = bind_args(ev, a, "float", {"default"}, line);
  if (x.is_undefined()) ev.error(line, x.undefined_hint());
  double f = 0;
  if (x.is_number()) return Value::number(x.as_double());
  if (x.is_string() && parse_py_float(x.str(), f)) return Value::number(f);
  return p[0] ? *p[0] : Value::number(0.0);
}

Value f_abs(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  bind_args(ev, a, "abs", {}, line);
  if (x.kind() == Kind::Float) return Value::number(std::fabs(x.as_double()));
  if (!x.is_int())
    ev.error(line, std::string("bad operand type for abs(): '") + type_name(x) + "'");
  if (x.as_int() == INT64_MIN) ev.error(line, "integer overflow");
  return Value::integer(std::llabs(x.as_int()));
}

// Python's round(x, n): correctly rounded, ties to even (glibc's printf rounds the same way).
Value f_round(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  const Args p = bind_args(ev, a, "round", {"precision", "method"}, line);
  const int64_t prec = p[0] && p[0]->is_int() ? p[0]->as_int() : 0;
  const std::string method = p[1] ? to_str(*p[1]) : "common";
  if (!x.is_number()) ev.error(line, std::string("round: a number is needed, got ") + type_name(x));
  if (method != "common" && method != "ceil" && method != "floor")
    ev.error(line, "method must be common, ceil or floor");
  if (method == "common" && x.is_int()) return Value::integer(x.as_int());
  const double v = x.as_double();
  if (method != "common") {
    const double scale = std::pow(10.0, static_cast<double>(prec));
    return Value::number((method == "ceil" ? std::ceil(v * scale) : std::floor(v * scale)) / scale);
  }
  if (!std::isfinite(v) || prec > 330) return Value::number(v);
  if (prec <= 0) {
    const double scale = std::pow(10.0, static_cast<double>(-prec));
    return Value::number(std::nearbyint(v / scale) * scale);
  }
  char buf[400];
  std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(prec), v);
  return Value::number(std::strtod(buf, nullptr));
}

}  // namespace

FilterFn find_number_filter(std::string_view name) {
  static const std::pair<std::string_view, FilterFn> kFilters[] = {
      {"int", f_int}, {"float", f_float}, {"abs", f_abs}, {"round", f_round}};
  for (const auto& f : kFilters)
    if (f.first == name) return f.second;
  return nullptr;
}

}  // namespace lc::jinja
