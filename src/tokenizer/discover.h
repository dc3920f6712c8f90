// Finding a model's tokenizer: an explicit path, else the one a GGUF model embeds, else
// tokenizer.bin / tokenizer.model / tokenizer.json beside a llama2.c file or inside a Hugging
// Face directory (first found, in that order).
#pragma once
#include <memory>
#include <string>

#include "formats/model_file.h"
#include "tokenizer/tokenizer.h"

namespace lc {

// The tokenizer file for the model at model_path (a file or a Hugging Face directory): the
// model itself when it is a GGUF file, else the first of tokenizer.bin, tokenizer.model,
// tokenizer.json in its directory (a file's) or in it (a directory). Throws lc::Error
// "no tokenizer: pass -z TOKENIZER ...; none found beside MODEL_PATH" when there is none.
std::string find_tokenizer_for_model(const std::string& model_path);

// Loads tokenizer_path, or find_tokenizer_for_model(model.path) when it is empty: a path ending
// in /tokenizer.json as a Hugging Face tokenizer.json, anything else by content (llama2.c .bin,
// SentencePiece .model, GGUF; vocab_size_hint = the model's vocabulary). Throws lc::Error when
// the tokenizer has more tokens than the model's vocabulary.
std::unique_ptr<Tokenizer> load_tokenizer_for_model(const std::string& tokenizer_path,
                                                    const ModelFile& model);

// A tokenizer file on its own (no model): a path named tokenizer.json as a Hugging Face
// tokenizer.json, anything else by content (llama2.c .bin read to its end, SentencePiece .model,
// GGUF, vocabulary-only GGUF files included).
std::unique_ptr<Tokenizer> load_tokenizer_file(const std::string& path);

}  // namespace lc
