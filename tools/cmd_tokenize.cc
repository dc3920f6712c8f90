// longctx tokenize: a model's tokenizer applied to text; the ids (comma-separated, one line) or
// their count. For checking tokenizations against other implementations.
#include <cstdio>
#include <string>
#include <vector>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/file_io.h"

namespace lc::cli {

int cmd_tokenize(int argc, char** argv) {
  Args a("tokenize", {"-m", "-z", "-p", "-f"}, {"--count", "--no-bos", "--help"});
  a.parse(argc, argv, 2);
  if (a.has("--help")) {
    std::fputs(
        "usage: longctx tokenize -m MODEL [-z TOKENIZER] (-p TEXT | -f FILE) [--count] "
        "[--no-bos]\n"
        "  Prints the token ids (comma-separated, one line), BOS first when the tokenizer adds\n"
        "  one (--no-bos: never), or with --count only their number.\n",
        stdout);
    return 0;
  }
  if (a.has("-p") == a.has("-f")) fail("tokenize: give exactly one of -p TEXT or -f FILE");
  const std::string text = a.has("-f") ? read_text_file("-f", a.str("-f")) : a.str("-p");
  auto file = load_model(a);
  auto tok = load_tokenizer_for(a, *file);
  const std::vector<int> ids = tok->encode(text, tok->adds_bos() && !a.has("--no-bos"));
  if (a.has("--count")) {
    std::printf("%zu\n", ids.size());
    return 0;
  }
  for (size_t i = 0; i < ids.size(); ++i) std::printf("%s%d", i ? "," : "", ids[i]);
  std::printf("\n");
  return 0;
}

}  // namespace lc::cli
