// longctx tokenize: a model's tokenizer (or a tokenizer file on its own) applied to text; the ids
// (comma-separated, one line), their count, or the text they decode to. For checking
// tokenizations against other implementations.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/file_io.h"
#include "tokenizer/discover.h"

namespace lc::cli {

int cmd_tokenize(int argc, char** argv) {
  Args a("tokenize", {"-m", "-z", "-p", "-f"},
         {"--count", "--no-bos", "--special", "--decode", "--help"});
  a.parse(argc, argv, 2);
  if (a.has("--help")) {
    std::fputs(
        "usage: longctx tokenize (-m MODEL [-z TOKENIZER] | -z TOKENIZER) (-p TEXT | -f FILE)\n"
        "                        [--count | --decode] [--no-bos] [--special]\n"
        "  Prints the token ids (comma-separated, one line): BOS first and EOS last where the\n"
        "  tokenizer adds them (GGUF add_bos_token / add_eos_token).\n"
        "  -z alone    a tokenizer file without a model (GGUF, vocabulary-only files included;\n"
        "              tokenizer.bin, .model, tokenizer.json)\n"
        "  --no-bos    add neither BOS nor EOS (llama.cpp's add_special = false)\n"
        "  --special   special tokens written in the text (<|im_start|>, <s>, ...) become those\n"
        "              tokens, and --decode prints control tokens' text\n"
        "  --count     print only the number of ids\n"
        "  --decode    print the text the ids decode to (without the BOS / EOS added), as\n"
        "              `longctx run` prints generated tokens: round-trips the input\n",
        stdout);
    return 0;
  }
  if (a.has("-p") == a.has("-f")) fail("tokenize: give exactly one of -p TEXT or -f FILE");
  if (!a.has("-m") && !a.has("-z")) fail("tokenize: give -m MODEL or -z TOKENIZER");
  if (a.has("--count") && a.has("--decode"))
    fail("tokenize: --count and --decode exclude each other");
  const std::string text = a.has("-f") ? read_text_file("-f", a.str("-f")) : a.str("-p");
  std::unique_ptr<Tokenizer> tok;
  if (a.has("-m")) {
    auto file = load_model(a);
    tok = load_tokenizer_for(a, *file);
  } else {
    tok = load_tokenizer_file(a.str("-z"));
  }
  EncodeOptions options = tok->file_options(a.has("--special"));
  if (a.has("--no-bos")) options.add_bos = options.add_eos = false;
  const std::vector<int> ids = tok->encode(text, options);
  if (a.has("--count")) {
    std::printf("%zu\n", ids.size());
    return 0;
  }
  if (a.has("--decode")) {
    // The ids of the text alone. The first follows BOS (SentencePiece's dummy-prefix space
    // goes); a BOS written in the text (--special) does not start a sequence, so the space after
    // it stays.
    const bool bos = options.add_bos && tok->bos_id() >= 0;
    const bool eos = options.add_eos && tok->eos_id() >= 0;
    const size_t first = bos ? 1 : 0;
    std::string out;
    for (size_t i = first; i + (eos ? 1 : 0) < ids.size(); ++i)
      out += tok->decode(i == first ? tok->bos_id() : -1, ids[i], a.has("--special"));
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }
  for (size_t i = 0; i < ids.size(); ++i) std::printf("%s%d", i ? "," : "", ids[i]);
  std::printf("\n");
  return 0;
}

}  // namespace lc::cli
