#include "common.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "core/dtype.h"
#include "core/error.h"
#include "tokenizer/discover.h"

namespace lc::cli {

namespace {
bool is_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
}  // namespace

std::unique_ptr<ModelFile> load_model(const Args& a) {
  auto m = load_model_file(a.required("-m"));
  if (a.has("--dtype")) m->convert_matrices(parse_dtype(a.str("--dtype")));
  return m;
}

std::unique_ptr<Tokenizer> load_tokenizer_for(const Args& a, const ModelFile& model) {
  return load_tokenizer_for_model(a.str("-z"), model);
}

std::string read_text_file(const std::string& flag, const std::string& path) {
  if (!is_file(path)) fail(flag, ": cannot read '", path, "' (missing or not a regular file)");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in.good() && !in.eof()) fail(flag, ": error reading '", path, "'");
  return ss.str();
}

int threads_flag(const Args& a) { return static_cast<int>(a.integer("-t", 2, 1, 256)); }

ChatTemplateSource chat_template_for(const Args& a, const ModelFile& file) {
  if (a.has("--template")) {
    ChatTemplateSource s;
    s.source = read_text_file("--template", a.str("--template"));
    s.origin = a.str("--template");
    if (auto own = chat_template_for_model(file)) {  // BOS/EOS texts still come from the model
      s.bos_token = own->bos_token;
      s.eos_token = own->eos_token;
    }
    return s;
  }
  std::optional<ChatTemplateSource> s = chat_template_for_model(file);
  if (!s)
    fail(file.path,
         " has no chat template (GGUF tokenizer.chat_template or tokenizer_config.json "
         "chat_template); give one with --template FILE");
  return *s;
}

}  // namespace lc::cli
