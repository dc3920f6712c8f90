// The AVX-512 VNNI quantized table: the SIMD kernels of simd_q32.h and simd_k.h on vpdpbusd
// (simd_dot.h's VnniDot, 256-bit registers; the 32-element prefill tiles on 512-bit ones,
// simd_q32_zmm.h); anything they do not provide stays generic.
// <immintrin.h> through core/immintrin_quiet.h (GCC 12.2's false warnings in its AVX-512 header).
#include "core/immintrin_quiet.h"
#include "ops/quant/simd_k.h"
#include "ops/quant/simd_q32.h"

namespace lc::ops::quant {
namespace {
QuantKernels make_table() {
  QuantKernels t = quant_kernels_generic();
  t.isa = Isa::Avx512;
  t.name = VnniDot::kName;
  fill_q32<VnniDot>(t);
  fill_k<VnniDot>(t);
  return t;
}
}  // namespace

const QuantKernels& quant_kernels_avx512vnni() {
  static const QuantKernels t = make_table();
  return t;
}

}  // namespace lc::ops::quant
