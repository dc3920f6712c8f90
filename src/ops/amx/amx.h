// bf16 matrix products on Intel AMX tiles (TDPBF16PS), for the products of bf16 (and, split in
// two bf16 parts, f16) weights where the CPU has AMX-TILE + AMX-BF16 and Linux grants the tile data
// (arch_prctl ARCH_REQ_XCOMP_PERM). Reached only through ops::matmul; off with LONGCTX_AMX=0 or
// when LONGCTX_ISA caps the choice below avx512.
//
// Numerics ("bf16 compute"): the activations X are rounded to bf16 (round to nearest even) once
// per product, the bf16 weights are used as stored; each product of two bf16 values is exact in
// f32 and the sums are accumulated in f32. So for y = sum_k x_k w_k (K terms):
//   |y_amx - y| <= (u_bf16 + gamma_K (1 + u_bf16)) * sum_k |x_k| |w_k|,
//   u_bf16 = 2^-8 (rounding of x_k), gamma_K = K u / (1 - K u), u = 2^-24 (f32 sums),
// against the f32-activation kernels' gamma_K alone. Inputs or results below f32's normal range
// are flushed to zero by the hardware (AMX's documented behaviour), which adds at most
// K * 2^-126 in absolute terms. tests/amx_test.cc checks both parts separately.
#pragma once
#include <cstdint>

namespace lc::ops::amx {

// Whether gemm_bf16 / gemm_f16 can run here: cpuid, the OS permission, avx512 selected, and
// LONGCTX_AMX unset, empty or 1 (0 turns it off; anything else throws lc::Error). Decided once per
// process.
bool enabled();

// An on/off environment switch (LONGCTX_AMX, LONGCTX_AMX_ATTN): unset, empty or 1 is on, 0 off;
// anything else throws lc::Error naming it.
bool env_switch(const char* name);

// Whether the AMX path takes a product with K inputs (K a multiple of 32, the tile depth).
inline bool takes(int64_t K) { return K > 0 && K % 32 == 0; }

// Bytes of X packed for gemm_bf16: N rounded up to 16 tokens, K / 2 bf16 pairs per token.
inline int64_t packed_x_bytes(int64_t N, int64_t K) { return (N + 15) / 16 * 16 * K * 2; }

// X [N, K] f32 (row stride ldx) into xp: 16-token groups, within a group K/2 rows of 16 pairs
// (bf16(x[n][2i]) in the low half of a 32-bit word, bf16(x[n][2i+1]) in the high half), tokens
// past N zero. The layout of AMX's B operand. Requires enabled() and takes(K).
void pack_x(const float* X, int64_t ldx, int64_t N, int64_t K, uint32_t* xp);

// Y[n * ldy + m] = sum_k bf16(X[n][k]) * W[m][k] for n < N, m in [m0, m1); W is bf16 [M, K]
// row-major, xp from pack_x. Other rows of Y are not touched. Requires enabled() and takes(K).
void gemm_bf16(const uint16_t* W, int64_t K, const uint32_t* xp, int64_t N, float* Y, int64_t ldy,
               int64_t m0, int64_t m1);

// f16 weights (gemm_f16): X is carried to 16 bits as two bf16 parts, xp = bf16(x) and
// xl = bf16(x - bf16(x)), both in pack_x's layout (packed_x_bytes each).
void pack_x_split(const float* X, int64_t ldx, int64_t N, int64_t K, uint32_t* xp, uint32_t* xl);

// Y[n * ldy + m] = sum_k X[n][k] * W[m][k] as gemm_bf16, for f16 W [M, K]: each weight split
// exactly into bf16 wh + wl, three tile passes per chunk (wh xh + wl xh + wh xl). Error:
//   |y_amx - y| <= (2^-15 + gamma_3K) * sum_k |x_k| |w_k|
// (2^-16 each from x's 16-bit representation and from the dropped wl xl), about f32's gamma_K:
// finer than rounding X to f16 (2^-11), as llama.cpp's f16 products do.
void gemm_f16(const uint16_t* W, int64_t K, const uint32_t* xp, const uint32_t* xl, int64_t N,
              float* Y, int64_t ldy, int64_t m0, int64_t m1);

// ---- f32 operands at "high" precision (bf16x3, as torch.set_float32_matmul_precision("high")) --
// For the trainer's f32 products (train/layers.h, MatmulPrecision::kHigh). Both operands are
// split into bf16 hi + lo (a = ah + al + ea, |ea| <= 2^-16 |a|: each part rounds to 8 significant
// bits), three tile passes per chunk (ah bh + al bh + ah bl; al bl <= 2^-16 |a b| dropped):
//   |y_amx - y| <= (3 * 2^-16 + 2^-32 + gamma_3K) * sum_k |a_k| |b_k|,
// against gamma_K for the f32 FMA kernels. Requires enabled().

// Y[n * ldy + m] = sum_k X[n][k] * W[m][k] for n < N, m in [m0, m1); W is f32 [M, K] (row stride
// ldw), xp / xl from pack_x_split. Requires takes(K).
void gemm_f32_split(const float* W, int64_t ldw, int64_t K, const uint32_t* xp, const uint32_t* xl,
                    int64_t N, float* Y, int64_t ldy, int64_t m0, int64_t m1);

// The weight-gradient form C += A^T B (ops.h, GemmTnFn) on tiles. B [N, K] (row stride ldb) is
// packed once by pack_tn_b into bh and bl, tn_b_bytes(N, K) each: for each group of 16 columns,
// N rounded up to 32 rows as pairs (bf16 of rows 2i and 2i + 1 in the low and high halves of a
// 32-bit word), rows past N zero. gemm_tn_split then does, for m in [m0, m1) and k < K,
//   C[m * ldc + k] += sum_{n < N} A[n * lda + m] B[n * ldb + k],
// packing A's 16-column panels (transposed into rows along n) into a per-thread buffer; each
// element gets its one tile sum added once, so the split of [m0, m1) does not change the bits.
inline int64_t tn_b_bytes(int64_t N, int64_t K) {
  return (K + 15) / 16 * 16 * ((N + 31) / 32) * 64;
}
void pack_tn_b(const float* B, int64_t ldb, int64_t N, int64_t K, uint32_t* bh, uint32_t* bl);
void gemm_tn_split(const float* A, int64_t lda, int64_t N, const uint32_t* bh, const uint32_t* bl,
                   int64_t K, float* C, int64_t ldc, int64_t m0, int64_t m1);

}  // namespace lc::ops::amx
