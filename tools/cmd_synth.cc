// longctx synth-model: a random-weight model, for benchmarks and tests at real shapes:
// `--arch llama` (default) as a llama2.c file, `--arch mpt` as a Hugging Face MPT directory
// (ALiBi, LayerNorm, GELU) that both longctx and transformers' MptForCausalLM load, `--arch
// based` as a Hugging Face BASED directory in the released checkpoints' layout.
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/parse.h"
#include "formats/hf.h"
#include "formats/llama2c.h"
#include "formats/synthetic.h"
#include "core/dtype.h"

namespace lc::cli {

namespace {

// --arch based: a preset's config, with --dim/--hidden/--layers/--heads/--vocab/--ctx and
// --feature-dim/--linear-heads/--window overriding it (layer i is linear attention when
// i % 5 == 1 and sliding window when i % 5 == 2 once --layers is given, as in the released
// models). Weights f32 unless --dtype bf16|f16 (conv kernels, norms and biases stay f32).
void synth_based(const Args& a, const std::string& out) {
  ModelConfig c = based_preset(a.str("--preset", "tiny"));
  c.d_model = a.integer("--dim", c.d_model, 2, 1 << 16);
  c.n_heads = a.integer("--heads", c.n_heads, 1, 1 << 12);
  c.n_kv_heads = c.n_heads;
  const int64_t inner = a.integer("--hidden", c.hidden, 1, 1 << 18);
  c.hidden = (inner + 255) / 256 * 256;  // spec: n_inner rounded up to a multiple of 256
  c.vocab_size = a.integer("--vocab", c.vocab_size, 1, 1 << 22);
  c.ctx_len = a.integer("--ctx", c.ctx_len, 1, 1 << 24);
  c.based.feature_dim = a.integer("--feature-dim", c.based.feature_dim, 1, 64);
  c.based.linear_heads = a.integer("--linear-heads", c.based.linear_heads, 1, 1 << 12);
  c.based.window_size = a.integer("--window", c.based.window_size, 2, 1 << 24);
  if (a.has("--layers")) {
    c.n_layers = a.integer("--layers", c.n_layers, 1, 1024);
    c.based.linear_layers.clear();
    c.based.window_layers.clear();
    for (int64_t l = 0; l < c.n_layers; ++l) {
      if (l % 5 == 1) c.based.linear_layers.push_back(l);
      if (l % 5 == 2) c.based.window_layers.push_back(l);
    }
  }
  if (c.d_model % c.n_heads != 0 || (c.d_model / c.n_heads) % 2 != 0)
    fail("--dim ", c.d_model, " / --heads ", c.n_heads, " must give an even head dim");
  if (c.d_model % c.based.linear_heads != 0)
    fail("--linear-heads ", c.based.linear_heads, " must divide --dim ", c.d_model);
  SynthOptions o;
  if (a.has("--weight-std"))
    o.weight_std = static_cast<float>(parse_float("--weight-std", a.str("--weight-std"), 0.0, 10.0));
  auto m = synthetic_based(c, static_cast<uint64_t>(a.integer("--seed", 1, 0, INT64_MAX)), o);
  if (a.has("--dtype")) {
    const DType t = parse_dtype(a.str("--dtype"));
    if (t != DType::F32 && t != DType::BF16 && t != DType::F16)
      fail("--dtype: expected f32, bf16 or f16 for a safetensors directory");
    m->convert_matrices(t);
  }
  write_hf_dir(out, *m);
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
  const std::string arch = a.str("--arch", "llama");
  if (arch != "llama" && arch != "mpt" && arch != "based")
    fail("--arch: expected llama, mpt or based, got '", arch, "'");
  if (arch == "based") {
    const std::string out = a.required("-o");
    synth_based(a, out);
    std::fprintf(stderr, "wrote %s\n", out.c_str());
    return 0;
  }
  for (const char* f : {"--preset", "--dtype", "--feature-dim", "--linear-heads", "--window"})
    if (a.has(f)) fail(f, ": applies to --arch based only");
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
