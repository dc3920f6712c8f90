#include "eval/json_writer.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_io.h"

namespace lc {

std::string json_quote(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', /*ensure_ascii=*/false,
                                nlohmann::json::error_handler_t::replace);
}

void JsonWriter::newline() {
  out_ += '\n';
  out_.append(2 * stack_.size(), ' ');
}

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (stack_.empty()) {
    check(out_.empty(), "JsonWriter: more than one top-level value");
    return;
  }
  check(!stack_.back().is_object, "JsonWriter: object member without a key");
  if (stack_.back().count++ > 0) out_ += ", ";
}

JsonWriter& JsonWriter::key(const std::string& k) {
  check(!stack_.empty() && stack_.back().is_object && !after_key_, "JsonWriter: misplaced key");
  if (stack_.back().count++ > 0) out_ += ",";
  newline();
  out_ += json_quote(k);
  out_ += ": ";
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::begin_object() {
  before_value();
  out_ += "{";
  stack_.push_back({true, 0});
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  check(!stack_.empty() && stack_.back().is_object && !after_key_, "JsonWriter: unbalanced }");
  bool empty = stack_.back().count == 0;
  stack_.pop_back();
  if (!empty) newline();
  out_ += "}";
  if (stack_.empty()) out_ += "\n";
  return *this;
}

JsonWriter& JsonWriter::begin_array() {
  before_value();
  out_ += "[";
  stack_.push_back({false, 0});
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  check(!stack_.empty() && !stack_.back().is_object, "JsonWriter: unbalanced ]");
  stack_.pop_back();
  out_ += "]";
  return *this;
}

JsonWriter& JsonWriter::value(const std::string& s) {
  before_value();
  out_ += json_quote(s);
  return *this;
}

JsonWriter& JsonWriter::value(double v) {
  before_value();
  if (!std::isfinite(v)) {
    out_ += "null";
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    out_ += buf;
  }
  return *this;
}

JsonWriter& JsonWriter::value(int64_t v) {
  before_value();
  out_ += std::to_string(v);
  return *this;
}

JsonWriter& JsonWriter::value(uint64_t v) {
  before_value();
  out_ += std::to_string(v);
  return *this;
}

JsonWriter& JsonWriter::value(bool v) {
  before_value();
  out_ += v ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::null() {
  before_value();
  out_ += "null";
  return *this;
}

const std::string& JsonWriter::str() const {
  check(stack_.empty() && !after_key_, "JsonWriter: document not finished");
  return out_;
}

void write_text_file(const std::string& flag, const std::string& path, const std::string& text) {
  write_file_atomic(flag, path, {{text.data(), text.size()}});
}

}  // namespace lc
