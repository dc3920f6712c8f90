// The prefill product with transposed activations (KernelTable::gemm_xt_*; ops.h, GemmXtFn),
// written once against the vector wrapper V of kernels_impl.h, under the same rules (templates on
// V only; no std:: containers or other inline functions shared with the baseline files).
// EXPERIMENTAL: faster than gemm_* in bench/kernel_lab, not in the model (ops.h), so matmul does
// not use it.
//
// X is transposed once per call (pack_xt): xt holds, for each block of nb = V::kXtChunks *
// kLanes rows of X, a [K][nb] array (row n of X is lane n % nb; lanes past N are zero). The
// micro-kernel then runs the product as outer products, like the flash tile: a W element broadcast
// against up to kXtChunks vectors of tokens, kXtRows rows of W at a time (AVX-512: 6 x 4 = 24
// accumulators), with no horizontal reductions. The accumulators cover all of K (xt, K x nb
// floats, is read from L2; W's rows stream once per block of tokens, prefetched), and each
// kXtRows x nb result goes through a small transposed tile on the stack into Y.
#pragma once
#include <cstdint>

#include "ops/kernels_impl.h"
#include "ops/ops.h"

namespace lc::ops::impl {

// One weight element as float (templates on V, as the rules above ask).
template <class V>
inline float xt_scalar(float x) {
  return x;
}
template <class V>
inline float xt_scalar(Bf16 x) {
  return __builtin_bit_cast(float, static_cast<uint32_t>(x.bits) << 16);
}
template <class V>
inline float xt_scalar(Fp16 x) {
  return V::half(x.bits);
}

// yt[i][c-th vector] = sum_k w_i[k] * xt[k][c-th vector] for RM rows i of W (type WT, row stride
// K), C vectors, all of K: the accumulators stay in registers over K, W's rows are read as RM
// sequential streams (prefetched kPrefetchBytes ahead, as in gemv), xt from L2.
template <class V, class WT, int C, int RM>
inline void xt_micro(const WT* const* w, const float* xt, int64_t ldn, int64_t K, float* yt) {
  using F = typename V::F;
  constexpr int64_t L = V::kLanes;
  constexpr int64_t kAhead = kPrefetchBytes / static_cast<int64_t>(sizeof(WT));
  constexpr int64_t kLine = 64 / static_cast<int64_t>(sizeof(WT));
  F acc[RM][C];
  for (int i = 0; i < RM; ++i)
    for (int c = 0; c < C; ++c) acc[i][c] = V::zero();
  for (int64_t k = 0; k < K; ++k) {
    if (k % kLine == 0 && k + kAhead < K)
      for (int i = 0; i < RM; ++i) prefetch<false>(w[i] + k + kAhead);
    F xv[C];
    for (int c = 0; c < C; ++c) xv[c] = V::load(xt + k * ldn + c * L);
    for (int i = 0; i < RM; ++i) {
      const F b = V::set1(xt_scalar<V>(w[i][k]));
      for (int c = 0; c < C; ++c) acc[i][c] = V::fmadd(b, xv[c], acc[i][c]);
    }
  }
  for (int i = 0; i < RM; ++i)
    for (int c = 0; c < C; ++c) V::store(yt + i * ldn + c * L, acc[i][c]);
}

// One block of nb rows of X (C vectors of them, nl rows valid) against W rows [m0, m1).
template <class V, class WT, int C>
void gemm_xt_block(const WT* W, int64_t K, const float* xt, int64_t nl, float* Y, int64_t ldy,
                   int64_t m0, int64_t m1) {
  constexpr int RM = V::kXtRows;
  constexpr int64_t nb = V::kXtChunks * V::kLanes;
  alignas(64) float yt[RM * nb];
  for (int64_t m = m0; m < m1; m += RM) {
    const int rows = static_cast<int>(imin<int64_t>(RM, m1 - m));
    // Rows past m1 repeat the last valid row; their results are not stored.
    const WT* w[RM];
    for (int i = 0; i < RM; ++i) w[i] = W + (m + imin(i, rows - 1)) * K;
    xt_micro<V, WT, C, RM>(w, xt, nb, K, yt);
    for (int64_t n = 0; n < nl; ++n)
      for (int i = 0; i < rows; ++i) Y[n * ldy + m + i] = yt[i * nb + n];
  }
}

template <class V, class WT>
void gemm_xt(const void* W, int64_t K, const float* xt, int64_t N, float* Y, int64_t ldy,
             int64_t m0, int64_t m1) {
  constexpr int64_t L = V::kLanes, nb = V::kXtChunks * L;
  if (N <= 0 || m1 <= m0) return;
  if (K <= 0) {
    for (int64_t n = 0; n < N; ++n)
      for (int64_t m = m0; m < m1; ++m) Y[n * ldy + m] = 0.0f;
    return;
  }
  const WT* w = static_cast<const WT*>(W);
  for (int64_t n0 = 0; n0 < N; n0 += nb) {
    const int64_t nl = imin(nb, N - n0);
    const float* x = xt + n0 * K;  // block n0 / nb: [K][nb]
    float* y = Y + n0 * ldy;
    switch ((nl + L - 1) / L) {
      case 1:
        gemm_xt_block<V, WT, 1>(w, K, x, nl, y, ldy, m0, m1);
        break;
      case 2:
        gemm_xt_block<V, WT, 2>(w, K, x, nl, y, ldy, m0, m1);
        break;
      case 3:
        if constexpr (V::kXtChunks >= 3) gemm_xt_block<V, WT, 3>(w, K, x, nl, y, ldy, m0, m1);
        break;
      default:
        if constexpr (V::kXtChunks >= 4) gemm_xt_block<V, WT, 4>(w, K, x, nl, y, ldy, m0, m1);
        break;
    }
  }
}

}  // namespace lc::ops::impl
