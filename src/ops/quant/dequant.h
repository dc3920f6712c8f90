// The reference dequantizers: plain scalar code, one function per block type, spelled out from
// the layouts in blocks.h. Checked bit for bit against the gguf PyPI package's
// gguf.quants.dequantize (tests/parity); every fast kernel is checked against these.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace lc::ops::quant {

// dst[0, n) = the n elements starting at the beginning of src (a whole number of blocks of t;
// for plain types any n). Works for every DType.
void dequantize_row(DType t, const void* src, float* dst, int64_t n);

// Element i of a tensor of type t starting at src (dequantizes the block holding it).
float dequantize_one(DType t, const void* src, int64_t i);

}  // namespace lc::ops::quant
