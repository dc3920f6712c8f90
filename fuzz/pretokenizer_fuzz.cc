// libFuzzer target for pre-tokenization: arbitrary bytes (invalid UTF-8 included) through every
// pre-tokenizer family and through the special-token cutter. The pieces must be non-empty,
// contiguous and cover the input exactly; nothing may crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/tokenizer.h"

namespace {

// One name per family of regexes (pretokenizer.cc).
const std::vector<std::unique_ptr<lc::PreTokenizer>>& pretokenizers() {
  static const std::vector<std::unique_ptr<lc::PreTokenizer>> kAll = [] {
    std::vector<std::unique_ptr<lc::PreTokenizer>> v;
    for (const char* name : {"default", "gpt2", "smollm", "llama3", "qwen2", "qwen35", "falcon",
                             "deepseek-llm", "deepseek-coder"})
      v.push_back(lc::find_pretokenizer(name));
    return v;
  }();
  return kAll;
}

const lc::SpecialTokens& special_tokens() {
  static const lc::SpecialTokens kTokens(
      {"<|im_start|>", "<|im_end|>", "<s>", "  ", "<unk>", "s>", "\xC3\xA9"},
      {lc::kPieceControl, lc::kPieceControl, lc::kPieceControl, lc::kPieceUserDefined,
       lc::kPieceUnknown, lc::kPieceUserDefined, lc::kPieceUserDefined},
      {2});
  return kTokens;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::pair<size_t, size_t>> pieces;
  for (const auto& pre : pretokenizers()) {
    if (!pre) __builtin_trap();  // a family name went missing
    pieces.clear();
    pre->split(text, &pieces);
    size_t at = 0;
    for (const auto& [b, e] : pieces) {
      if (b != at || e <= b) __builtin_trap();
      at = e;
    }
    if (at != size) __builtin_trap();
  }
  for (const bool parse_special : {false, true}) {
    std::vector<lc::TextFragment> frags;
    special_tokens().partition(text, parse_special, &frags);
    size_t at = 0;
    for (const lc::TextFragment& f : frags) {
      // Fragments are in order; white space an rstrip token swallowed lies between them.
      if (f.begin < at || f.end <= f.begin || f.end > size) __builtin_trap();
      at = f.end;
    }
  }
  return 0;
}
