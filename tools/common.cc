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

}  // namespace lc::cli
