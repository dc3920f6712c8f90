// Internal to the weight quantizers (quantize.cc, quantize_k.cc): the block quantizers of one
// block each and the small helpers they share.
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "ops/quant/blocks.h"

namespace lc::ops::quant {

// Groups whose largest |x| is below this are all zero (ggml's GROUP_MAX_EPS).
constexpr float kGroupMaxEps = 1e-15f;

// The fp16 value a float is stored as, read back.
inline float fp16_round(float v) { return f16_to_f32(f32_to_f16(v)); }

// One 256-element super-block each (quantize_k.cc).
void quantize_block_q2_k(const float* x, BlockQ2K* y);
void quantize_block_q3_k(const float* x, BlockQ3K* y);
void quantize_block_q4_k(const float* x, BlockQ4K* y);
void quantize_block_q5_k(const float* x, BlockQ5K* y);
void quantize_block_q6_k(const float* x, BlockQ6K* y);

}  // namespace lc::ops::quant
