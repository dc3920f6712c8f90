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

}  // namespace lc::ops::amx
