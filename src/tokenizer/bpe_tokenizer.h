// Byte-level BPE (GPT-2; Radford et al. 2019): special tokens written in the text are cut out
// first (special_tokens.h), the rest is split into pieces by a pre-tokenizer (pretokenizer.h:
// the regexes GGUF's tokenizer.ggml.pre names, through PCRE2), each piece's bytes are mapped to
// printable code points (GPT-2's bytes_to_unicode), and merges are applied lowest rank first.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace lc {

struct BpeSpec {
  std::vector<std::string> tokens;  // id -> token text (byte-mapped, e.g. "Ġthe")
  std::vector<int> types;           // SentencePiece-style types; empty = all normal
  std::vector<std::string> merges;  // "left right", rank = index
  int bos_id = -1;
  int eos_id = -1;
  bool add_bos = true;   // sequences start with BOS when there is one (Tokenizer::adds_bos)
  bool add_eos = false;  // sequences end with EOS when there is one (Tokenizer::adds_eos)
  // Special tokens that swallow the ASCII white space after them (special_tokens.h).
  std::vector<int> rstrip_ids;
  // The pre-tokenizer; nullptr = GPT-2's.
  std::shared_ptr<const PreTokenizer> pre;
};

// Validates the spec (merges must name tokens; bad entries give lc::Error naming `name`).
std::unique_ptr<Tokenizer> make_bpe_tokenizer(BpeSpec spec, const std::string& name);
// GPT-2 files: vocab.json ({token: id}) and merges.txt ("#version" line, then "left right").
std::unique_ptr<Tokenizer> load_bpe_vocab_merges(const std::string& vocab_json,
                                                 const std::string& merges_txt);
// The text GPT-2's bytes_to_unicode gives byte b (UTF-8 of one code point), as vocabularies
// spell single bytes.
std::string bpe_byte_text(unsigned char b);
// A Hugging Face tokenizer.json with a BPE model (byte-level): model.vocab, model.merges
// (strings "a b" or pairs), added_tokens (special ones are control tokens, the others
// user-defined). The pre-tokenizer is GPT-2's whatever the file's pre_tokenizer says.
std::unique_ptr<Tokenizer> load_hf_tokenizer_json(const std::string& path);

}  // namespace lc
