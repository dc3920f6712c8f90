// Weight quantizers: float rows to every block type of blocks.h, the inverse of dequant.h's
// reference dequantizers. Written from the published ggml algorithms (llama.cpp's
// ggml-quants.c, the reference paths used when no importance matrix is given):
//   Q8_0            d = max|x| / 127, q = round(x / d)
//   Q4_0, Q5_0      signed scale from the element of largest magnitude m: d = m / -8 (-16), so
//                   m lands on the end with the larger range, q = round half up(x / d) + 8 (16)
//   Q4_1, Q5_1      d = (max - min) / 15 (31), m = min, q = round half up((x - min) / d)
//   Q2_K, Q4_K,     per group an asymmetric (scale, min) from make_qkx2: the min-max fit, then
//   Q5_K            nstep trial scales refit by weighted least squares, keeping the one of least
//                   weighted error (Q2_K: absolute error, weights |x|; Q4_K/Q5_K: squared error,
//                   weights rms(x) + |x|); the group scales and mins are quantized to 4 bits
//                   (Q2_K) or 6 bits (Q4_K, Q5_K) against the super-block's largest
//   Q3_K            per group of 16 a signed scale from make_q3 (iterative per-element refit of
//                   the x^2-weighted fit), 6-bit signed sub-scales against the largest
//   Q6_K            per group of 16 a signed scale from make_qx (19 trial scales around
//                   max / -32, x^2-weighted least squares), 8-bit signed sub-scales
//   IQ4_NL, IQ4_XS  per block of 32 the best of 15 trial scales mapping the largest element near
//                   the -127 end of kIq4nlValues, x^2-weighted least squares over the non-uniform
//                   levels; IQ4_XS adds 6-bit signed sub-scales against the largest
// The K-quants recompute the quants at the end from the scales as stored (fp16 d, packed
// sub-scales); the other types round with the scale before its fp16 rounding (relative error
// 2^-11), as ggml does. Each follows ggml's arithmetic order, so on the same input the bytes
// match llama.cpp's quantizer (tests/parity/quant_parity.py measures how many blocks do).
//
// Any float input gives a deterministic result without undefined behaviour; non-finite inputs
// or magnitudes beyond fp16's range give non-finite or overflowing scales, which callers detect
// with validate.h's first_bad_scale (the converter refuses such tensors).
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace lc::ops::quant {

// Writes the n elements at x as type t at out: dtype_bytes(t, n) bytes; n must be a whole number
// of t's blocks (any n for the plain types: F32 copied, F16 / BF16 rounded to nearest even).
void quantize_row(DType t, const float* x, void* out, int64_t n);

// Round to nearest, ties to even, for |v| < 2^22 (ggml's nearest_int); NaN gives 0 and larger
// magnitudes saturate at +-(2^22 - 1), so no input converts out of range.
int nearest_int(float v);

}  // namespace lc::ops::quant
