// A strict JSON parser (RFC 8259) for config.json, safetensors headers and tokenizer files,
// built on nlohmann-json's SAX parser: no comments, no trailing commas, no leading zeros, no
// duplicate object keys, no bare control characters or invalid UTF-8 in strings, \u escapes
// (surrogate pairs joined) decoded to UTF-8, nesting depth at most 128, the whole input consumed
// (a leading UTF-8 byte order mark is skipped). Errors name `name` and the byte offset.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lc {

class Json {
 public:
  enum class Type : uint8_t { Null, Bool, Number, String, Array, Object };

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_number() const { return type_ == Type::Number; }
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }
  // An integer literal (no fraction or exponent) that fits int64.
  bool is_int() const { return type_ == Type::Number && is_int_; }

  bool boolean() const { return bool_; }
  double number() const { return number_; }
  int64_t integer() const { return int_; }
  const std::string& str() const { return str_; }
  const std::vector<Json>& items() const { return items_; }
  const std::vector<std::pair<std::string, Json>>& members() const { return members_; }
  // Object member or nullptr (linear search; objects here are small or iterated).
  const Json* find(std::string_view key) const;

  static const char* type_name(Type t);

 private:
  friend class JsonParser;
  Type type_ = Type::Null;
  bool bool_ = false;
  bool is_int_ = false;
  double number_ = 0.0;
  int64_t int_ = 0;
  std::string str_;
  std::vector<Json> items_;
  std::vector<std::pair<std::string, Json>> members_;
};

// Throws lc::Error "NAME: invalid JSON at byte N: what".
Json parse_json(std::string_view text, const std::string& name);

}  // namespace lc
