// UTF-8 code units <-> code points (RFC 3629), with no character tables: what the tokenizers need
// to walk text character by character. Character classes (letters, numbers, white space) come
// from PCRE2's Unicode properties (pretokenizer.cc), never from tables of our own.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lc::utf8 {

inline constexpr uint32_t kInvalid = 0xFFFFFFFFu;

// The code point starting at s[pos] and its length in bytes (pos < s.size()). A byte that does
// not start a well-formed sequence (a continuation byte, an overlong form, a surrogate, a value
// past U+10FFFF, a truncated sequence) gives kInvalid with length 1.
inline uint32_t decode(std::string_view s, size_t pos, size_t* len) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t lead = byte(pos);
  *len = 1;
  if (lead < 0x80) return lead;
  if (lead < 0xC2 || lead > 0xF4) return kInvalid;  // a continuation byte, or never valid
  const size_t n = lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  if (pos + n > s.size()) return kInvalid;
  uint32_t cp = lead & (0x7F >> n);
  for (size_t i = 1; i < n; ++i) {
    if ((byte(pos + i) & 0xC0) != 0x80) return kInvalid;
    cp = cp << 6 | (byte(pos + i) & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not well formed.
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp < 0xE000))
    return kInvalid;
  *len = n;
  return cp;
}

// Bytes in the well-formed character starting at s[pos]; 1 where decode() gives kInvalid (the
// byte then stands alone, e.g. for byte fallback).
inline size_t char_len(std::string_view s, size_t pos) {
  size_t len;
  decode(s, pos, &len);
  return len;
}

// Appends the UTF-8 encoding of cp (cp <= U+10FFFF).
inline void append(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace lc::utf8
