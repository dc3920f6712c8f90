#include "tokenizer/discover.h"

#include <sys/stat.h>

#include <fstream>

#include "core/error.h"
#include "tokenizer/bpe_tokenizer.h"

namespace lc {
namespace {

bool is_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string dir_of(const std::string& p) {
  const size_t slash = p.find_last_of('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_tokenizer_json(const std::string& p) {
  return p == "tokenizer.json" || ends_with(p, "/tokenizer.json");
}

}  // namespace

std::string find_tokenizer_for_model(const std::string& model_path) {
  // A GGUF model carries its tokenizer; a Hugging Face directory holds it inside.
  const bool dir = !is_file(model_path);
  if (!dir) {
    std::ifstream f(model_path, std::ios::binary);
    char magic[4] = {};
    if (f.read(magic, 4) && std::string(magic, 4) == "GGUF") return model_path;
  }
  for (const char* name : {"/tokenizer.bin", "/tokenizer.model", "/tokenizer.json"}) {
    const std::string cand = (dir ? model_path : dir_of(model_path)) + name;
    if (is_file(cand)) return cand;
  }
  fail(
      "no tokenizer: pass -z TOKENIZER (llama2.c tokenizer.bin or SentencePiece .model); "
      "none found beside ",
      model_path);
}

std::unique_ptr<Tokenizer> load_tokenizer_for_model(const std::string& tokenizer_path,
                                                    const ModelFile& model) {
  const std::string path =
      tokenizer_path.empty() ? find_tokenizer_for_model(model.path) : tokenizer_path;
  auto tok = is_tokenizer_json(path)
                 ? load_hf_tokenizer_json(path)
                 : load_tokenizer(path, static_cast<int>(model.config.vocab_size));
  if (tok->vocab_size() > model.config.vocab_size)
    fail(path, ": tokenizer has ", tok->vocab_size(), " tokens but the model's vocabulary is ",
         model.config.vocab_size);
  return tok;
}

std::unique_ptr<Tokenizer> load_tokenizer_file(const std::string& path) {
  return is_tokenizer_json(path) ? load_hf_tokenizer_json(path) : load_tokenizer(path, 0);
}

}  // namespace lc
