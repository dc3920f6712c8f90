// Where a model's chat template comes from: the GGUF key tokenizer.chat_template, or in a
// Hugging Face directory chat_template.jinja (newer transformers save it there) else
// tokenizer_config.json's "chat_template" -- a string, or a list of {"name", "template"} of
// which the one named "default" is taken, as transformers does. The BOS/EOS token texts come
// along (GGUF: tokenizer.ggml.tokens at tokenizer.ggml.{bos,eos}_token_id; HF: bos_token /
// eos_token, a string or an AddedToken {"content": ...}) since templates print them.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "formats/gguf.h"
#include "formats/model_file.h"

namespace lc {

struct ChatTemplateSource {
  std::string source;     // the Jinja text
  std::string origin;     // where it was read, for messages: "FILE: tokenizer.chat_template"
  std::string bos_token;  // "" when the file does not say
  std::string eos_token;
};

// nullopt when the file has no chat template; lc::Error when it has a malformed one.
std::optional<ChatTemplateSource> chat_template_from_gguf(const GgufFile& g);
std::optional<ChatTemplateSource> chat_template_from_tokenizer_config(std::string_view json_text,
                                                                      const std::string& name);
// The template of the model at model_path: a GGUF file, a Hugging Face directory (or a file in
// one); nullopt for a model without one (llama2.c files, base models).
std::optional<ChatTemplateSource> load_chat_template(const std::string& model_path);
// The same for a loaded model (ModelFile keeps no metadata, so this reads model.path again).
std::optional<ChatTemplateSource> chat_template_for_model(const ModelFile& model);

}  // namespace lc
