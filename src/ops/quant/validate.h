// Checks on block-quantized data read from files.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace lc::ops::quant {

// Byte offsets, within one block of t, of its fp16 scale fields: d, and dmin / m where the type
// has one (-1: none; both -1 for the plain types).
struct ScaleFields {
  int a, b;
};
ScaleFields scale_fields(DType t);

// The index of the first of n_blocks blocks of type t at data whose fp16 scale fields (d, and
// dmin / m where the type has one) hold a NaN or an infinity; -1 when all are finite.
int64_t first_bad_scale(DType t, const void* data, int64_t n_blocks);

}  // namespace lc::ops::quant
