// LayerNorm (no bias) and exact GELU: the MPT-family pieces of ops.h. Plain loops; both are
// O(d) per token against the O(d^2) matmuls around them.
#include <cmath>

#include "ops/ops.h"

namespace lc::ops {

void layernorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  double var = 0;  // two passes: no cancellation when |mean| >> std
  for (int64_t i = 0; i < n; ++i) {
    const double d = x[i] - mean;
    var += d * d;
  }
  const float inv = static_cast<float>(1.0 / std::sqrt(var / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * inv * w[i];
}

void gelu(float* x, int64_t n) {
  constexpr float kInvSqrt2 = 0.70710678118654752f;
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * kInvSqrt2));
}

}  // namespace lc::ops
