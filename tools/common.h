// Helpers shared by the subcommands: loading a model (+ optional dtype conversion), finding and
// loading its tokenizer, reading prompt files.
#pragma once
#include <memory>
#include <string>

#include "args.h"
#include "chat/chat_template_source.h"
#include "formats/model_file.h"
#include "tokenizer/tokenizer.h"

namespace lc::cli {

// -m MODEL [--dtype f32|bf16|f16]
std::unique_ptr<ModelFile> load_model(const Args& a);
// -z TOKENIZER, else the model's own (tokenizer/discover.h: GGUF-embedded, or tokenizer.bin /
// tokenizer.model / tokenizer.json beside the model file or inside its directory).
std::unique_ptr<Tokenizer> load_tokenizer_for(const Args& a, const ModelFile& model);
// Whole file as bytes; errors name the flag and file.
std::string read_text_file(const std::string& flag, const std::string& path);
// --template FILE (a Jinja chat template), else the model's own; fails when there is none.
ChatTemplateSource chat_template_for(const Args& a, const ModelFile& file);
// -t THREADS (default 2).
int threads_flag(const Args& a);

}  // namespace lc::cli
