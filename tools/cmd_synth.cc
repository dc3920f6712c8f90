// longctx synth-model: a random-weight model, for benchmarks and tests at real shapes:
// `--arch llama` (default) as a llama2.c file, `--arch mpt` as a Hugging Face MPT directory
// (ALiBi, LayerNorm, GELU) that both longctx and transformers' MptForCausalLM load.
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/parse.h"
#include "formats/hf.h"
#include "formats/llama2c.h"
#include "formats/synthetic.h"

namespace lc::cli {

int cmd_synth(int argc, char** argv) {
  Args a("synth-model",
         {"-o", "--arch", "--dim", "--hidden", "--layers", "--heads", "--kv-heads", "--vocab",
          "--ctx", "--seed", "--weight-std", "--alibi-bias-max"},
         {"--unshared-classifier", "--help"});
  a.parse(argc, argv, 2);
  if (a.has("--help")) {
    std::fputs(
        "usage: longctx synth-model -o OUT --dim D --hidden H --layers L --heads NH\n"
        "                           --kv-heads NKV --vocab V --ctx C [--seed S]\n"
        "                           [--unshared-classifier] [--arch llama|mpt]\n"
        "                           [--weight-std X] [--alibi-bias-max B]\n"
        "  --arch llama (default): a llama2.c .bin file, weights ~ N(0, 0.02^2)\n"
        "  --arch mpt: a Hugging Face directory OUT (MptForCausalLM: ALiBi, LayerNorm, GELU,\n"
        "              fused Wqkv; --hidden defaults to 4 * dim, tied embeddings)\n"
        "  e.g. the stories110M shape: --dim 768 --hidden 2048 --layers 12 --heads 12\n"
        "       --kv-heads 12 --vocab 32000 --ctx 1024\n",
        stdout);
    return 0;
  }
  const std::string arch = a.str("--arch", "llama");
  if (arch != "llama" && arch != "mpt")
    fail("--arch: expected llama or mpt, got '", arch, "'");
  const bool mpt = arch == "mpt";
  SynthSpec s;
  std::string out = a.required("-o");
  s.d_model = a.integer("--dim", 0, 2, 1 << 16);
  s.hidden = a.integer("--hidden", mpt ? 4 * s.d_model : 0, 1, 1 << 18);
  s.n_layers = a.integer("--layers", 0, 1, 1024);
  s.n_heads = a.integer("--heads", 0, 1, 1 << 12);
  s.n_kv_heads = a.integer("--kv-heads", s.n_heads, 1, 1 << 12);
  s.vocab_size = a.integer("--vocab", 0, 1, 1 << 22);
  s.ctx_len = a.integer("--ctx", 0, 1, 1 << 24);
  for (const char* f : {"--dim", "--layers", "--heads", "--vocab", "--ctx"}) a.required(f);
  if (!mpt) a.required("--hidden");
  s.seed = static_cast<uint64_t>(a.integer("--seed", 1, 0, INT64_MAX));
  s.shared_classifier = !a.has("--unshared-classifier");
  if (!mpt) {
    for (const char* f : {"--weight-std", "--alibi-bias-max"})
      if (a.has(f)) fail(f, ": applies to --arch mpt only");
    write_synthetic_llama2c(out, s);
  } else {
    SynthOptions o;
    if (a.has("--weight-std"))
      o.weight_std = static_cast<float>(parse_float("--weight-std", a.str("--weight-std"), 0.0, 10.0));
    if (a.has("--alibi-bias-max"))
      o.alibi_bias_max = parse_float("--alibi-bias-max", a.str("--alibi-bias-max"), 1e-3, 64.0);
    if (s.hidden % s.d_model != 0)
      fail("--hidden ", s.hidden, ": MPT's MLP width must be a multiple of --dim ", s.d_model);
    write_hf_dir(out, *synthetic_mpt(s, o));
  }
  std::fprintf(stderr, "wrote %s\n", out.c_str());
  return 0;
}

}  // namespace lc::cli
