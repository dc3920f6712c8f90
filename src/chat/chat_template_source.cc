#include "chat/chat_template_source.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/mmap.h"
#include "formats/json.h"

namespace lc {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  check(in.good(), p.string(), ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// tokens[id] of the GGUF vocabulary at metadata key id_key, or "".
std::string gguf_token_text(const GgufFile& g, const char* id_key) {
  const GgufValue* tokens = g.find("tokenizer.ggml.tokens");
  if (!g.find(id_key) || !tokens || tokens->strs.empty()) return "";
  const int64_t id = g.get_int(id_key, 0, INT32_MAX);
  return id < static_cast<int64_t>(tokens->strs.size()) ? tokens->strs[static_cast<size_t>(id)]
                                                        : "";
}

// bos_token / eos_token of tokenizer_config.json: a string, an AddedToken object, or absent.
std::string config_token_text(const Json& config, const char* key, const std::string& name) {
  const Json* t = config.find(key);
  if (!t || t->is_null()) return "";
  if (t->is_string()) return t->str();
  if (t->is_object()) {
    const Json* content = t->find("content");
    if (content && content->is_string()) return content->str();
  }
  fail(name, ": ", key, " must be a string or an object with a string \"content\"");
}

}  // namespace

std::optional<ChatTemplateSource> chat_template_from_gguf(const GgufFile& g) {
  if (!g.find("tokenizer.chat_template")) return std::nullopt;
  ChatTemplateSource out;
  out.source = g.get_string("tokenizer.chat_template");
  out.origin = g.path + ": tokenizer.chat_template";
  out.bos_token = gguf_token_text(g, "tokenizer.ggml.bos_token_id");
  out.eos_token = gguf_token_text(g, "tokenizer.ggml.eos_token_id");
  return out;
}

std::optional<ChatTemplateSource> chat_template_from_tokenizer_config(std::string_view json_text,
                                                                      const std::string& name) {
  const Json config = parse_json(json_text, name);
  check(config.is_object(), name, ": expected a JSON object");
  const Json* t = config.find("chat_template");
  if (!t || t->is_null()) return std::nullopt;
  ChatTemplateSource out;
  if (t->is_string()) {
    out.source = t->str();
    out.origin = name + ": chat_template";
  } else if (t->is_array()) {
    const Json* chosen = nullptr;
    for (const Json& item : t->items()) {
      const Json* n = item.is_object() ? item.find("name") : nullptr;
      const Json* text = item.is_object() ? item.find("template") : nullptr;
      check(n && n->is_string() && text && text->is_string(), name,
            ": chat_template list items must be {\"name\": string, \"template\": string}");
      if (n->str() == "default") chosen = text;
    }
    check(chosen != nullptr, name,
          ": chat_template lists several templates and none is named \"default\"");
    out.source = chosen->str();
    out.origin = name + ": chat_template \"default\"";
  } else {
    fail(name, ": chat_template must be a string or a list of {name, template}");
  }
  out.bos_token = config_token_text(config, "bos_token", name);
  out.eos_token = config_token_text(config, "eos_token", name);
  return out;
}

std::optional<ChatTemplateSource> load_chat_template(const std::string& model_path) {
  const fs::path path(model_path);
  if (fs::is_regular_file(path)) {
    const MappedFile file(model_path);
    if (is_gguf(file.data(), file.size()))
      return chat_template_from_gguf(parse_gguf(file.data(), file.size(), model_path));
  }
  const fs::path dir = fs::is_directory(path) ? path : path.parent_path();
  const fs::path config_path = dir / "tokenizer_config.json";
  std::optional<ChatTemplateSource> out;
  if (fs::is_regular_file(config_path))
    out = chat_template_from_tokenizer_config(read_text(config_path), config_path.string());
  const fs::path jinja_path = dir / "chat_template.jinja";
  if (fs::is_regular_file(jinja_path)) {  // takes precedence, as in transformers
    if (!out) out.emplace();
    out->source = read_text(jinja_path);
    out->origin = jinja_path.string();
  }
  return out;
}

std::optional<ChatTemplateSource> chat_template_for_model(const ModelFile& model) {
  return load_chat_template(model.path);
}

}  // namespace lc
