// The prefill product with transposed activations (KernelTable::gemm_xt_*; ops.h, GemmXtFn),
// written once against the vector wrapper V of kernels_impl.h, under the same rules (templates on
// V only; no std:: containers or other inline functions shared with the baseline files).
//
// matmul transposes X once per call (pack_xt): xt holds, for each block of nb = V::kXtChunks *
// kLanes rows of X, a [K][nb] array (row n of X is lane n % nb; lanes past N are zero). The
// micro-kernel then runs the product as outer products, like the flash tile: a W element broadcast
// against up to kXtChunks vectors of tokens, kXtRows rows of W at a time (AVX-512: 6 x 4 = 24
// accumulators), with no horizontal reductions and no re-reading of X from L2: a K block of xt
// (kXtKb x nb floats, 32 KiB on AVX-512) stays in L1 while every row of W in the chunk passes over
// it. The partial sums of a chunk of kXtMb rows of W live in a transposed output tile yt [rows][nb]
// on the stack and go to Y at the end of the chunk.
#pragma once
#include <cstdint>

#include "ops/kernels_impl.h"
#include "ops/ops.h"

namespace lc::ops::impl {

constexpr int64_t kXtKb = 128;  // K block of xt (AVX-512: 128 x 64 floats = 32 KiB)
constexpr int64_t kXtMb = 96;   // rows of W per output tile (AVX-512: 96 x 64 floats = 24 KiB)

// yt[i][c-th vector] (+)= sum_k w[i][k] * xt[k][c-th vector] for RM rows i, C vectors, k < kl.
template <class V, int C, int RM>
inline void xt_micro(const float* const* w, const float* xt, int64_t ldn, int64_t kl, float* yt,
                     bool first) {
  using F = typename V::F;
  constexpr int64_t L = V::kLanes;
  F acc[RM][C];
  for (int i = 0; i < RM; ++i)
    for (int c = 0; c < C; ++c) acc[i][c] = first ? V::zero() : V::load(yt + i * ldn + c * L);
  for (int64_t k = 0; k < kl; ++k) {
    F xv[C];
    for (int c = 0; c < C; ++c) xv[c] = V::load(xt + k * ldn + c * L);
    for (int i = 0; i < RM; ++i) {
      const F b = V::set1(w[i][k]);
      for (int c = 0; c < C; ++c) acc[i][c] = V::fmadd(b, xv[c], acc[i][c]);
    }
  }
  for (int i = 0; i < RM; ++i)
    for (int c = 0; c < C; ++c) V::store(yt + i * ldn + c * L, acc[i][c]);
}

// One block of nb rows of X (C vectors of them valid) against W rows [m0, m1).
template <class V, class WT, int C>
void gemm_xt_block(const WT* W, int64_t K, const float* xt, int64_t nl, float* Y, int64_t ldy,
                   int64_t m0, int64_t m1) {
  constexpr int RM = V::kXtRows;
  constexpr int64_t L = V::kLanes, nb = V::kXtChunks * L;
  constexpr bool kConvert = !std::is_same_v<WT, float>;
  alignas(64) float yt[(kXtMb + RM) * nb];
  alignas(64) float wbuf[kConvert ? RM * kXtKb : 1];
  for (int64_t mc = m0; mc < m1; mc += kXtMb) {
    const int64_t ml = imin(kXtMb, m1 - mc);
    for (int64_t k0 = 0; k0 < K; k0 += kXtKb) {
      const int64_t kl = imin(kXtKb, K - k0);
      for (int64_t m = mc; m < mc + ml; m += RM) {
        const int rows = static_cast<int>(imin<int64_t>(RM, mc + ml - m));
        const float* w[RM];
        for (int i = 0; i < RM; ++i) {
          // Rows past the chunk repeat its last row; their results land past ml and are dropped.
          const WT* src = W + (m + imin(i, rows - 1)) * K + k0;
          if constexpr (kConvert) {
            float* dst = wbuf + i * kXtKb;
            if (i < rows) {
              int64_t k = 0;
              for (; k + L <= kl; k += L) V::store(dst + k, V::load(src + k));
              if (k < kl) {
                const int r = static_cast<int>(kl - k);
                V::store_n(dst + k, V::load_n(src + k, r), r);
              }
            }
            w[i] = i < rows ? dst : w[rows - 1];
          } else {
            w[i] = src;
          }
        }
        xt_micro<V, C, RM>(w, xt + k0 * nb, nb, kl, yt + (m - mc) * nb, k0 == 0);
      }
    }
    for (int64_t n = 0; n < nl; ++n)
      for (int64_t i = 0; i < ml; ++i) Y[n * ldy + mc + i] = yt[i * nb + n];
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
