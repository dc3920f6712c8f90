// Pre-tokenizers of byte-level BPE vocabularies: the regexes that cut text into pieces before
// BPE merges run (no merge crosses a piece boundary), selected by the name GGUF stores in
// `tokenizer.ggml.pre`. The regexes are those of the models' tokenizer.json files as llama.cpp
// applies them (src/llama-vocab.cpp, llm_tokenizer_bpe): some types run several regexes in
// sequence, each splitting the pieces the previous one produced; a match and the text between
// two matches each become a piece. They are compiled with PCRE2 (UTF-8, Unicode properties for
// \p{L} / \p{N} / \p{P} / \s, JIT where available) — no Unicode tables of our own.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lc {

class PreTokenizer {
 public:
  // `regexes` in PCRE2 syntax, applied in order. \s and \S mean Unicode White_Space (as in Rust's
  // regex crate, which Hugging Face tokenizers use, and llama.cpp's tables); $ matches only at
  // the end of a piece. Throws lc::Error naming `name` if a regex does not compile.
  PreTokenizer(std::string name, const std::vector<std::string>& regexes, bool ignore_merges,
               bool adds_bos);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Appends the pieces of `text` as byte ranges [begin, end): in order, non-empty, covering the
  // text exactly. Never throws; bytes that are not well-formed UTF-8 match nothing and so end up
  // in pieces of their own (between matches).
  void split(std::string_view text, std::vector<std::pair<size_t, size_t>>* pieces) const;

  const std::string& name() const { return name_; }
  // A piece that is itself a token becomes that token without merging (llama.cpp's
  // ignore_merges, set for the Llama 3 family).
  bool ignore_merges() const { return ignore_merges_; }
  // Whether a vocabulary of this type starts sequences with BOS when the GGUF file does not say
  // (tokenizer.ggml.add_bos_token absent): true for the Llama 3 family, as in llama.cpp.
  bool adds_bos() const { return adds_bos_; }

 private:
  struct Regex;
  std::string name_;
  std::vector<std::unique_ptr<Regex>> regexes_;
  bool ignore_merges_;
  bool adds_bos_;
};

// The pre-tokenizer GGUF calls `name` (tokenizer.ggml.pre; "default" when the key is absent), or
// nullptr when it is not one of supported_pretokenizer_names().
std::unique_ptr<PreTokenizer> find_pretokenizer(std::string_view name);
// Every name find_pretokenizer accepts, comma-separated (for error messages and docs).
std::string supported_pretokenizer_names();

}  // namespace lc
