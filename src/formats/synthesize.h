// What `longctx synth-model` builds, as one request: an architecture from synth_architectures(),
// the sizes the user gave, and the options. synthesize_model() checks the request (its errors
// name the command-line flags, since that is where a request comes from) and writes the model:
//   llama  a llama2.c .bin file (weights ~ N(0, 0.02^2));
//   mpt    a Hugging Face MPT directory (ALiBi, LayerNorm, GELU, fused Wqkv);
//   based  a Hugging Face BASED directory in the released checkpoints' layout, sized by a
//          preset with any size overridden.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace lc {

struct SynthRequest {
  std::string arch = "llama";  // one of synth_architectures()
  // Sizes (unset = not given). llama and mpt need d_model, n_layers, n_heads, vocab_size and
  // ctx_len; llama needs hidden too (mpt: 4 * d_model); n_kv_heads defaults to n_heads. For
  // based, an unset size is the preset's; hidden is rounded up to a multiple of 256 (as
  // n_inner is), n_kv_heads is n_heads, and giving n_layers lays the layers out as the
  // released models do (i % 5 == 1 linear attention, i % 5 == 2 sliding window, else BaseConv).
  std::optional<int64_t> d_model, hidden, n_layers, n_heads, n_kv_heads, vocab_size, ctx_len;
  uint64_t seed = 1;
  bool unshared_classifier = false;      // llama, mpt: an output matrix of its own
  std::optional<float> weight_std;       // mpt, based (default 0.02)
  std::optional<double> alibi_bias_max;  // mpt (default 8)
  // based only:
  std::optional<std::string> preset;  // tiny (default), based-360m, based-1b
  std::optional<DType> dtype;         // f32 (default), bf16 or f16 matrices
  std::optional<int64_t> feature_dim, linear_heads, window;
};

// The architectures synthesize_model() writes, in the order error messages list them.
const std::vector<std::string>& synth_architectures();

// Checks `request` and writes the model to `out` (a file for llama, a directory otherwise; empty
// is the error "synth-model: -o is required").
// Throws lc::Error naming the flag at fault: "--arch: expected llama, mpt or based, got 'x'",
// "--preset: applies to --arch based only", "synth-model: --dim is required", ...
void synthesize_model(const SynthRequest& request, const std::string& out);

}  // namespace lc
