// The llama2.c "legacy" checkpoint format (see ../shared/assets/README.md): a header of 7 int32
// (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; negative vocab_size =
// unshared classifier), then f32 arrays in a fixed order. The file size must match exactly.
#pragma once
#include <memory>
#include <string>

#include "core/mmap.h"
#include "core/rng.h"
#include "formats/model_file.h"

namespace lc {

// Validates the header and the exact file size, then exposes the weights in place (no copy).
std::unique_ptr<ModelFile> load_llama2c(MappedFile file);
// The same over caller-owned memory (which must outlive the result); `name` is used in errors.
std::unique_ptr<ModelFile> load_llama2c_from_memory(const uint8_t* data, size_t size,
                                                    const std::string& name);

struct SynthSpec {
  int64_t d_model, hidden, n_layers, n_heads, n_kv_heads, vocab_size, ctx_len;
  uint64_t seed = 1;
  bool shared_classifier = true;
};
// Writes a random-weight model in llama2.c format (weights ~ N(0, 0.02^2), norms 1) to `path`
// atomically: a temporary file is written and renamed, so an error never leaves a partial file.
void write_synthetic_llama2c(const std::string& path, const SynthSpec& spec);

}  // namespace lc
