// The Python binding's model: a loaded file, its tokenizer and the architecture over it, shared
// (std::shared_ptr) by every object that computes with it, so a text stream or a sweep cell keeps
// its model alive. Everything here calls the C++ library; nothing is re-implemented.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "attention/config.h"
#include "formats/model_file.h"
#include "model/model.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"

namespace lc::py {

struct LoadedModel {
  std::unique_ptr<ModelFile> file;
  std::unique_ptr<Tokenizer> tok;
  std::unique_ptr<Model> model;
  std::string path, dtype, tokenizer_path;
  int threads = 2;
};

// Loads path (GGUF, safetensors/HF directory, llama2.c .bin); dtype "" keeps the file's types,
// else the CLI's --dtype values. Throws FileNotFoundError / ValueError (nanobind exceptions) for
// a missing path, a bad dtype or thread count; lc::Error for a file the engine refuses.
std::shared_ptr<LoadedModel> load(const std::string& path, const std::string& dtype, int threads,
                                  const std::string& tokenizer);

// One attention configuration from text ("lambda", "streaming:G=4:W=1024", ...), as the CLI's
// --attn item with the model's defaults; "" = the model's default. ValueError when malformed,
// and when the model takes no attention policy (BASED) and one other than "" is given.
AttentionConfig parse_attention(const LoadedModel& m, const std::string& text);

// Session options as the CLI's `run` builds them (ctx 0 = the trained context).
SessionOptions session_options(const LoadedModel& m, const std::string& attention, int64_t ctx);

// The prompt encoding of `longctx run`: BOS where the file adds one, no EOS.
std::vector<int> encode_prompt(const LoadedModel& m, const std::string& text, bool special);
// Checks ids against the model's vocabulary (ValueError naming the first bad one).
void check_ids(const LoadedModel& m, const std::vector<int>& ids);

}  // namespace lc::py
