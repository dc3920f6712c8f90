// Internal to src/linear: the scalar-polynomial block shared by the chunked prefill (inside a
// chunk) and the f32 quadratic form (every key block).
#pragma once
#include <cstdint>

namespace lc::taylor_detail {

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
