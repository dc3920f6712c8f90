// The AVX2 quantized table: the SIMD kernels of simd_q32.h and simd_k.h on the vpmaddubsw
// primitive (simd_dot.h's Avx2Dot); anything they do not provide stays generic.
#include "ops/quant/simd_k.h"
#include "ops/quant/simd_q32.h"

namespace lc::ops::quant {
namespace {
QuantKernels make_table() {
  QuantKernels t = quant_kernels_generic();
  t.isa = Isa::Avx2;
  t.name = Avx2Dot::kName;
  fill_q32<Avx2Dot>(t);
  fill_k<Avx2Dot>(t);
  return t;
}
}  // namespace

const QuantKernels& quant_kernels_avx2() {
  static const QuantKernels t = make_table();
  return t;
}

}  // namespace lc::ops::quant
