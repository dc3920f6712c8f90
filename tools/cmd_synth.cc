// longctx synth-model: a random-weight model, for benchmarks and tests at real shapes:
// `--arch llama` (default) as a llama2.c file, `--arch mpt` as a Hugging Face MPT directory
// (ALiBi, LayerNorm, GELU) that both longctx and transformers' MptForCausalLM load, `--arch
// based` as a Hugging Face BASED directory in the released checkpoints' layout. The flags fill a
// SynthRequest; formats/synthesize.h checks it and writes the model.
#include <cstdio>
#include <optional>

#include "args.h"
#include "commands.h"
#include "core/dtype.h"
#include "formats/synthesize.h"

namespace lc::cli {

namespace {

// The request the flags describe; numbers parsed strictly, each within its range.
SynthRequest synth_request(const Args& a) {
  const auto size = [&](const char* flag, int64_t lo, int64_t hi) -> std::optional<int64_t> {
    if (!a.has(flag)) return std::nullopt;
    return a.integer(flag, 0, lo, hi);
  };
  SynthRequest r;
  r.arch = a.str("--arch", r.arch);
  r.d_model = size("--dim", 2, 1 << 16);
  r.hidden = size("--hidden", 1, 1 << 18);
  r.n_layers = size("--layers", 1, 1024);
  r.n_heads = size("--heads", 1, 1 << 12);
  r.n_kv_heads = size("--kv-heads", 1, 1 << 12);
  r.vocab_size = size("--vocab", 1, 1 << 22);
  r.ctx_len = size("--ctx", 1, 1 << 24);
  r.seed = static_cast<uint64_t>(a.integer("--seed", 1, 0, INT64_MAX));
  r.unshared_classifier = a.has("--unshared-classifier");
  if (a.has("--weight-std"))
    r.weight_std = static_cast<float>(a.number("--weight-std", 0.0, 0.0, 10.0));
  if (a.has("--alibi-bias-max")) r.alibi_bias_max = a.number("--alibi-bias-max", 0.0, 1e-3, 64.0);
  if (a.has("--preset")) r.preset = a.str("--preset");
  if (a.has("--dtype")) r.dtype = parse_dtype(a.str("--dtype"));
  r.feature_dim = size("--feature-dim", 1, 64);
  r.linear_heads = size("--linear-heads", 1, 1 << 12);
  r.window = size("--window", 2, 1 << 24);
  return r;
}

}  // namespace

int cmd_synth(int argc, char** argv) {
  Args a("synth-model",
         {"-o", "--arch", "--dim", "--hidden", "--layers", "--heads", "--kv-heads", "--vocab",
          "--ctx", "--seed", "--weight-std", "--alibi-bias-max", "--preset", "--dtype",
          "--feature-dim", "--linear-heads", "--window"},
         {"--unshared-classifier", "--help"});
  a.parse(argc, argv, 2);
  if (a.has("--help")) {
    std::fputs(
        "usage: longctx synth-model -o OUT --dim D --hidden H --layers L --heads NH\n"
        "                           --kv-heads NKV --vocab V --ctx C [--seed S]\n"
        "                           [--unshared-classifier] [--arch llama|mpt]\n"
        "                           [--weight-std X] [--alibi-bias-max B]\n"
        "       longctx synth-model --arch based -o DIR [--preset tiny|based-360m|based-1b]\n"
        "                           [--dtype f32|bf16|f16] [--dim D --hidden H --layers L\n"
        "                           --heads NH --vocab V --ctx C --feature-dim F\n"
        "                           --linear-heads LH --window W --seed S --weight-std X]\n"
        "  --arch llama (default): a llama2.c .bin file, weights ~ N(0, 0.02^2)\n"
        "  --arch mpt: a Hugging Face directory OUT (MptForCausalLM: ALiBi, LayerNorm, GELU,\n"
        "              fused Wqkv; --hidden defaults to 4 * dim, tied embeddings)\n"
        "  --arch based: a Hugging Face BASED directory (BasedForCausalLM config, flash-attn\n"
        "              GPT tensor names); the preset's sizes, overridable; weights f32 unless\n"
        "              --dtype bf16|f16. --layers L lays out layers as the released models do\n"
        "              (i % 5 == 1 linear attention, i % 5 == 2 sliding window, else BaseConv)\n"
        "  e.g. the stories110M shape: --dim 768 --hidden 2048 --layers 12 --heads 12\n"
        "       --kv-heads 12 --vocab 32000 --ctx 1024\n",
        stdout);
    return 0;
  }
  const std::string out = a.str("-o");  // synthesize_model says when it is missing
  synthesize_model(synth_request(a), out);
  std::fprintf(stderr, "wrote %s\n", out.c_str());
  return 0;
}

}  // namespace lc::cli
