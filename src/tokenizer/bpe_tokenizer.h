// Byte-level BPE (GPT-2; Radford et al. 2019): text is split by the GPT-2 pre-tokenizer regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (implemented by hand), each piece's bytes are mapped to printable code points (GPT-2's
// bytes_to_unicode), and merges are applied lowest rank first. User-defined tokens (type 4) are
// matched whole before pre-tokenization, longest first, as llama.cpp does.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace lc {

struct BpeSpec {
  std::vector<std::string> tokens;  // id -> token text (byte-mapped, e.g. "Ġthe")
  std::vector<int> types;           // SentencePiece-style types; empty = all normal
  std::vector<std::string> merges;  // "left right", rank = index
  int bos_id = -1;
  int eos_id = -1;
  bool add_bos = true;  // sequences start with BOS when there is one (Tokenizer::adds_bos)
  // Every number character (\p{N}) is its own pre-token, split off before the GPT-2 regex runs
  // on the text between them (llama.cpp's `smollm` pre-tokenizer: "\p{N}" first).
  bool split_digits = false;
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
// (strings "a b" or pairs), added_tokens.
std::unique_ptr<Tokenizer> load_hf_tokenizer_json(const std::string& path);

}  // namespace lc
