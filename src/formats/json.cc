#include "formats/json.h"

#include <algorithm>
#include <iterator>
#include <nlohmann/json.hpp>
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
    case Type::Null:
      return "null";
    case Type::Bool:
      return "a boolean";
    case Type::Number:
      return "a number";
    case Type::String:
      return "a string";
    case Type::Array:
      return "an array";
    case Type::Object:
      return "an object";
  }
  return "?";
}

namespace {

// nlohmann's SAX events carry no input position, so the parser reads through this iterator,
// which records how many bytes have been consumed; the depth and duplicate-key errors (checked
// here, not by nlohmann) then name their byte like nlohmann's own syntax errors do.
class CountingIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  CountingIterator(const char* p, const char* begin, size_t* consumed)
      : p_(p), begin_(begin), consumed_(consumed) {}
  reference operator*() const { return *p_; }
  CountingIterator& operator++() {
    ++p_;
    *consumed_ = static_cast<size_t>(p_ - begin_);
    return *this;
  }
  bool operator==(const CountingIterator& o) const { return p_ == o.p_; }
  bool operator!=(const CountingIterator& o) const { return p_ != o.p_; }

 private:
  const char* p_;
  const char* begin_;
  size_t* consumed_;
};

}  // namespace

// Builds the lc::Json tree from nlohmann's SAX events (nlohmann does the RFC 8259 lexing:
// literals, numbers, escapes, surrogates, UTF-8, trailing input) and adds the rules nlohmann
// does not enforce: no duplicate keys and a nesting limit.
class JsonParser {
 public:
  JsonParser(std::string_view text, const std::string& name) : text_(text), name_(name) {}

  Json parse_document() {
    const char* b = text_.data();
    const char* e = b + text_.size();
    const bool ok = nlohmann::json::sax_parse(
        CountingIterator(b, b, &consumed_), CountingIterator(e, b, &consumed_), this,
        nlohmann::json::input_format_t::json, /*strict=*/true, /*ignore_comments=*/false);
    if (!ok) error(consumed_, "unexpected binary value");  // binary() below; unreachable for JSON
    return std::move(root_);
  }

  // The SAX interface (nlohmann::json_sax).
  bool null() {
    add();
    return true;
  }
  bool boolean(bool v) {
    Json& j = add();
    j.type_ = Json::Type::Bool;
    j.bool_ = v;
    return true;
  }
  bool number_integer(int64_t v) {  // negative integer literals that fit int64
    set_int(add(), v);
    return true;
  }
  bool number_unsigned(uint64_t v) {  // non-negative integer literals that fit uint64
    Json& j = add();
    if (v <= static_cast<uint64_t>(INT64_MAX)) {
      set_int(j, static_cast<int64_t>(v));
    } else {
      j.type_ = Json::Type::Number;
      j.number_ = static_cast<double>(v);
    }
    return true;
  }
  bool number_float(double v, const std::string&) {  // nlohmann rejects non-finite values
    Json& j = add();
    j.type_ = Json::Type::Number;
    j.number_ = v;
    return true;
  }
  bool string(std::string& s) {
    Json& j = add();
    j.type_ = Json::Type::String;
    j.str_ = std::move(s);
    return true;
  }
  bool binary(nlohmann::json::binary_t&) { return false; }  // not produced by the JSON format
  bool start_object(size_t) {
    open(Json::Type::Object);
    keys_.emplace_back();
    return true;
  }
  bool key(std::string& k) {
    if (!keys_.back().insert(k).second)
      error(consumed_ ? consumed_ - 1 : 0, "duplicate object key '" + k + "'");
    stack_.back()->members_.emplace_back(std::move(k), Json());
    return true;
  }
  bool end_object() {
    keys_.pop_back();
    stack_.pop_back();
    return true;
  }
  bool start_array(size_t) {
    open(Json::Type::Array);
    return true;
  }
  bool end_array() {
    stack_.pop_back();
    return true;
  }
  bool parse_error(size_t position, const std::string& last_token,
                   const nlohmann::json::exception& ex) {
    // position counts the bytes read, including the offending one (or the end of input).
    const size_t byte = std::min(position > 0 ? position - 1 : 0, text_.size());
    if (ex.id == 406) error(byte, "number out of range");  // out_of_range.406: overflow
    // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error while
    // parsing value - invalid literal; last read: '[1] x'; expected end of input": keep the
    // part after the position, without the echo of the input (which can be long).
    std::string what = ex.what();
    const size_t column = what.find(", column ");
    const size_t colon = what.find(": ", column == std::string::npos ? 0 : column);
    if (colon != std::string::npos) what.erase(0, colon + 2);
    const std::string echo = "; last read: '" + last_token + "'";
    const size_t at = what.find(echo);
    if (at != std::string::npos) what.erase(at, echo.size());
    error(byte, what);
  }

 private:
  static constexpr size_t kMaxDepth = 128;

  [[noreturn]] void error(size_t byte, const std::string& what) const {
    fail(name_, ": invalid JSON at byte ", byte, ": ", what);
  }
  static void set_int(Json& j, int64_t v) {
    j.type_ = Json::Type::Number;
    j.is_int_ = true;
    j.int_ = v;
    j.number_ = static_cast<double>(v);
  }
  // The slot for the next value: the root, the next array item, or the member whose key() was
  // just read. Parents on stack_ only grow after their open child is closed, so the pointers
  // stay valid.
  Json& add() {
    if (stack_.empty()) return root_;
    Json* parent = stack_.back();
    if (parent->type_ == Json::Type::Array) return parent->items_.emplace_back();
    return parent->members_.back().second;
  }
  void open(Json::Type type) {
    if (stack_.size() >= kMaxDepth)
      error(consumed_ ? consumed_ - 1 : 0, "nesting deeper than 128 levels");
    Json& j = add();
    j.type_ = type;
    stack_.push_back(&j);
  }

  std::string_view text_;
  const std::string& name_;
  size_t consumed_ = 0;
  Json root_;
  std::vector<Json*> stack_;                           // open arrays and objects
  std::vector<std::unordered_set<std::string>> keys_;  // the keys seen in each open object
};

Json parse_json(std::string_view text, const std::string& name) {
  return JsonParser(text, name).parse_document();
}

}  // namespace lc
