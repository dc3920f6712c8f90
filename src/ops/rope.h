// RoPE frequencies (Su et al. 2021) with the position-scaling schemes that long-context
// checkpoints ship with. A RopeFreqs is computed once per model: inv_freq[i] for the head_dim/2
// rotation pairs, and the attention factor YaRN multiplies the logits by. Every rotation in the
// engine -- a token's query and key, a lambda global key's ceiling distance D, a TRAMS shift --
// takes its angles from the model's RopeFreqs, so a ceiling distance is applied to the scaled
// angles (angle_i = D * inv_freq[i]), never to unscaled ones.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lc::ops {

struct RopeScaling {
  enum class Type : uint8_t {
    None,    // inv_freq[i] = theta^(-2i/d)
    Linear,  // positions divided by factor: inv_freq[i] / factor
    Llama3,  // Llama 3.1: low frequencies / factor, high kept, a smooth ramp between
    Yarn,    // YaRN (Peng et al. 2023): ramp between interpolation and extrapolation per pair,
             // logits scaled by attention_factor^2
  };
  Type type = Type::None;
  double factor = 1.0;            // Linear, Llama3, Yarn (> 0)
  double low_freq_factor = 1.0;   // Llama3
  double high_freq_factor = 4.0;  // Llama3 (> low_freq_factor)
  double original_ctx = 0;        // Llama3, Yarn: the context before extension (> 0)
  double beta_fast = 32.0;        // Yarn: ramp bounds in rotations over original_ctx
  double beta_slow = 1.0;
  double attention_factor = 0;  // Yarn: multiplies cos and sin; 0 = derived (0.1 ln(factor) + 1,
                                // or the mscale / mscale_all_dim ratio when both are given)
  double mscale = 0, mscale_all_dim = 0;
  // GGUF `rope_freqs.weight` (llama.cpp's Llama 3 files): inv_freq[i] /= freq_factors[i], on
  // top of `type`. Empty = none.
  std::vector<float> freq_factors;
};

const char* rope_scaling_name(RopeScaling::Type t);
// YaRN's attention factor when none is given: 0.1 ln(factor) + 1 (1 for factor <= 1). llama.cpp's
// GGUF `rope.scaling.attn_factor` multiplies this; transformers' `attention_factor` replaces it.
double yarn_default_attention_factor(double factor);
// "linear" | "llama3" | "yarn" | "none"/"default"; anything else fails naming the value.
RopeScaling::Type parse_rope_scaling(const std::string& name, const std::string& where);

class RopeFreqs {
 public:
  RopeFreqs() = default;
  // Fails (one line) on a scaling whose parameters are out of range for head_dim.
  RopeFreqs(int64_t head_dim, double theta, const RopeScaling& scaling = {});

  // cos/sin of pos * inv_freq[i], i in [0, head_dim/2), in double precision (positions beyond
  // 10^8 stay exact to float rounding).
  void angles(double pos, float* cos, float* sin) const;
  int64_t head_dim() const { return head_dim_; }
  const std::vector<double>& inv_freq() const { return inv_freq_; }
  // YaRN's factor on cos and sin (1 otherwise); the model applies it as attention_factor^2 on
  // each query, which equals scaling both the query and the key and keeps cached keys plain.
  double attention_factor() const { return attention_factor_; }

 private:
  int64_t head_dim_ = 0;
  std::vector<double> inv_freq_;
  double attention_factor_ = 1.0;
};

}  // namespace lc::ops
