// PLACEHOLDER until the SIMD kernels land: the generic table under this ISA's name.
#include "ops/quant/kernels_internal.h"

namespace lc::ops::quant {
namespace {
QuantKernels make_table() {
  QuantKernels t = quant_kernels_generic();
  t.isa = Isa::Avx2;
  t.name = "avx2";
  return t;
}
}  // namespace

const QuantKernels& quant_kernels_avx2() {
  static const QuantKernels t = make_table();
  return t;
}

}  // namespace lc::ops::quant
