// Slow, obvious versions of every kernel in ops.h (double accumulation where it matters). The
// fast kernels are tested against these; nothing in the engine's hot path calls them.
#pragma once
#include <cstdint>

#include "ops/ops.h"

namespace lc::ops::ref {

float load(const void* W, DType t, int64_t index);
void gemm(const void* W, DType t, int64_t K, const float* X, int64_t ldx, int64_t N, float* Y,
          int64_t ldy, int64_t m0, int64_t m1);
void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps);
void softmax(float* x, int64_t n);
void layernorm(const float* x, const float* w, float* y, int64_t n, float eps);
void gelu(float* x, int64_t n);
void silu_mul(float* a, const float* b, int64_t n);
// a[i] = gelu_tanh(a[i]) * b[i] (torch's gelu(approximate='tanh')), in double.
void gelu_tanh_mul(float* a, const float* b, int64_t n);
float dot(const float* a, const float* b, int64_t n);
void axpy(float alpha, const float* x, float* y, int64_t n);
void weighted_sum(const float* p, int64_t ldp, int64_t n_rows, const float* v, int64_t ldv,
                  int64_t n_keys, int64_t d_cols, float* out, int64_t ldo);
// C[m*ldc + k] += sum_n A[n*lda + m] B[n*ldb + k] (GemmTnFn), the sum in double.
void gemm_tn(const float* A, int64_t lda, const float* B, int64_t ldb, int64_t N, int64_t K,
             float* C, int64_t ldc, int64_t m0, int64_t m1);
void rope(float* x, int64_t n_heads, int64_t head_dim, const float* cos, const float* sin,
          RopeStyle style);
// FlashTile's update, lane by lane in double (t.work unused).
void flash_tile(const FlashTile& t);

}  // namespace lc::ops::ref
