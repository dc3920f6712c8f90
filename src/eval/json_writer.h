// A small streaming JSON writer for evaluation results: objects one member per line, arrays of
// numbers on one line (nlohmann-json cannot lay a document out this way; it encodes the strings).
// Non-finite numbers are written as null.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace lc {

// A JSON string literal (nlohmann-json's encoder); invalid UTF-8 becomes U+FFFD.
std::string json_quote(const std::string& s);

class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(const std::string& k);
  JsonWriter& value(const std::string& s);
  JsonWriter& value(const char* s) { return value(std::string(s)); }
  JsonWriter& value(double v);
  JsonWriter& value(int64_t v);
  JsonWriter& value(int v) { return value(static_cast<int64_t>(v)); }
  JsonWriter& value(uint64_t v);
  JsonWriter& value(bool v);
  JsonWriter& null();
  template <typename T>
  JsonWriter& member(const std::string& k, const T& v) {
    key(k);
    return value(v);
  }
  template <typename T>
  JsonWriter& array(const std::string& k, const std::vector<T>& v) {
    key(k).begin_array();
    for (const T& x : v) value(x);
    return end_array();
  }
  // The document; throws lc::Error if objects or arrays are still open.
  const std::string& str() const;

 private:
  void before_value();
  void newline();
  struct Level {
    bool is_object;
    int64_t count;
  };
  std::vector<Level> stack_;
  std::string out_;
  bool after_key_ = false;
};

// Writes `text` to path atomically (temporary file + rename); throws naming the flag and path.
void write_text_file(const std::string& flag, const std::string& path, const std::string& text);

}  // namespace lc
