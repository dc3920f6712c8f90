// Quantized-weight matrix products. As in llama.cpp, each row of the activations X is quantized
// once to 8-bit blocks (format chosen by the weight type), and every weight block is dotted with
// its activation block in integer arithmetic, scaled by the blocks' float scales:
//   32-element weight types (Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 IQ4_NL): BlockQ8x (d, s = d * sum q, 32 q)
//   256-element types (Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_XS):        BlockQ8K (d, 256 q, 16 sums)
// One table per ISA: generic (scalar), avx2 (maddubs), avx512 (vpdpbusd when the CPU has
// AVX512_VNNI, else the avx2 kernels). Every kernel equals the plain reference -- dequantize
// (dequant.h) and an f32 dot -- up to the activation quantization error (tests/quant_test.cc).
#pragma once
#include <cstdint>

#include "core/cpu.h"
#include "core/dtype.h"

namespace lc::ops::quant {

struct BlockQ8x {
  float d;  // max|x| / 127, rounded to fp16 precision (as llama.cpp's Q8_0/Q8_1 store it)
  float s;  // d * sum(qs), in f32
  int8_t qs[32];
};
struct BlockQ8K {
  float d;  // max|x| / 127
  int8_t qs[256];
  int16_t bsums[16];  // sums of each 16 consecutive qs
};
static_assert(sizeof(BlockQ8x) == 40 && sizeof(BlockQ8K) == 292);

// A block whose max |x| is below this quantizes to all-zero levels with d = 0 (127 / max|x| would
// overflow a float near 3.7e-37; such activations contribute nothing measurable).
constexpr float kMinAmax = 1e-30f;

// Whether W's activation blocks are BlockQ8K (256-element weight blocks) or BlockQ8x.
inline bool uses_q8k(DType w) { return dtype_block(w) == 256; }
// Bytes of one quantized activation row of K elements for weights of type w.
inline int64_t x_row_bytes(DType w, int64_t K) {
  return uses_q8k(w) ? K / 256 * static_cast<int64_t>(sizeof(BlockQ8K))
                     : K / 32 * static_cast<int64_t>(sizeof(BlockQ8x));
}

// Y[n * ldy + m] = W row m . X row n, m in [m0, m1), n in [0, N). W: rows of K elements of the
// table's type (K a multiple of its block); xq: N quantized rows of x_row_bytes(type, K) each.
using QGemmFn = void (*)(const void* W, int64_t K, const void* xq, int64_t N, float* Y, int64_t ldy,
                         int64_t m0, int64_t m1);
// Quantizes one row of k elements (a multiple of the block) to out.
using QuantizeXFn = void (*)(const float* x, int64_t k, void* out);

struct QuantKernels {
  Isa isa;
  const char* name;  // "generic", "avx2", "avx512vnni"
  QuantizeXFn quantize_q8x;
  QuantizeXFn quantize_q8k;
  QGemmFn gemm[kDTypeCount];  // nullptr for the plain types
  QuantizeXFn quantize_for(DType w) const { return uses_q8k(w) ? quantize_q8k : quantize_q8x; }
};

// The table for the selected ISA (LONGCTX_ISA caps it, as for ops::kernels()).
const QuantKernels& quant_kernels();
// The table for a given ISA; only call with isa_supported(isa).
const QuantKernels& quant_kernels_for(Isa isa);

// Quantizes X[N, K] (row stride ldx) for weights of type w into xq (N * x_row_bytes(w, K)).
void quantize_rows(const QuantKernels& k, DType w, const float* X, int64_t ldx, int64_t N,
                   int64_t K, void* xq);

}  // namespace lc::ops::quant
