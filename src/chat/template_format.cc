// Python's printf-style string formatting (fmt % args, and jinja2's format filter):
// %[(key)][flags][width][.precision]type with the types s r d i u f F e E g G x X o c %.
#include <cmath>
#include <cstdio>

#include "chat/template_builtins.h"

namespace lc::jinja {
namespace {

// Pads s to `width` code points (left-justified with '-').
std::string pad(std::string s, int64_t width, bool left, char fill = ' ') {
  const auto n = static_cast<int64_t>(code_points(s).size());
  if (width <= n) return s;
  const std::string p(static_cast<size_t>(width - n), fill);
  return left ? s + p : p + s;
}

int64_t to_int(const Value& v, char type) {
  if (v.is_int()) return v.as_int();
  if (v.kind() == Kind::Float && std::isfinite(v.as_double()) && std::fabs(v.as_double()) < 9.2e18)
    return static_cast<int64_t>(v.as_double());
  throw ValueError(std::string("%") + type + " format: a real number is required, not " +
                   type_name(v));
}

std::string number(const Value& v, char type, const std::string& flags, int64_t width,
                   int64_t precision) {
  std::string spec = "%" + flags;
  if (width >= 0) spec += std::to_string(std::min<int64_t>(width, 256));
  if (precision >= 0) spec += "." + std::to_string(std::min<int64_t>(precision, 256));
  char buf[640];
  if (type == 'd' || type == 'i' || type == 'u' || type == 'x' || type == 'X' || type == 'o') {
    if (type == 'i' || type == 'u') type = 'd';
    spec += std::string("ll") + type;
    const int64_t i = to_int(v, type);
    if (type != 'd' && i < 0) {  // Python prints -0x1f, C would print two's complement
      std::snprintf(buf, sizeof buf, spec.c_str(), static_cast<long long>(-i));
      return "-" + std::string(buf);
    }
    std::snprintf(buf, sizeof buf, spec.c_str(), static_cast<long long>(i));
    return buf;
  }
  if (!v.is_number())
    throw ValueError(std::string("%") + type + " format: a real number is required, not " +
                     type_name(v));
  const double f = v.as_double();
  if (!std::isfinite(f))  // Python: inf, nan (no sign for nan), padded like strings
    return pad(std::isnan(f) ? "nan"
               : f > 0       ? "inf"
                             : "-inf",
               width, flags.find('-') != std::string::npos);
  spec += type;
  std::snprintf(buf, sizeof buf, spec.c_str(), f);
  return buf;
}

}  // namespace

std::string py_percent_format(const std::string& fmt, const Value& args) {
  const bool mapping = args.kind() == Kind::Dict;
  // CPython skips the "not all arguments converted" check for anything subscriptable that is
  // not a tuple or a string (PyMapping_Check): a dict, and also a list.
  const bool lenient = mapping || args.kind() == Kind::List;
  std::vector<Value> positional;
  if (args.kind() == Kind::Tuple)
    positional = args.items();
  else if (!mapping)
    positional.push_back(args);
  size_t next = 0;
  bool used_mapping = false;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    if (++i >= fmt.size()) throw ValueError("incomplete format");
    const Value* arg = nullptr;
    if (fmt[i] == '(') {
      const size_t close = fmt.find(')', i);
      if (close == std::string::npos) throw ValueError("incomplete format key");
      if (!mapping) throw ValueError("format requires a mapping");
      arg = args.dict().find(std::string_view(fmt).substr(i + 1, close - i - 1));
      if (!arg) throw ValueError("format key " + fmt.substr(i + 1, close - i - 1) + " not found");
      used_mapping = true;
      i = close + 1;
    }
    std::string flags;
    while (i < fmt.size() && std::string_view("-+ #0").find(fmt[i]) != std::string_view::npos)
      flags += fmt[i++];
    int64_t width = -1, precision = -1;
    while (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9')
      width = std::min<int64_t>(std::max<int64_t>(width, 0) * 10 + (fmt[i++] - '0'), 100000);
    if (i < fmt.size() && fmt[i] == '.') {
      precision = 0;
      while (++i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9')
        precision = std::min<int64_t>(precision * 10 + (fmt[i] - '0'), 100000);
    }
    if (i >= fmt.size()) throw ValueError("incomplete format");
    const char type = fmt[i];
    if (type == '%') {
      out += '%';
      continue;
    }
    if (!arg) {
      if (mapping) throw ValueError("format requires a mapping key, as in %(name)s");
      if (next >= positional.size()) throw ValueError("not enough arguments for format string");
      arg = &positional[next++];
    }
    const bool left = flags.find('-') != std::string::npos;
    if (type == 's' || type == 'r' || type == 'a') {
      std::string s = type == 's' ? to_str(*arg) : repr(*arg);
      if (precision >= 0) {
        const auto offs = code_point_offsets(s);
        if (static_cast<size_t>(precision) + 1 < offs.size())
          s.resize(offs[static_cast<size_t>(precision)]);
      }
      out += pad(std::move(s), width, left);
    } else if (type == 'c') {
      std::string s;
      if (arg->is_string() && code_points(arg->str()).size() == 1)
        s = arg->str();
      else if (arg->is_int() && arg->as_int() >= 0 && arg->as_int() <= 0x10FFFF)
        append_utf8(s, static_cast<uint32_t>(arg->as_int()));
      else
        throw ValueError("%c requires an int or a single character");
      out += pad(std::move(s), width, left);
    } else if (std::string_view("diuxXofFeEgG").find(type) != std::string_view::npos) {
      out += number(*arg, type, flags, width, precision);
    } else {
      throw ValueError(std::string("unsupported format character '") + type + "'");
    }
  }
  if (!lenient && !used_mapping && next < positional.size())
    throw ValueError("not all arguments converted during string formatting");
  return out;
}

}  // namespace lc::jinja
