// Random-weight checkpoints in memory, for tests and benchmarks at real shapes. The llama2.c
// writer (formats/llama2c.h) streams straight to a file; this builds a ModelFile (owned f32
// tensors under canonical names) for architectures written as Hugging Face directories.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/rng.h"
#include "formats/llama2c.h"
#include "formats/model_file.h"

namespace lc {

struct SynthOptions {
  float weight_std = 0.02f;  // matrices ~ N(0, weight_std^2)
  float norm_jitter = 0.0f;  // norm weights ~ 1 + N(0, norm_jitter^2)
  double alibi_bias_max = 8.0;
};

// Appends an owned f32 tensor `name` of `shape`, filled with offset + std * N(0, 1) from rng.
void add_random_tensor(ModelFile& m, const std::string& name, std::vector<int64_t> shape, Rng& rng,
                       float std, float offset = 0.0f);

// An MPT model (LayerNorm without bias, ALiBi, fused Wqkv [q | k | v], GELU MLP of width
// spec.hidden, tied embeddings unless !spec.shared_classifier), seeded by spec.seed.
std::unique_ptr<ModelFile> synthetic_mpt(const SynthSpec& spec, const SynthOptions& opt = {});

// A BASED model (../shared/specs/based.md) in the released checkpoints' layout. `config` gives
// every size (arch, d_model, n_layers, n_heads, hidden, vocab_size, ctx_len, norm_eps,
// rope_theta and config.based; based.padded_vocab is recomputed); weights ~ N(0, weight_std^2),
// biases ~ N(0, weight_std^2), norms ~ 1 + N(0, norm_jitter^2), conv kernels ~ N(0, 1/3).
std::unique_ptr<ModelFile> synthetic_based(const ModelConfig& config, uint64_t seed,
                                           const SynthOptions& opt = {});

// The configs of `longctx synth-model --arch based --preset P`: "tiny" (d 64, 5 layers: conv,
// linear, window, conv, conv; vocab 250 padded to 256), "based-360m", "based-1b".
ModelConfig based_preset(const std::string& preset);

}  // namespace lc
