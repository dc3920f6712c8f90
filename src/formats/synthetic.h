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
  float weight_std = 0.02f;   // matrices ~ N(0, weight_std^2)
  float norm_jitter = 0.0f;   // norm weights ~ 1 + N(0, norm_jitter^2)
  double alibi_bias_max = 8.0;
};

// Appends an owned f32 tensor `name` of `shape`, filled with offset + std * N(0, 1) from rng.
void add_random_tensor(ModelFile& m, const std::string& name, std::vector<int64_t> shape,
                       Rng& rng, float std, float offset = 0.0f);

// An MPT model (LayerNorm without bias, ALiBi, fused Wqkv [q | k | v], GELU MLP of width
// spec.hidden, tied embeddings unless !spec.shared_classifier), seeded by spec.seed.
std::unique_ptr<ModelFile> synthetic_mpt(const SynthSpec& spec, const SynthOptions& opt = {});

}  // namespace lc
