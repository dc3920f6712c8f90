// The explicit causal n x n form (spec form 1) in f32: for each head, query blocks of kBlock rows
// against every key block at or before them, the scalar polynomial (taylor_block.h) on each. No
// state; O(n^2) work. For tests and for timing against the chunked prefill.
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "linear/taylor.h"
#include "linear/taylor_block.h"

namespace lc {

void taylor_quadratic(ThreadPool& pool, const TaylorShape& s, const float* q, const float* k,
                      const float* v, int64_t n, float* out) {
  check(n >= 0 && s.n_heads >= 1 && s.feature_dim >= 1 && s.head_dim >= 1,
        "linear attention (quadratic): bad shape or n = ", n);
  if (n == 0) return;
  constexpr int64_t kBlock = 64;
  const int64_t f = s.feature_dim, dv = s.head_dim;
  const int64_t qd = s.n_heads * f, vd = s.n_heads * dv;
  // Per thread: the head's keys contiguous [n][f], weights [B][B], tmp [B][dv], den [B].
  const int64_t per_thread = n * f + kBlock * kBlock + kBlock * dv + kBlock;
  std::vector<float> scratch(static_cast<size_t>(per_thread * pool.size()));
  pool.run([&](int t, int nt) {
    int64_t b, e;
    ThreadPool::split_range(s.n_heads, 1, t, nt, &b, &e);
    float* keys = scratch.data() + t * per_thread;
    float* w = keys + n * f;
    float* tmp = w + kBlock * kBlock;
    float* den = tmp + kBlock * dv;
    for (int64_t h = b; h < e; ++h) {
      for (int64_t j = 0; j < n; ++j)
        std::memcpy(keys + j * f, k + j * qd + h * f, sizeof(float) * f);
      for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
        const int64_t nq = std::min(kBlock, n - i0);
        float* o = out + i0 * vd + h * dv;
        for (int64_t i = 0; i < nq; ++i) std::memset(o + i * vd, 0, sizeof(float) * dv);
        std::fill(den, den + nq, 0.0f);
        for (int64_t j0 = 0; j0 <= i0; j0 += kBlock) {
          const int64_t nk = std::min(kBlock, n - j0);
          taylor_detail::poly_block(q + i0 * qd + h * f, qd, nq, keys + j0 * f, nk,
                                    v + j0 * vd + h * dv, vd, f, dv, i0 - j0, w, tmp, o, vd, den);
        }
        for (int64_t i = 0; i < nq; ++i) {
          const float d = den[i] + kTaylorEps;
          for (int64_t c = 0; c < dv; ++c) o[i * vd + c] /= d;
        }
      }
    }
  });
}

}  // namespace lc
