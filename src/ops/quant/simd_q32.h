// SIMD kernels for the 32-element types (Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 IQ4_NL), written once against the
// integer primitive D of simd_dot.h (Avx2Dot or VnniDot) and instantiated by kernels_avx2.cc and
// kernels_avx512vnni.cc. fill_q32<D>(table) replaces the table's generic entries.
#pragma once
#include "ops/quant/gemm_driver.h"
#include "ops/quant/kernels_internal.h"
#include "ops/quant/simd_dot.h"

namespace lc::ops::quant {
namespace {

template <class D>
void fill_q32(QuantKernels& t) {
  (void)t;  // not yet: the generic kernels stay
}

}  // namespace
}  // namespace lc::ops::quant
