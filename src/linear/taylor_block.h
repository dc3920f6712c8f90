// Internal to src/linear: the packed feature map with its scales computed once, and the
// scalar-polynomial block shared by the chunked prefill (inside a chunk) and the f32 quadratic
// form (every key block).
#pragma once
#include <cmath>
#include <cstdint>

namespace lc::taylor_detail {

// Scales of the three blocks of phi (spec): 1 / f^(1/4), 1 / (sqrt(2) sqrt(f)), and for the
// packed off-diagonal terms (which stand for two equal entries of x x^T) sqrt(2) times the
// latter, 1 / sqrt(f).
struct FeatureScales {
  float lin, diag, off;
  explicit FeatureScales(int64_t f)
      : lin(static_cast<float>(1.0 / std::pow(static_cast<double>(f), 0.25))),
        diag(static_cast<float>(1.0 / (std::sqrt(2.0) * std::sqrt(static_cast<double>(f))))),
        off(static_cast<float>(1.0 / std::sqrt(static_cast<double>(f)))) {}
};

// The packed phi(x) (taylor.h), taylor_features(f) floats.
inline void feature_map(const float* x, int64_t f, const FeatureScales& sc, float* phi) {
  phi[0] = 1.0f;
  for (int64_t a = 0; a < f; ++a) phi[1 + a] = x[a] * sc.lin;
  float* p = phi + 1 + f;
  for (int64_t a = 0; a < f; ++a) {
    const float xa = x[a];
    *p++ = xa * xa * sc.diag;
    for (int64_t b = a + 1; b < f; ++b) *p++ = xa * x[b] * sc.off;
  }
}

// Query rows q[i*ldq .. +f), i < nq, against key rows kc[j*f .. +f) (contiguous), j < nk, with
// value rows v[j*ldv .. +dv). Key j is visible to query i when j <= i + offset (offset = position
// of the first query minus position of the first key). With w_ij = 1 + s + s^2/2,
// s = q_i . k_j / sqrt(f), on the visible pairs:
//   num[i*ldn + c] += sum_j w_ij v_jc,   den[i] += sum_j w_ij.
// Scratch: w [nq * nk], tmp [nq * dv].
void poly_block(const float* q, int64_t ldq, int64_t nq, const float* kc, int64_t nk,
                const float* v, int64_t ldv, int64_t f, int64_t dv, int64_t offset, float* w,
                float* tmp, float* num, int64_t ldn, float* den);

}  // namespace lc::taylor_detail
