// BaseConv, BASED's gated short convolution (../shared/specs/based.md, "BaseConv layers"): the
// core between in_proj and out_proj (both matmuls with bias, the caller's job):
//
//   c[t] = w[0] u1[t-2] + w[1] u1[t-1] + w[2] u1[t]   per channel (depthwise, causal, no bias;
//                                                      u1[t] = 0 before the sequence starts)
//   y[t] = silu(c[t]) * u2[t]
//
// with channels = 2d, u1 / u2 the two halves of in_proj's output. The decode state is the last
// two u1 rows; every call continues from it, so decode is forward() with n = 1.
#pragma once
#include <cstdint>

#include "core/aligned.h"

namespace lc {

class ThreadPool;

inline constexpr int64_t kBaseConvKernel = 3;  // always 3 (the config's kernel_sizes is ignored)

class BaseConvState {
 public:
  BaseConvState() = default;
  explicit BaseConvState(int64_t channels);

  // Forgets the sequence (the previous u1 rows become zeros).
  void reset();

  int64_t channels() const { return channels_; }
  int64_t tokens() const { return tokens_; }
  // u1[t-2] and u1[t-1] for the next token t.
  float* older() { return hist_.data(); }
  float* newer() { return hist_.data() + stride_; }
  size_t bytes() const { return hist_.bytes(); }

 private:
  friend void baseconv_forward(ThreadPool&, BaseConvState&, const float*, const float*,
                               const float*, int64_t, int64_t, float*, int64_t);
  int64_t channels_ = 0, stride_ = 0, tokens_ = 0;
  AlignedBuffer<float> hist_;  // [2][stride_ >= channels]
};

// The next n >= 0 tokens. weight: [channels][3] (the checkpoint's conv.conv.weight [2d, 1, 3]);
// u1, u2: rows at u1 + t*ld_u, u2 + t*ld_u (for in_proj's [n, 4d] output: u2 = u1 + 2d,
// ld_u = 4d); out: rows at out + t*ld_out, not overlapping u1 or u2. No allocation.
void baseconv_forward(BaseConvState& state, const float* weight, const float* u1, const float* u2,
                      int64_t ld_u, int64_t n, float* out, int64_t ld_out);
// The same with the tokens split over the pool (each output row depends only on the input rows
// and the state, so the result is identical to the call above).
void baseconv_forward(ThreadPool& pool, BaseConvState& state, const float* weight, const float* u1,
                      const float* u2, int64_t ld_u, int64_t n, float* out, int64_t ld_out);

// The same over a fresh sequence, computed the slow obvious way in double, for tests.
void baseconv_reference(int64_t channels, const float* weight, const float* u1, const float* u2,
                        int64_t ld_u, int64_t n, float* out, int64_t ld_out);

}  // namespace lc
