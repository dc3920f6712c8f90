#include "common.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "core/dtype.h"
#include "core/error.h"
#include "tokenizer/bpe_tokenizer.h"

namespace lc::cli {

namespace {
bool is_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
std::string dir_of(const std::string& p) {
  size_t slash = p.find_last_of('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}
}  // namespace

std::unique_ptr<ModelFile> load_model(const Args& a) {
  auto m = load_model_file(a.required("-m"));
  if (a.has("--dtype")) m->convert_matrices(parse_dtype(a.str("--dtype")));
  return m;
}

std::unique_ptr<Tokenizer> load_tokenizer_for(const Args& a, const ModelFile& model) {
  std::string path = a.str("-z");
  // A GGUF model carries its tokenizer; a Hugging Face directory holds it inside.
  if (path.empty() && is_file(model.path)) {
    std::ifstream f(model.path, std::ios::binary);
    char magic[4] = {};
    if (f.read(magic, 4) && std::string(magic, 4) == "GGUF") path = model.path;
  }
  const bool dir = !is_file(model.path);
  if (path.empty()) {
    for (const char* name : {"/tokenizer.bin", "/tokenizer.model", "/tokenizer.json"}) {
      std::string cand = (dir ? model.path : dir_of(model.path)) + name;
      if (is_file(cand)) {
        path = cand;
        break;
      }
    }
    if (path.empty())
      fail("no tokenizer: pass -z TOKENIZER (llama2.c tokenizer.bin or SentencePiece .model); "
           "none found beside ", model.path);
  }
  auto tok = path.size() >= 15 && path.compare(path.size() - 15, 15, "/tokenizer.json") == 0
                 ? load_hf_tokenizer_json(path)
                 : load_tokenizer(path, static_cast<int>(model.config.vocab_size));
  if (tok->vocab_size() > model.config.vocab_size)
    fail(path, ": tokenizer has ", tok->vocab_size(), " tokens but the model's vocabulary is ",
         model.config.vocab_size);
  return tok;
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


}  // namespace lc::cli
