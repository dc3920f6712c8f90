// JSON in and out: Python's json.dumps (Lib/json/encoder.py) as transformers' tojson filter
// calls it, and lc::Json -> Value for the template's input.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "chat/template.h"
#include "chat/template_builtins.h"
#include "formats/json.h"

namespace lc::jinja {
namespace {

void dump_string(const std::string& s, bool ensure_ascii, std::string& out) {
  out += '"';
  char buf[16];
  for (uint32_t cp : code_points(s)) {
    switch (cp) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (cp < 0x20 || (ensure_ascii && cp > 0x7E)) {
          if (cp >= 0x10000) {  // a surrogate pair, as Python writes it
            const uint32_t v = cp - 0x10000;
            std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + (v >> 10),
                          0xDC00 + (v & 0x3FF));
          } else {
            std::snprintf(buf, sizeof buf, "\\u%04x", cp);
          }
          out += buf;
        } else {
          append_utf8(out, cp);
        }
    }
  }
  out += '"';
}

std::string float_json(double f) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f > 0 ? "Infinity" : "-Infinity";
  return float_repr(f);
}

// A dict key as json.dumps turns it into a string.
std::string key_string(const Value& k) {
  switch (k.kind()) {
    case Kind::String:
      return k.str();
    case Kind::Int:
      return std::to_string(k.as_int());
    case Kind::Float:
      return float_json(k.as_double());
    case Kind::Bool:
      return k.as_bool() ? "true" : "false";
    case Kind::None:
      return "null";
    default:
      throw ValueError(std::string("keys must be str, int, float, bool or None, not ") +
                       type_name(k));
  }
}

void dump(const Value& v, const JsonOptions& opt, int level, std::string& out) {
  auto newline = [&](int lvl) {
    if (!opt.indent) return;
    out += '\n';
    for (int i = 0; i < lvl; ++i) out += *opt.indent;
  };
  switch (v.kind()) {
    case Kind::None:
      out += "null";
      return;
    case Kind::Bool:
      out += v.as_bool() ? "true" : "false";
      return;
    case Kind::Int:
      out += std::to_string(v.as_int());
      return;
    case Kind::Float:
      out += float_json(v.as_double());
      return;
    case Kind::String:
      dump_string(v.str(), opt.ensure_ascii, out);
      return;
    case Kind::List:
    case Kind::Tuple: {
      if (v.items().empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < v.items().size(); ++i) {
        if (i) out += opt.item_separator;
        newline(level + 1);
        dump(v.items()[i], opt, level + 1, out);
      }
      newline(level);
      out += ']';
      return;
    }
    case Kind::Dict: {
      std::vector<const std::pair<Value, Value>*> items;
      for (const auto& kv : v.dict().items) items.push_back(&kv);
      if (items.empty()) {
        out += "{}";
        return;
      }
      if (opt.sort_keys)
        std::stable_sort(items.begin(), items.end(),
                         [](const auto* a, const auto* b) { return less(a->first, b->first); });
      out += '{';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += opt.item_separator;
        newline(level + 1);
        dump_string(key_string(items[i]->first), opt.ensure_ascii, out);
        out += opt.key_separator;
        dump(items[i]->second, opt, level + 1, out);
      }
      newline(level);
      out += '}';
      return;
    }
    default:
      throw ValueError(std::string("Object of type ") + type_name(v) + " is not JSON serializable");
  }
}

}  // namespace

std::string to_json(const Value& v, const JsonOptions& opt) {
  std::string out;
  dump(v, opt, 0, out);
  return out;
}

Value value_from_json(const Json& j) {
  switch (j.type()) {
    case Json::Type::Null:
      return Value::none();
    case Json::Type::Bool:
      return Value::boolean(j.boolean());
    case Json::Type::Number:
      return j.is_int() ? Value::integer(j.integer()) : Value::number(j.number());
    case Json::Type::String:
      return Value::string(j.str());
    case Json::Type::Array: {
      std::vector<Value> items;
      for (const Json& x : j.items()) items.push_back(value_from_json(x));
      return Value::list(std::move(items));
    }
    case Json::Type::Object: {
      std::vector<std::pair<Value, Value>> items;
      for (const auto& m : j.members())
        items.emplace_back(Value::string(m.first), value_from_json(m.second));
      return Value::dict(std::move(items));
    }
  }
  return Value::none();
}

}  // namespace lc::jinja
