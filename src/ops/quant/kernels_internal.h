// Shared by the per-ISA quantized kernel tables (not for use outside ops/quant).
#pragma once
#include <cstdint>

#include "ops/quant/kernels.h"

namespace lc::ops::quant {

// The activation quantizers every table uses (activations.cc).
void quantize_q8x_row(const float* x, int64_t k, void* out);
void quantize_q8k_row(const float* x, int64_t k, void* out);

// Defined in kernels_{generic,avx2,avx512vnni}.cc; each returns a constant table.
const QuantKernels& quant_kernels_generic();
const QuantKernels& quant_kernels_avx2();
const QuantKernels& quant_kernels_avx512vnni();

}  // namespace lc::ops::quant
