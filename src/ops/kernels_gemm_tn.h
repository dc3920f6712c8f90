// The weight-gradient product (KernelTable::gemm_tn; ops.h, GemmTnFn), written once against the
// vector wrapper V of kernels_impl.h, under the same rules (templates on V only; no std::
// containers or other inline functions shared with the baseline files).
//
// C[m, k] += sum_n A[n, m] B[n, k]: both operands are read as stored (A = dY, B = X of a linear
// layer, rows along n), so neither is transposed. The micro-kernel runs outer products, like
// gemm_xt: V::kTnRows elements of an A row broadcast against V::kTnChunks vectors of the B row,
// V::kTnRows x kTnChunks accumulators held over a block of kGemmTnBlock rows n. Loop nest (outer
// to inner): blocks of n; column tiles of B (kTnChunks vectors; the block's tile, 128 x 64 floats
// on AVX-512, stays in L1); groups of kTnRows rows m, whose A columns (one or two lines per n)
// stay in L1 across the column tiles. Each block's sums are added to C in block order, so every
// element gets the same additions in the same order whatever [m0, m1) a thread owns.
#pragma once
#include <cstdint>

#include "ops/kernels_impl.h"
#include "ops/ops.h"

namespace lc::ops::impl {

// acc[i][c] = sum_{j < n} a[j * lda + off_i] * b[j * ldb + c * L] for RM rows (off_i: row i, or the
// last valid row for i >= rows), then C rows i < rows += acc; the last of C vectors holds `tail`
// lanes (L when kFull). The loops over i and c have compile-time bounds only (a runtime bound on
// the final stores made GCC 12 keep acc in memory, stored on every j).
template <class V, int C, int RM, bool kFull>
inline void tn_micro(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t n, int rows,
                     int tail, float* c, int64_t ldc) {
  using F = typename V::F;
  constexpr int64_t L = V::kLanes;
  int64_t off[RM];
  for (int i = 0; i < RM; ++i) off[i] = imin(i, rows - 1);
  F acc[RM][C];
  for (int i = 0; i < RM; ++i)
    for (int cc = 0; cc < C; ++cc) acc[i][cc] = V::zero();
  for (int64_t j = 0; j < n; ++j) {
    const float* bj = b + j * ldb;
    const float* aj = a + j * lda;
    F bv[C];
    for (int cc = 0; cc + 1 < C; ++cc) bv[cc] = V::load(bj + cc * L);
    if constexpr (kFull)
      bv[C - 1] = V::load(bj + (C - 1) * L);
    else
      bv[C - 1] = V::load_n(bj + (C - 1) * L, tail);
    for (int i = 0; i < RM; ++i) {
      const F s = V::set1(aj[off[i]]);
      for (int cc = 0; cc < C; ++cc) acc[i][cc] = V::fmadd(s, bv[cc], acc[i][cc]);
    }
  }
  for (int i = 0; i < RM; ++i) {
    if (i >= rows) break;
    float* ci = c + i * ldc;
    for (int cc = 0; cc + 1 < C; ++cc)
      V::store(ci + cc * L, V::add(V::load(ci + cc * L), acc[i][cc]));
    float* cl = ci + (C - 1) * L;
    if constexpr (kFull)
      V::store(cl, V::add(V::load(cl), acc[i][C - 1]));
    else
      V::store_n(cl, V::add(V::load_n(cl, tail), acc[i][C - 1]), tail);
  }
}

// One block of n rows: every column tile (chunks: its vector count) x every group of rows m.
template <class V, int C>
void tn_tile(const float* A, int64_t lda, const float* B, int64_t ldb, int64_t n, int64_t k0,
             int64_t K, float* Cm, int64_t ldc, int64_t m0, int64_t m1) {
  constexpr int RM = V::kTnRows;
  constexpr int64_t L = V::kLanes;
  const int tail = static_cast<int>(imin<int64_t>(L, K - k0 - (C - 1) * L));
  for (int64_t m = m0; m < m1; m += RM) {
    const int rows = static_cast<int>(imin<int64_t>(RM, m1 - m));
    if (tail == L)
      tn_micro<V, C, RM, true>(A + m, lda, B + k0, ldb, n, rows, tail, Cm + m * ldc + k0, ldc);
    else
      tn_micro<V, C, RM, false>(A + m, lda, B + k0, ldb, n, rows, tail, Cm + m * ldc + k0, ldc);
  }
}

template <class V>
void gemm_tn(const float* A, int64_t lda, const float* B, int64_t ldb, int64_t N, int64_t K,
             float* Cm, int64_t ldc, int64_t m0, int64_t m1) {
  constexpr int C = V::kTnChunks;
  constexpr int64_t L = V::kLanes;
  if (m1 <= m0 || K <= 0) return;
  for (int64_t n0 = 0; n0 < N; n0 += kGemmTnBlock) {
    const int64_t n = imin(kGemmTnBlock, N - n0);
    const float* a = A + n0 * lda;
    const float* b = B + n0 * ldb;
    for (int64_t k0 = 0; k0 < K; k0 += C * L) {
      const int64_t chunks = imin<int64_t>(C, (K - k0 + L - 1) / L);
      if (chunks == C) {
        tn_tile<V, C>(a, lda, b, ldb, n, k0, K, Cm, ldc, m0, m1);
      } else if (chunks == 1) {
        tn_tile<V, 1>(a, lda, b, ldb, n, k0, K, Cm, ldc, m0, m1);
      } else if constexpr (C > 2) {
        if (chunks == 2)
          tn_tile<V, 2>(a, lda, b, ldb, n, k0, K, Cm, ldc, m0, m1);
        else if constexpr (C > 3)
          tn_tile<V, 3>(a, lda, b, ldb, n, k0, K, Cm, ldc, m0, m1);
      }
    }
  }
}

}  // namespace lc::ops::impl
