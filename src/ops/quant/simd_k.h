// SIMD kernels for the 256-element types (Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_XS), written once against
// the integer primitive D of simd_dot.h (Avx2Dot or VnniDot) and instantiated by kernels_avx2.cc
// and kernels_avx512vnni.cc. fill_k<D>(table) replaces the table's generic entries.
//   simd_k_common.h   the rounding all paths share, helpers, the decode driver
//   simd_k_prefill.h  the prefill driver and gemm_k, the table entry
//   simd_k_q4q5.h     Q4_K, Q5_K
//   simd_k_q2q3q6.h   Q2_K, Q3_K, Q6_K
//   simd_k_iq4xs.h    IQ4_XS
#pragma once
#include "ops/quant/kernels_internal.h"
#include "ops/quant/simd_k_iq4xs.h"
#include "ops/quant/simd_k_prefill.h"

namespace lc::ops::quant {
namespace {

template <class D>
void fill_k(QuantKernels& t) {
  t.gemm[static_cast<int>(DType::Q2_K)] = gemm_k<KQ2, D>;
  t.gemm[static_cast<int>(DType::Q3_K)] = gemm_k<KQ3, D>;
  t.gemm[static_cast<int>(DType::Q4_K)] = gemm_k<KQ4, D>;
  t.gemm[static_cast<int>(DType::Q5_K)] = gemm_k<KQ5, D>;
  t.gemm[static_cast<int>(DType::Q6_K)] = gemm_k<KQ6, D>;
  t.gemm[static_cast<int>(DType::IQ4_XS)] = gemm_k<KIq4Xs, D>;
}

}  // namespace
}  // namespace lc::ops::quant
