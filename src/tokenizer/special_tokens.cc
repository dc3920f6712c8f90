#include "tokenizer/special_tokens.h"

#include <algorithm>

#include "tokenizer/tokenizer.h"

namespace lc {

namespace {
bool is_ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }  // C isspace
}  // namespace

SpecialTokens::SpecialTokens(const std::vector<std::string>& texts, const std::vector<int>& types,
                             const std::vector<int>& rstrip_ids) {
  for (size_t i = 0; i < texts.size() && i < types.size(); ++i) {
    const int t = types[i];
    if (texts[i].empty() || (t != kPieceUnknown && t != kPieceControl && t != kPieceUserDefined))
      continue;
    const bool rstrip =
        std::find(rstrip_ids.begin(), rstrip_ids.end(), static_cast<int>(i)) != rstrip_ids.end();
    entries_.push_back({texts[i], static_cast<int>(i), t == kPieceUserDefined, rstrip});
  }
  // std::sort with a total order (stable_sort's buffer uses nothrow new, which the
  // allocation-counting test build does not replace).
  std::sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
    return a.text.size() != b.text.size() ? a.text.size() > b.text.size() : a.id < b.id;
  });
}

void SpecialTokens::partition(std::string_view text, bool parse_special,
                              std::vector<TextFragment>* out) const {
  std::vector<TextFragment> frags, next;
  if (!text.empty()) frags.push_back({0, text.size(), -1});
  for (const Entry& e : entries_) {
    if (!e.always && !parse_special) continue;
    next.clear();
    bool found = false;
    for (const TextFragment& f : frags) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t p = f.begin;
      for (;;) {
        const size_t q = text.substr(0, f.end).find(e.text, p);
        if (q == std::string_view::npos) break;
        found = true;
        if (q > p) next.push_back({p, q, -1});
        next.push_back({q, q + e.text.size(), e.id});
        p = q + e.text.size();
        while (e.rstrip && p < f.end && is_ascii_space(text[p])) ++p;
      }
      if (p < f.end) next.push_back({p, f.end, -1});
    }
    if (found) frags.swap(next);
  }
  out->insert(out->end(), frags.begin(), frags.end());
}

}  // namespace lc
