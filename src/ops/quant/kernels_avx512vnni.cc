// PLACEHOLDER until the SIMD kernels land: the generic table under this ISA's name.
#include "ops/quant/kernels_internal.h"

namespace lc::ops::quant {
namespace {
QuantKernels make_table() {
  QuantKernels t = quant_kernels_generic();
  t.isa = Isa::Avx512;
  t.name = "avx512vnni";
  return t;
}
}  // namespace

const QuantKernels& quant_kernels_avx512vnni() {
  static const QuantKernels t = make_table();
  return t;
}

}  // namespace lc::ops::quant
