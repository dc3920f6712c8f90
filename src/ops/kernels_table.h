// The kernel table of one instruction set: every kernel of kernels_impl.h and kernels_flash.h
// (and kernels_gemm_xt.h, kernels_gemm_tn.h) instantiated for its vector wrapper V. Included by
// kernels_{generic,avx2,avx512}.cc.
#pragma once
#include "ops/kernels_flash.h"
#include "ops/kernels_gemm_tn.h"
#include "ops/kernels_gemm_xt.h"
#include "ops/kernels_impl.h"
#include "ops/ops.h"

namespace lc::ops::impl {

template <class V, class WT>
constexpr GemmXtFn xt_fn() {
  if constexpr (V::kXtChunks > 0) return gemm_xt<V, WT>;
  return nullptr;
}

template <class V>
constexpr KernelTable make_table(Isa isa) {
  return KernelTable{isa,
                     gemm<V, float, false>,
                     gemm<V, Bf16, false>,
                     gemm<V, Fp16, false>,
                     rmsnorm<V>,
                     softmax<V>,
                     silu_mul<V>,
                     gelu_tanh_mul<V>,
                     dot<V>,
                     axpy<V>,
                     rope<V>,
                     weighted_sum<V, float>,
                     gemm<V, float, true>,
                     gemm<V, Bf16, true>,
                     gemm<V, Fp16, true>,
                     weighted_sum<V, Bf16>,
                     weighted_sum<V, Fp16>,
                     q8_scores<V>,
                     quant_weighted_sum<V, Q8Values>,
                     kivi_scores<V>,
                     quant_weighted_sum<V, Q4Values>,
                     flash_tile<V>,
                     V::kLanes,
                     V::kLanes * V::kFlashChunks,
                     xt_fn<V, float>(),
                     xt_fn<V, Bf16>(),
                     xt_fn<V, Fp16>(),
                     V::kLanes * V::kXtChunks,
                     gemm_tn<V>,
                     flash_scores<V>};
}

}  // namespace lc::ops::impl
