// Special tokens written in text (internal header): which tokens a text is cut at before
// pre-tokenization, and the cutting itself, as llama.cpp's tokenizer_st_partition does it.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace lc {

// One stretch of the text: raw text [begin, end) to be tokenized, or (token >= 0) a special token
// that was written there.
struct TextFragment {
  size_t begin, end;
  int token;
};

// The special tokens of a vocabulary, in matching order: longest text first, then lowest id.
class SpecialTokens {
 public:
  // texts[id] and types[id] (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte).
  // User-defined tokens are always cut out of the text (they are part of the vocabulary's
  // surface, e.g. GPT-NeoX's runs of spaces); control and unknown tokens only when the caller
  // asks (parse_special), so that text such as "<|endoftext|>" is plain text by default.
  // rstrip_ids: special tokens that swallow the ASCII white space after them (llama.cpp's RSTRIP
  // attribute, which it sets for Phi-3's vocabulary).
  SpecialTokens(const std::vector<std::string>& texts, const std::vector<int>& types,
                const std::vector<int>& rstrip_ids = {});
  SpecialTokens() = default;  // none

  // Cuts `text` into fragments: for each special token in matching order, every occurrence
  // inside a raw fragment becomes a token fragment (llama.cpp's order, so an earlier, longer
  // token wins an overlap). Fragments are in text order, non-empty, and cover the text.
  void partition(std::string_view text, bool parse_special, std::vector<TextFragment>* out) const;

 private:
  struct Entry {
    std::string text;
    int id;
    bool always;  // user-defined: matched even without parse_special
    bool rstrip;  // white space after an occurrence is dropped
  };
  std::vector<Entry> entries_;
};

}  // namespace lc
