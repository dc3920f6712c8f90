// The loop around a quantized vec_dot, shared by every ISA's table: for each group of up to
// kDriverRows activation rows, every weight row in [m0, m1) is dotted with each of them, so a
// weight row is read from memory once per group and then from L1. A row's result depends only
// on (W row, X row), never on N or the thread split: decode and prefill agree bit for bit.
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "ops/quant/kernels.h"

namespace lc::ops::quant {

constexpr int64_t kDriverRows = 8;

// Dot(w_row, x_row, n_blocks) -> float, n_blocks counted in weight blocks of type T.
using VecDotFn = float (*)(const void* w, const void* x, int64_t n_blocks);

template <DType T, VecDotFn Dot>
void gemm_rows(const void* W, int64_t K, const void* xq, int64_t N, float* Y, int64_t ldy,
               int64_t m0, int64_t m1) {
  const int64_t nb = K / dtype_block(T);
  const int64_t w_row = nb * dtype_block_bytes(T);
  const int64_t x_row = x_row_bytes(T, K);
  const auto* w = static_cast<const uint8_t*>(W);
  const auto* x = static_cast<const uint8_t*>(xq);
  for (int64_t n0 = 0; n0 < N; n0 += kDriverRows) {
    const int64_t n1 = n0 + kDriverRows < N ? n0 + kDriverRows : N;
    for (int64_t m = m0; m < m1; ++m) {
      const uint8_t* wr = w + m * w_row;
      for (int64_t n = n0; n < n1; ++n) Y[n * ldy + m] = Dot(wr, x + n * x_row, nb);
    }
  }
}

}  // namespace lc::ops::quant
