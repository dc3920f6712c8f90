// A byte-level vocabulary as a Hugging Face tokenizer.json: token id b (0..255) is the single
// byte b (spelled with GPT-2's bytes_to_unicode code point, as byte-level BPE vocabularies are),
// no merges, and one special token "<|endoftext|>" at id 256 (the BOS/EOS of models trained by
// `longctx train --data`). load_hf_tokenizer_json (bpe_tokenizer.h) reads it back, and so does
// Hugging Face `tokenizers`, so every byte string encodes to exactly its bytes.
#pragma once
#include <string>

namespace lc {

inline constexpr int kByteLevelSpecialId = 256;
inline constexpr int kByteLevelVocab = 257;

// The tokenizer.json text (UTF-8 JSON, one object).
std::string byte_level_tokenizer_json();

}  // namespace lc
