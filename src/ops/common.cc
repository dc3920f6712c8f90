// ISA-independent pieces of ops.h: RoPE angles and the threaded matmul driver.
#include <atomic>
#include <cmath>

#include "core/thread_pool.h"
#include "ops/ops.h"

namespace lc::ops {

void rope_angles(double pos, int64_t head_dim, double theta, float* cos, float* sin) {
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    double inv_freq =
        std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    double angle = std::fmod(pos * inv_freq, 2.0 * M_PI);
    cos[i] = static_cast<float>(std::cos(angle));
    sin[i] = static_cast<float>(std::sin(angle));
  }
}

void matmul(ThreadPool& pool, const WeightView& W, const float* X, int64_t N, float* Y) {
  GemmFn fn = gemm_for(kernels(), W.dtype);
  if (N == 1) {
    // Decode: a static split (16-row grain, a multiple of the kernels' row tiles) keeps each
    // thread on the same rows every token.
    pool.run_sized(W.rows * W.cols, [&](int t, int nt) {
      int64_t m0, m1;
      ThreadPool::split_range(W.rows, 16, t, nt, &m0, &m1);
      if (m0 < m1) fn(W.data, W.cols, X, W.cols, N, Y, W.rows, m0, m1);
    });
    return;
  }
  // Many rows (prefill, batched decode): the threads take chunks of W's rows from a shared
  // counter. The two cores of the dev VM do not run at the same speed (a static half left the
  // calling thread waiting 5.9% of a 2K BASED prefill; docs/perf/based_vs_llama.md, "follow-up
  // 2"), and each row of Y is the same sum whichever thread computes it, so the result does not
  // change. About 6 chunks per thread, each a multiple of 64 rows (whole tiles of every kernel).
  constexpr int64_t kGrain = 64;
  const int64_t target = (W.rows + 6 * pool.size() - 1) / (6 * pool.size());
  const int64_t chunk = (target + kGrain - 1) / kGrain * kGrain;
  std::atomic<int64_t> next{0};
  pool.run_sized(W.rows * W.cols * N, [&](int, int nt) {
    if (nt == 1) return fn(W.data, W.cols, X, W.cols, N, Y, W.rows, 0, W.rows);
    for (;;) {
      const int64_t m0 = next.fetch_add(chunk, std::memory_order_relaxed);
      if (m0 >= W.rows) return;
      fn(W.data, W.cols, X, W.cols, N, Y, W.rows, m0, m0 + chunk < W.rows ? m0 + chunk : W.rows);
    }
  });
}

}  // namespace lc::ops
