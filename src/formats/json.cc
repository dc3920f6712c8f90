#include "formats/json.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <unordered_set>

#include "core/error.h"

namespace lc {

const Json* Json::find(std::string_view key) const {
  for (const auto& m : members_)
    if (m.first == key) return &m.second;
  return nullptr;
}

const char* Json::type_name(Type t) {
  switch (t) {
    case Type::Null: return "null";
    case Type::Bool: return "a boolean";
    case Type::Number: return "a number";
    case Type::String: return "a string";
    case Type::Array: return "an array";
    case Type::Object: return "an object";
  }
  return "?";
}

class JsonParser {
 public:
  JsonParser(std::string_view s, const std::string& name) : s_(s), name_(name) {}

  Json parse_document() {
    Json v = value(0);
    skip_ws();
    if (pos_ != s_.size()) error("unexpected trailing characters");
    return v;
  }

 private:
  static constexpr int kMaxDepth = 128;

  [[noreturn]] void error(const char* what) const {
    fail(name_, ": invalid JSON at byte ", pos_, ": ", what);
  }
  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool eat(char c) {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c, const char* what) {
    if (!eat(c)) error(what);
  }
  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Json value(int depth) {
    if (depth > kMaxDepth) error("nesting deeper than 128 levels");
    skip_ws();
    if (pos_ >= s_.size()) error("unexpected end of input, expected a value");
    Json v;
    const char c = s_[pos_];
    if (c == '{') {
      ++pos_;
      v.type_ = Json::Type::Object;
      std::unordered_set<std::string_view> seen;
      if (eat('}')) return v;
      do {
        skip_ws();
        if (pos_ >= s_.size() || s_[pos_] != '"') error("expected a string key");
        std::string key = string();
        expect(':', "expected ':' after an object key");
        Json member = value(depth + 1);
        v.members_.emplace_back(std::move(key), std::move(member));
      } while (eat(','));
      expect('}', "expected ',' or '}' in an object");
      // Keys point into members_, which no longer reallocates.
      for (const auto& m : v.members_)
        if (!seen.insert(m.first).second)
          fail(name_, ": invalid JSON: duplicate object key '", m.first, "'");
      return v;
    }
    if (c == '[') {
      ++pos_;
      v.type_ = Json::Type::Array;
      if (eat(']')) return v;
      do v.items_.push_back(value(depth + 1));
      while (eat(','));
      expect(']', "expected ',' or ']' in an array");
      return v;
    }
    if (c == '"') {
      v.type_ = Json::Type::String;
      v.str_ = string();
      return v;
    }
    if (literal("true")) {
      v.type_ = Json::Type::Bool;
      v.bool_ = true;
      return v;
    }
    if (literal("false")) {
      v.type_ = Json::Type::Bool;
      return v;
    }
    if (literal("null")) return v;
    if (c == '-' || (c >= '0' && c <= '9')) return number();
    error("expected a value");
  }

  Json number() {
    const size_t start = pos_;
    auto digits = [&] {
      const size_t b = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ - b;
    };
    if (s_[pos_] == '-') ++pos_;
    const size_t int_start = pos_;
    const size_t n_int = digits();
    if (n_int == 0) error("expected digits in a number");
    if (n_int > 1 && s_[int_start] == '0') error("leading zero in a number");
    bool is_int = true;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      is_int = false;
      if (digits() == 0) error("expected digits after '.'");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      is_int = false;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (digits() == 0) error("expected digits in an exponent");
    }
    const std::string text(s_.substr(start, pos_ - start));
    Json v;
    v.type_ = Json::Type::Number;
    v.number_ = std::strtod(text.c_str(), nullptr);
    if (!std::isfinite(v.number_)) error("number out of range");
    if (is_int) {
      errno = 0;
      const long long i = std::strtoll(text.c_str(), nullptr, 10);
      if (errno == 0) {
        v.is_int_ = true;
        v.int_ = i;
      }
    }
    return v;
  }

  unsigned hex4() {
    if (s_.size() - pos_ < 4) error("truncated \\u escape");
    unsigned u = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_++];
      u <<= 4;
      if (c >= '0' && c <= '9') u |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') u |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') u |= static_cast<unsigned>(c - 'A' + 10);
      else error("bad hex digit in a \\u escape");
    }
    return u;
  }

  static void put_utf8(std::string* o, unsigned cp) {
    if (cp < 0x80) {
      o->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      o->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      o->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      o->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      o->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      o->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      o->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      o->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      o->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      o->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  std::string string() {
    ++pos_;  // opening quote
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) error("unterminated string");
      const char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) error("control character in a string");
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) error("unterminated escape");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {
            if (!literal("\\u")) error("unpaired high surrogate");
            const unsigned lo = hex4();
            if (lo < 0xDC00 || lo >= 0xE000) error("unpaired high surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            error("unpaired low surrogate");
          }
          put_utf8(&out, cp);
          break;
        }
        default: error("unknown escape");
      }
    }
  }

  std::string_view s_;
  const std::string& name_;
  size_t pos_ = 0;
};

Json parse_json(std::string_view text, const std::string& name) {
  return JsonParser(text, name).parse_document();
}

}  // namespace lc
