// Next-token selection: greedy (temperature 0), or temperature sampling optionally restricted
// to the top-k tokens and/or the smallest set whose probability mass reaches top-p. Seeded.
// Buffers are allocated once at construction; sample() does not allocate.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "core/rng.h"

namespace lc {

struct SamplerOptions {
  float temperature = 1.0f;  // 0 = greedy
  int64_t top_k = 0;         // 0 = off
  float top_p = 1.0f;        // 1 = off
  uint64_t seed = 42;
};

class Sampler {
 public:
  Sampler(int64_t vocab_size, const SamplerOptions& opt);
  // Picks a token from logits[0, n) (n <= vocab_size). logits are not modified.
  int sample(const float* logits, int64_t n);
  static int argmax(const float* logits, int64_t n);  // first maximum

 private:
  SamplerOptions opt_;
  Rng rng_;
  std::vector<std::pair<float, int>> cand_;  // (probability, id)
};

}  // namespace lc
