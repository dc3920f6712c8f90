// ISA-independent pieces of ops.h: RoPE angles and the threaded matmul driver.
#include <cmath>

#include "core/thread_pool.h"
#include "ops/ops.h"

namespace lc::ops {

void rope_angles(double pos, int64_t head_dim, double theta, float* cos, float* sin) {
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    double inv_freq = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    double angle = std::fmod(pos * inv_freq, 2.0 * M_PI);
    cos[i] = static_cast<float>(std::cos(angle));
    sin[i] = static_cast<float>(std::sin(angle));
  }
}

void matmul(ThreadPool& pool, const WeightView& W, const float* X, int64_t N, float* Y) {
  GemmFn fn = gemm_for(kernels(), W.dtype);
  // 16-row grain keeps each thread's slice a multiple of the kernels' row tiles.
  pool.run_sized(W.rows * W.cols * N, [&](int t, int nt) {
    int64_t m0, m1;
    ThreadPool::split_range(W.rows, 16, t, nt, &m0, &m1);
    if (m0 < m1) fn(W.data, W.cols, X, W.cols, N, Y, W.rows, m0, m1);
  });
}

}  // namespace lc::ops
