#include "tokenizer/unicode.h"

namespace lc::unicode {

namespace {
bool in_ranges(const CodeRange* r, size_t n, uint32_t cp) {
  size_t lo = 0, hi = n;
  while (lo < hi) {  // first range with hi >= cp
    const size_t mid = (lo + hi) / 2;
    if (r[mid].hi < cp)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n && r[lo].lo <= cp;
}
}  // namespace

uint32_t decode_utf8(std::string_view s, size_t pos, size_t* len) {
  const auto b = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t lead = b(pos);
  *len = 1;
  if (lead < 0x80) return lead;
  if (lead < 0xC2 || lead > 0xF4) return kInvalid;
  const size_t n = lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  if (pos + n > s.size()) return kInvalid;
  uint32_t cp = lead & (0x7F >> n);
  for (size_t i = 1; i < n; ++i) {
    if ((b(pos + i) & 0xC0) != 0x80) return kInvalid;
    cp = cp << 6 | (b(pos + i) & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not well formed.
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp < 0xE000))
    return kInvalid;
  *len = n;
  return cp;
}

bool is_letter(uint32_t cp) { return in_ranges(kLetterRanges, kLetterRanges_count, cp); }
bool is_number(uint32_t cp) { return in_ranges(kNumberRanges, kNumberRanges_count, cp); }

bool is_whitespace(uint32_t cp) {
  // The Unicode White_Space property (PropList.txt).
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

}  // namespace lc::unicode
