// The tokenizer embedded in a GGUF file (internal header; reached through load_tokenizer, which
// detects GGUF by its magic): tokenizer.ggml.model "llama" -> SentencePiece-BPE from tokens /
// scores / token_type, "gpt2" -> byte-level BPE from tokens / merges / token_type with the
// pre-tokenizer tokenizer.ggml.pre names (an unknown name is an error listing the known ones);
// add_bos_token / add_eos_token as llama.cpp reads them.
#pragma once
#include <memory>
#include <string>

#include "formats/gguf.h"
#include "tokenizer/tokenizer.h"

namespace lc {

// vocab_size_hint != 0: the vocabulary must not be larger (the model's embedding rows).
std::unique_ptr<Tokenizer> tokenizer_from_gguf(const GgufFile& g, int vocab_size_hint);

// The tokenizer.ggml.* metadata that embeds `tok` in a GGUF file. SentencePiece tokenizers
// only (llama2.c .bin pieces have their spaces escaped to U+2581 and their types inferred:
// <unk> unknown, BOS/EOS control, <0xXX> byte); anything else throws.
std::vector<std::pair<std::string, GgufValue>> gguf_tokenizer_metadata(const Tokenizer& tok);

}  // namespace lc
