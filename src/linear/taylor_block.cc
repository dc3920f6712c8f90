#include "linear/taylor_block.h"

#include <algorithm>
#include <cmath>

#include "ops/ops.h"

namespace lc::taylor_detail {

void poly_block(const float* q, int64_t ldq, int64_t nq, const float* kc, int64_t nk,
                const float* v, int64_t ldv, int64_t f, int64_t dv, int64_t offset, float* w,
                float* tmp, float* num, int64_t ldn, float* den) {
  if (nq <= 0 || nk <= 0) return;
  const ops::KernelTable& K = ops::kernels();
  // Raw dot products q_i . k_j, all nk columns (the masked ones are overwritten below).
  K.gemm_f32(kc, f, q, ldq, nq, w, nk, 0, nk);
  const float inv_sqrt_f = static_cast<float>(1.0 / std::sqrt(static_cast<double>(f)));
  for (int64_t i = 0; i < nq; ++i) {
    float* row = w + i * nk;
    const int64_t visible = std::clamp<int64_t>(i + offset + 1, 0, nk);
    float sum = 0.0f;
    for (int64_t j = 0; j < visible; ++j) {
      const float s = row[j] * inv_sqrt_f;
      row[j] = 1.0f + s * (1.0f + 0.5f * s);
      sum += row[j];
    }
    for (int64_t j = visible; j < nk; ++j) row[j] = 0.0f;
    den[i] += sum;
  }
  // Values, 4 rows at a time (the kernel's row block), each over the keys that block can see.
  for (int64_t r0 = 0; r0 < nq; r0 += 4) {
    const int64_t rows = std::min<int64_t>(4, nq - r0);
    const int64_t keys = std::clamp<int64_t>(r0 + rows + offset, 0, nk);
    if (keys == 0) continue;
    K.weighted_sum(w + r0 * nk, nk, rows, v, ldv, keys, dv, tmp, dv);
    for (int64_t r = 0; r < rows; ++r) K.axpy(1.0f, tmp + r * dv, num + (r0 + r) * ldn, dv);
  }
}

}  // namespace lc::taylor_detail
