#include "linear/baseconv.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/thread_pool.h"
#include "ops/ops.h"

namespace lc {

BaseConvState::BaseConvState(int64_t channels)
    : channels_(channels), stride_((channels + 15) / 16 * 16) {
  check(channels >= 1, "BaseConv: channels = ", channels, " must be >= 1");
  hist_.resize(static_cast<size_t>(2 * stride_));
}

void BaseConvState::reset() {
  if (hist_.size()) std::memset(hist_.data(), 0, hist_.bytes());
  tokens_ = 0;
}

namespace {

// Output rows [t0, t1) of a call over n tokens (the state holds the two rows before it).
void conv_rows(BaseConvState& st, const float* weight, const float* u1, const float* u2,
               int64_t ld_u, int64_t t0, int64_t t1, float* out, int64_t ld_out) {
  const ops::KernelTable& K = ops::kernels();
  const int64_t ch = st.channels();
  for (int64_t t = t0; t < t1; ++t) {
    // u1[t-1] and u1[t-2]: from this call's rows, or from the state for the first two.
    const float* m1 = t >= 1 ? u1 + (t - 1) * ld_u : st.newer();
    const float* m2 = t >= 2 ? u1 + (t - 2) * ld_u : t == 1 ? st.newer() : st.older();
    const float* x = u1 + t * ld_u;
    float* o = out + t * ld_out;
    for (int64_t c = 0; c < ch; ++c) {
      const float* w = weight + c * kBaseConvKernel;
      o[c] = w[0] * m2[c] + w[1] * m1[c] + w[2] * x[c];
    }
    K.silu_mul(o, u2 + t * ld_u, ch);
  }
}

}  // namespace

void baseconv_forward(ThreadPool& pool, BaseConvState& st, const float* weight, const float* u1,
                      const float* u2, int64_t ld_u, int64_t n, float* out, int64_t ld_out) {
  const int64_t ch = st.channels_;
  check(ch >= 1, "BaseConv: state not initialised");
  check(n >= 0, "BaseConv: n = ", n, " tokens");
  check(n == 0 || (ld_u >= ch && ld_out >= ch), "BaseConv: row strides ", ld_u, " / ", ld_out,
        " < channels = ", ch);
  if (n == 0) return;
  pool.run_sized(n * ch * 8, [&](int t, int nt) {
    int64_t b, e;
    ThreadPool::split_range(n, 1, t, nt, &b, &e);
    if (b < e) conv_rows(st, weight, u1, u2, ld_u, b, e, out, ld_out);
  });
  // Keep the last two u1 rows of the whole sequence.
  if (n >= 2) {
    std::memcpy(st.older(), u1 + (n - 2) * ld_u, sizeof(float) * ch);
  } else {
    std::memcpy(st.older(), st.newer(), sizeof(float) * ch);
  }
  std::memcpy(st.newer(), u1 + (n - 1) * ld_u, sizeof(float) * ch);
  st.tokens_ += n;
}

void baseconv_forward(BaseConvState& st, const float* weight, const float* u1, const float* u2,
                      int64_t ld_u, int64_t n, float* out, int64_t ld_out) {
  ThreadPool serial(1);  // runs inline, allocates nothing
  baseconv_forward(serial, st, weight, u1, u2, ld_u, n, out, ld_out);
}

void baseconv_reference(int64_t channels, const float* weight, const float* u1, const float* u2,
                        int64_t ld_u, int64_t n, float* out, int64_t ld_out) {
  for (int64_t t = 0; t < n; ++t)
    for (int64_t c = 0; c < channels; ++c) {
      double conv = 0;
      for (int64_t i = 0; i < kBaseConvKernel; ++i) {
        const int64_t src = t - (kBaseConvKernel - 1) + i;  // w[i] multiplies u1[t - 2 + i]
        if (src >= 0)
          conv += static_cast<double>(weight[c * kBaseConvKernel + i]) * u1[src * ld_u + c];
      }
      const double silu = conv / (1.0 + std::exp(-conv));
      out[t * ld_out + c] = static_cast<float>(silu * u2[t * ld_u + c]);
    }
}

}  // namespace lc
