// SIMD kernels for the 256-element types (Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_XS), written once against
// the integer primitive D of simd_dot.h (Avx2Dot or VnniDot) and instantiated by kernels_avx2.cc
// and kernels_avx512vnni.cc. fill_k<D>(table) replaces the table's generic entries.
#pragma once
#include "ops/quant/gemm_driver.h"
#include "ops/quant/kernels_internal.h"
#include "ops/quant/simd_dot.h"

namespace lc::ops::quant {
namespace {

template <class D>
void fill_k(QuantKernels& t) {
  (void)t;  // not yet: the generic kernels stay
}

}  // namespace
}  // namespace lc::ops::quant
