// The 32-element block quantizers (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1), IQ4_NL and IQ4_XS, and the
// quantize_row dispatch; the K-quants are in quantize_k.cc. Algorithms: quantize.h.
#include "ops/quant/quantize.h"

#include <cmath>
#include <cstring>

#include "ops/quant/quantize_internal.h"

namespace lc::ops::quant {

int nearest_int(float v) {
  constexpr float kLimit = 4194303.0f;  // 2^22 - 1
  if (!(v == v)) return 0;
  v = v < -kLimit ? -kLimit : v > kLimit ? kLimit : v;
  // Adding 1.5 * 2^23 leaves the rounded integer in the low mantissa bits (round to nearest
  // even, the default mode; no -ffast-math here, so the addition is kept).
  const float biased = v + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &biased, 4);
  return (bits & 0x007fffff) - 0x00400000;
}

namespace {

// ggml's MIN(hi, (int8_t)(v)) for v >= 0 where v = scaled x + offset + 0.5: round half up by
// truncation. NaN and negatives give 0, large values hi.
int trunc_to(float v, int hi) {
  if (!(v > 0.0f)) return 0;
  if (v >= static_cast<float>(hi)) return hi;
  return static_cast<int>(v);
}

// The element of largest magnitude, with its sign (the first one on ties); 0 for all-zero input.
float signed_absmax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j)
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  return max;
}

void min_max(const float* x, int n, float* lo, float* hi) {
  *lo = x[0];
  *hi = x[0];
  for (int j = 1; j < n; ++j) {
    if (x[j] < *lo) *lo = x[j];
    if (x[j] > *hi) *hi = x[j];
  }
}

void q8_0(const float* x, BlockQ8_0* y) {
  float amax = 0.0f;
  for (int j = 0; j < kQK; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  y->d = f32_to_f16(d);
  for (int j = 0; j < kQK; ++j) {
    float v = x[j] * id;
    v = v == v ? std::fmin(std::fmax(v, -127.0f), 127.0f) : 0.0f;
    y->qs[j] = static_cast<int8_t>(std::round(v));  // ties away from zero, as ggml's roundf
  }
}

// Q4_0 (bits 4) and Q5_0 (bits 5): q + 2^(bits-1) in [0, 2^bits).
template <int kBits>
float symmetric_block(const float* x, uint8_t* q) {
  constexpr int kHalf = 1 << (kBits - 1), kMax = (1 << kBits) - 1;
  const float d = signed_absmax(x, kQK) / -static_cast<float>(kHalf);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < kQK; ++j)
    q[j] = static_cast<uint8_t>(trunc_to(x[j] * id + (static_cast<float>(kHalf) + 0.5f), kMax));
  return d;
}

// Q4_1 / Q5_1: q in [0, 2^bits), x = d * q + min.
template <int kBits>
float asymmetric_block(const float* x, uint8_t* q, float* min) {
  constexpr int kMax = (1 << kBits) - 1;
  float lo, hi;
  min_max(x, kQK, &lo, &hi);
  const float d = (hi - lo) / static_cast<float>(kMax);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < kQK; ++j)
    q[j] = static_cast<uint8_t>(trunc_to((x[j] - lo) * id + 0.5f, kMax));
  *min = lo;
  return d;
}

// Element j's 4 low bits into qs (j < 16: low nibble of byte j, else high nibble of byte j - 16).
void pack_nibbles(const uint8_t* q, uint8_t* qs) {
  for (int j = 0; j < kQK / 2; ++j)
    qs[j] = static_cast<uint8_t>((q[j] & 0xF) | (q[j + kQK / 2] & 0xF) << 4);
}

// Bit 4 of element j into bit j of the 32-bit qh word.
void pack_fifth_bits(const uint8_t* q, uint8_t* qh) {
  uint32_t bits = 0;
  for (int j = 0; j < kQK; ++j) bits |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
  std::memcpy(qh, &bits, 4);
}

void q4_0(const float* x, BlockQ4_0* y) {
  uint8_t q[kQK];
  y->d = f32_to_f16(symmetric_block<4>(x, q));
  pack_nibbles(q, y->qs);
}

void q5_0(const float* x, BlockQ5_0* y) {
  uint8_t q[kQK];
  y->d = f32_to_f16(symmetric_block<5>(x, q));
  pack_nibbles(q, y->qs);
  pack_fifth_bits(q, y->qh);
}

void q4_1(const float* x, BlockQ4_1* y) {
  uint8_t q[kQK];
  float min;
  y->d = f32_to_f16(asymmetric_block<4>(x, q, &min));
  y->m = f32_to_f16(min);
  pack_nibbles(q, y->qs);
}

void q5_1(const float* x, BlockQ5_1* y) {
  uint8_t q[kQK];
  float min;
  y->d = f32_to_f16(asymmetric_block<5>(x, q, &min));
  y->m = f32_to_f16(min);
  pack_nibbles(q, y->qs);
  pack_fifth_bits(q, y->qh);
}

// --- IQ4_NL / IQ4_XS: scales over the 16 non-uniform levels kIq4nlValues ---

// The index of the level nearest v (ties to the upper level; NaN gives 0): a branch-free binary
// search over the 15 midpoints, compared at twice the scale so the midpoints are exact.
int nearest_iq4_level(float v) {
  const float v2 = v + v;
  int idx = 0;
  for (int step = 8; step > 0; step >>= 1) {
    const int j = idx + step;
    if (v2 >= static_cast<float>(kIq4nlValues[j - 1] + kIq4nlValues[j])) idx = j;
  }
  return idx;
}

// The x^2-weighted least-squares scale of one block of 32 over the levels, the best of: the
// scale mapping the largest element m to +127 (clipped to the top level), and 15 trial scales
// mapping m to -(127 - t), t = -7..7, each refit; 0 for an all-zero block.
float iq4_block_scale(const float* x) {
  constexpr int kTries = 7;
  const float max = signed_absmax(x, kQK);
  if (std::fabs(max) < kGroupMaxEps) return 0.0f;
  auto fit = [&](float id, float* sumqx, float* sumq2) {
    *sumqx = *sumq2 = 0.0f;
    for (int j = 0; j < kQK; ++j) {
      const float q = static_cast<float>(kIq4nlValues[nearest_iq4_level(id * x[j])]);
      const float w = x[j] * x[j];
      *sumqx += w * q * x[j];
      *sumq2 += w * q * q;
    }
  };
  float sumqx, sumq2;
  fit(-static_cast<float>(kIq4nlValues[0]) / max, &sumqx, &sumq2);
  float d = sumq2 > 0.0f ? sumqx / sumq2 : 0.0f;
  float best = d * sumqx;
  for (int t = -kTries; t <= kTries; ++t) {
    fit(static_cast<float>(t + kIq4nlValues[0]) / max, &sumqx, &sumq2);
    if (sumq2 > 0.0f && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return d;
}

// The 32 level indices of x for the (stored) scale d, packed as Q4_0's nibbles.
void iq4_pack(const float* x, float d, uint8_t* qs) {
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  uint8_t q[kQK];
  for (int j = 0; j < kQK; ++j) q[j] = static_cast<uint8_t>(nearest_iq4_level(id * x[j]));
  pack_nibbles(q, qs);
}

// As ggml, the quants are chosen with the scale before its fp16 rounding (relative 2^-11; the
// files then match llama.cpp's byte for byte, tests/parity/quant_parity.py).
void iq4_nl(const float* x, BlockIq4Nl* y) {
  const float d = iq4_block_scale(x);
  y->d = f32_to_f16(d);
  iq4_pack(x, d, y->qs);
}

// IQ4_XS: the 8 block scales as 6-bit signed multiples l - 32 of d = -s / 32, s the block scale
// of largest magnitude (so s itself is l = 0).
void iq4_xs(const float* x, BlockIq4Xs* y) {
  float scales[kQKK / kQK];
  float max_scale = 0.0f, amax = 0.0f;
  for (int ib = 0; ib < kQKK / kQK; ++ib) {
    scales[ib] = iq4_block_scale(x + kQK * ib);
    if (std::fabs(scales[ib]) > amax) {
      amax = std::fabs(scales[ib]);
      max_scale = scales[ib];
    }
  }
  const float d = -max_scale / 32.0f;  // unrounded, as in iq4_nl
  y->d = f32_to_f16(d);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  y->scales_h = 0;
  std::memset(y->scales_l, 0, sizeof y->scales_l);
  for (int ib = 0; ib < kQKK / kQK; ++ib) {
    int l = nearest_int(id * scales[ib]);
    l = l < -32 ? -32 : l > 31 ? 31 : l;
    iq4_pack(x + kQK * ib, d * static_cast<float>(l), y->qs + kQK / 2 * ib);
    const int u = l + 32;
    y->scales_l[ib / 2] = static_cast<uint8_t>(y->scales_l[ib / 2] | (u & 0xF) << (4 * (ib % 2)));
    y->scales_h = static_cast<uint16_t>(y->scales_h | (u >> 4) << (2 * ib));
  }
}

// Quantizes n / per_block blocks of type B with f.
template <class B>
void blocks(const float* x, void* out, int64_t n, int64_t per_block, void (*f)(const float*, B*)) {
  auto* p = static_cast<uint8_t*>(out);
  for (int64_t i = 0; i < n / per_block; ++i) {
    B b;
    std::memset(&b, 0, sizeof b);
    f(x + i * per_block, &b);
    std::memcpy(p + i * static_cast<int64_t>(sizeof b), &b, sizeof b);
  }
}

}  // namespace

void quantize_row(DType t, const float* x, void* out, int64_t n) {
  auto* o = static_cast<uint8_t*>(out);
  switch (t) {
    case DType::F32:
      std::memcpy(out, x, sizeof(float) * static_cast<size_t>(n));
      return;
    case DType::BF16:
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = t == DType::BF16 ? f32_to_bf16(x[i]) : f32_to_f16(x[i]);
        std::memcpy(o + 2 * i, &h, 2);
      }
      return;
    case DType::Q8_0:
      return blocks<BlockQ8_0>(x, out, n, kQK, q8_0);
    case DType::Q4_0:
      return blocks<BlockQ4_0>(x, out, n, kQK, q4_0);
    case DType::Q4_1:
      return blocks<BlockQ4_1>(x, out, n, kQK, q4_1);
    case DType::Q5_0:
      return blocks<BlockQ5_0>(x, out, n, kQK, q5_0);
    case DType::Q5_1:
      return blocks<BlockQ5_1>(x, out, n, kQK, q5_1);
    case DType::IQ4_NL:
      return blocks<BlockIq4Nl>(x, out, n, kQK, iq4_nl);
    case DType::Q2_K:
      return blocks<BlockQ2K>(x, out, n, kQKK, quantize_block_q2_k);
    case DType::Q3_K:
      return blocks<BlockQ3K>(x, out, n, kQKK, quantize_block_q3_k);
    case DType::Q4_K:
      return blocks<BlockQ4K>(x, out, n, kQKK, quantize_block_q4_k);
    case DType::Q5_K:
      return blocks<BlockQ5K>(x, out, n, kQKK, quantize_block_q5_k);
    case DType::Q6_K:
      return blocks<BlockQ6K>(x, out, n, kQKK, quantize_block_q6_k);
    case DType::IQ4_XS:
      return blocks<BlockIq4Xs>(x, out, n, kQKK, iq4_xs);
  }
}

}  // namespace lc::ops::quant
