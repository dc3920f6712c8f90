#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace lc {

namespace {

// GPT-2 (Radford et al. 2019, encoder.py): contractions, letter runs, number runs and runs of
// other characters, each with at most one leading space; white space before a word keeps its
// last character for the word.
constexpr const char* kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// Llama 3 (tiktoken cl100k-style): contractions in either case, a letter run with one leading
// non-letter non-number, numbers in groups of at most three digits, punctuation runs that keep
// the newlines after them, newline runs with the spaces before them. The case-insensitive
// contractions are spelled out ('[sS] rather than (?i:'s)) as llama.cpp spells them, so that
// "'ſ" (U+017F folds to s) is not a contraction.
constexpr const char* kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+)"
    R"(|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2: Llama 3's regex with every number character a piece of its own.
constexpr const char* kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+)"
    R"(|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// DeepSeek LLM's letters: Latin, Greek, Cyrillic, Armenian, Georgian, Cherokee and other cased
// scripts, listed as code point ranges in its tokenizer.json (copied, as llama.cpp has it).
constexpr const char* kDeepseekLetters =
    R"(\s?[)"
    "A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ"
    "-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫ"
    "ᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώ"
    "ᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼ"
    "ℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎ"
    "ↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ"
    "-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻"
    "𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃"
    "]+";
// Qwen3.5: Qwen2's regex with combining marks (\p{M}) inside letter runs.
constexpr const char* kQwen35 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+)"
    R"(|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// CJK ideographs, a range below them and Hangul, as DeepSeek's tokenizers group them.
constexpr const char* kDeepseekCjk = "[一-龥ࠀ-一가-퟿]+";

struct Family {
  std::vector<std::string_view> names;  // tokenizer.ggml.pre values (llama.cpp's spellings)
  std::vector<const char*> regexes;     // applied in order
  bool ignore_merges = false;
  bool adds_bos = false;
};

// Pre-tokenizer types by the regexes llama.cpp runs for them (llm_tokenizer_bpe's constructor).
const std::vector<Family>& families() {
  static const std::vector<Family> kFamilies = {
      // No pre-tokenizer named: llama.cpp's fallback (punctuation runs, GPT-2, numbers, triples).
      {{"default"}, {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"}},
      {{"gpt-2", "gpt2", "mpt", "olmo", "phi-2"}, {kGpt2}},
      // Every number character alone, then GPT-2 on the text between them.
      {{"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b"},
       {R"(\p{N})", kGpt2}},
      {{"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"},
       {kLlama3},
       /*ignore_merges=*/true,
       /*adds_bos=*/true},
      {{"dbrx", "smaug-bpe"}, {kLlama3}},
      {{"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez"}, {kQwen2}},
      {{"qwen35"}, {kQwen35}},
      {{"falcon"}, {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, "[0-9][0-9][0-9]"}},
      {{"deepseek-llm"},
       {R"([\r\n])", kDeepseekLetters, R"(\s?[!-/:-~！-／：-～‘-‟　-。]+)", R"(\s+$)", kDeepseekCjk,
        R"(\p{N}+)"}},
      {{"deepseek-coder"}, {R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kDeepseekCjk, R"(\p{N})"}},
  };
  return kFamilies;
}

// \s / \S -> Unicode White_Space. PCRE2 10.42's \s under PCRE2_UCP also matches U+180E
// (a format character since Unicode 6.3), which neither llama.cpp nor Rust's regex counts.
std::string expand_white_space(std::string_view re) {
  std::string out;
  for (size_t i = 0; i < re.size(); ++i) {
    if (re[i] == '\\' && i + 1 < re.size()) {
      const char next = re[++i];
      if (next == 's') {
        out += R"(\p{White_Space})";
      } else if (next == 'S') {
        out += R"(\P{White_Space})";
      } else {
        out += '\\';
        out += next;
      }
      continue;
    }
    out += re[i];
  }
  return out;
}

}  // namespace

struct PreTokenizer::Regex {
  pcre2_code* code = nullptr;
  ~Regex() { pcre2_code_free(code); }
};

PreTokenizer::PreTokenizer(std::string name, const std::vector<std::string>& regexes,
                           bool ignore_merges, bool adds_bos)
    : name_(std::move(name)), ignore_merges_(ignore_merges), adds_bos_(adds_bos) {
  for (const std::string& source : regexes) {
    const std::string pattern = expand_white_space(source);
    int error = 0;
    PCRE2_SIZE offset = 0;
    auto re = std::make_unique<Regex>();
    // MATCH_INVALID_UTF: any byte string is a valid subject; ill-formed UTF-8 never matches.
    re->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                             PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY,
                             &error, &offset, nullptr);
    if (!re->code) {
      std::array<PCRE2_UCHAR, 256> message{};
      pcre2_get_error_message(error, message.data(), message.size());
      fail("pre-tokenizer '", name_, "': regex '", source,
           "' does not compile: ", reinterpret_cast<const char*>(message.data()), " at offset ",
           offset);
    }
    // Without JIT support (or where it fails) pcre2_match interprets; same results.
    pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
    regexes_.push_back(std::move(re));
  }
}

PreTokenizer::~PreTokenizer() = default;

void PreTokenizer::split(std::string_view text,
                         std::vector<std::pair<size_t, size_t>>* pieces) const {
  using Piece = std::pair<size_t, size_t>;
  std::vector<Piece> current = {{0, text.size()}}, next;
  if (text.empty()) return;
  pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
  if (!md) {  // out of memory: the text stays one piece
    pieces->emplace_back(0, text.size());
    return;
  }
  for (const auto& re : regexes_) {
    next.clear();
    for (const auto& [begin, end] : current) {
      // The piece is the whole subject: lookaheads and $ see its end, not the text after it.
      const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + begin);
      const size_t length = end - begin;
      size_t pos = 0, last = 0;
      while (pos < length) {
        int rc = pcre2_match(re->code, subject, length, pos, 0, md, nullptr);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT)  // the interpreter keeps its frames on the heap
          rc = pcre2_match(re->code, subject, length, pos, PCRE2_NO_JIT, md, nullptr);
        if (rc < 0) break;  // no match (or a resource limit): the rest is one piece
        const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(md);
        const size_t match_begin = ovector[0], match_end = ovector[1];
        if (match_end <= match_begin) {  // an empty match splits nothing; step past one char
          pos = match_begin +
                utf8::char_len(std::string_view(text.data() + begin, length), match_begin);
          continue;
        }
        if (match_begin > last) next.emplace_back(begin + last, begin + match_begin);
        next.emplace_back(begin + match_begin, begin + match_end);
        last = pos = match_end;
      }
      if (last < length) next.emplace_back(begin + last, end);
    }
    current.swap(next);
  }
  pcre2_match_data_free(md);
  pieces->insert(pieces->end(), current.begin(), current.end());
}

std::unique_ptr<PreTokenizer> find_pretokenizer(std::string_view name) {
  for (const Family& f : families()) {
    for (std::string_view n : f.names) {
      if (n != name) continue;
      return std::make_unique<PreTokenizer>(
          std::string(name), std::vector<std::string>(f.regexes.begin(), f.regexes.end()),
          f.ignore_merges, f.adds_bos);
    }
  }
  return nullptr;
}

std::string supported_pretokenizer_names() {
  std::string out;
  for (const Family& f : families())
    for (std::string_view n : f.names) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

}  // namespace lc
