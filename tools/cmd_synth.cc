// longctx synth-model: a random-weight model in llama2.c format, for benchmarks at real shapes.
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "formats/llama2c.h"

namespace lc::cli {

int cmd_synth(int argc, char** argv) {
  Args a("synth-model",
         {"-o", "--dim", "--hidden", "--layers", "--heads", "--kv-heads", "--vocab", "--ctx",
          "--seed"},
         {"--unshared-classifier", "--help"});
  a.parse(argc, argv, 2);
  if (a.has("--help")) {
    std::fputs(
        "usage: longctx synth-model -o FILE --dim D --hidden H --layers L --heads NH\n"
        "                           --kv-heads NKV --vocab V --ctx C [--seed S]\n"
        "                           [--unshared-classifier]\n"
        "  e.g. the stories110M shape: --dim 768 --hidden 2048 --layers 12 --heads 12\n"
        "       --kv-heads 12 --vocab 32000 --ctx 1024\n",
        stdout);
    return 0;
  }
  SynthSpec s;
  std::string out = a.required("-o");
  s.d_model = a.integer("--dim", 0, 2, 1 << 16);
  s.hidden = a.integer("--hidden", 0, 1, 1 << 18);
  s.n_layers = a.integer("--layers", 0, 1, 1024);
  s.n_heads = a.integer("--heads", 0, 1, 1 << 12);
  s.n_kv_heads = a.integer("--kv-heads", s.n_heads, 1, 1 << 12);
  s.vocab_size = a.integer("--vocab", 0, 1, 1 << 22);
  s.ctx_len = a.integer("--ctx", 0, 1, 1 << 24);
  for (const char* f : {"--dim", "--hidden", "--layers", "--heads", "--vocab", "--ctx"}) a.required(f);
  s.seed = static_cast<uint64_t>(a.integer("--seed", 1, 0, INT64_MAX));
  s.shared_classifier = !a.has("--unshared-classifier");
  write_synthetic_llama2c(out, s);
  std::fprintf(stderr, "wrote %s\n", out.c_str());
  return 0;
}

}  // namespace lc::cli
