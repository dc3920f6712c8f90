#include "ops/quant/dequant.h"

#include <cstring>

#include "ops/quant/blocks.h"

namespace lc::ops::quant {
namespace {

float h(uint16_t x) { return f16_to_f32(x); }

void q4_0(const BlockQ4_0& b, float* y) {
  const float d = h(b.d);
  for (int j = 0; j < kQK / 2; ++j) {
    y[j] = static_cast<float>((b.qs[j] & 0xF) - 8) * d;
    y[j + kQK / 2] = static_cast<float>((b.qs[j] >> 4) - 8) * d;
  }
}

void q4_1(const BlockQ4_1& b, float* y) {
  const float d = h(b.d), m = h(b.m);
  for (int j = 0; j < kQK / 2; ++j) {
    y[j] = static_cast<float>(b.qs[j] & 0xF) * d + m;
    y[j + kQK / 2] = static_cast<float>(b.qs[j] >> 4) * d + m;
  }
}

// Bit j of the 32-bit qh word is the fifth bit of element j.
uint32_t qh32(const uint8_t* qh) {
  uint32_t v;
  std::memcpy(&v, qh, 4);
  return v;
}

void q5_0(const BlockQ5_0& b, float* y) {
  const float d = h(b.d);
  const uint32_t qh = qh32(b.qh);
  for (int j = 0; j < kQK / 2; ++j) {
    const int lo = (b.qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1) << 4);
    const int hi = (b.qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
    y[j] = static_cast<float>(lo - 16) * d;
    y[j + kQK / 2] = static_cast<float>(hi - 16) * d;
  }
}

void q5_1(const BlockQ5_1& b, float* y) {
  const float d = h(b.d), m = h(b.m);
  const uint32_t qh = qh32(b.qh);
  for (int j = 0; j < kQK / 2; ++j) {
    const int lo = (b.qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1) << 4);
    const int hi = (b.qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
    y[j] = static_cast<float>(lo) * d + m;
    y[j + kQK / 2] = static_cast<float>(hi) * d + m;
  }
}

void q8_0(const BlockQ8_0& b, float* y) {
  const float d = h(b.d);
  for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(b.qs[j]) * d;
}

void iq4_nl(const BlockIq4Nl& b, float* y) {
  const float d = h(b.d);
  for (int j = 0; j < kQK / 2; ++j) {
    y[j] = d * static_cast<float>(kIq4nlValues[b.qs[j] & 0xF]);
    y[j + kQK / 2] = d * static_cast<float>(kIq4nlValues[b.qs[j] >> 4]);
  }
}

// Q2_K: 2-bit q; each byte of qs holds 4 elements 32 apart (shift 0, 2, 4, 6) within each half
// of 128; group g (16 elements) has scale d * (scales[g] & 15) and min dmin * (scales[g] >> 4).
void q2_k(const BlockQ2K& b, float* y) {
  const float d = h(b.d), dmin = h(b.dmin);
  int g = 0;
  for (int half = 0; half < 2; ++half) {
    const uint8_t* q = b.qs + 32 * half;
    for (int shift = 0; shift < 8; shift += 2) {
      for (int part = 0; part < 2; ++part, ++g) {
        const float dl = d * static_cast<float>(b.scales[g] & 0xF);
        const float ml = dmin * static_cast<float>(b.scales[g] >> 4);
        for (int l = 0; l < 16; ++l)
          *y++ = dl * static_cast<float>((q[l + 16 * part] >> shift) & 3) - ml;
      }
    }
  }
}

// Q3_K: the 2 low bits as in Q2_K, the third from hmask (bit set: no offset, clear: -4).
void q3_k(const BlockQ3K& b, float* y) {
  const float d = h(b.d);
  int8_t sc[16];
  scales_q3k(b.scales, sc);
  int g = 0;
  uint8_t m = 1;
  for (int half = 0; half < 2; ++half) {
    const uint8_t* q = b.qs + 32 * half;
    for (int shift = 0; shift < 8; shift += 2, m = static_cast<uint8_t>(m << 1)) {
      for (int part = 0; part < 2; ++part, ++g) {
        const float dl = d * static_cast<float>(sc[g] - 32);
        for (int l = 0; l < 16; ++l) {
          const int i = l + 16 * part;
          const int v = ((q[i] >> shift) & 3) - ((b.hmask[i] & m) ? 0 : 4);
          *y++ = dl * static_cast<float>(v);
        }
      }
    }
  }
}

// Q4_K: 4 chunks of 64 elements; chunk c's 32 bytes give group 2c (low nibbles) and 2c+1 (high).
void q4_k(const BlockQ4K& b, float* y) {
  const float d = h(b.d), dmin = h(b.dmin);
  for (int c = 0; c < 4; ++c) {
    const uint8_t* q = b.qs + 32 * c;
    for (int part = 0; part < 2; ++part) {
      uint8_t sc, mn;
      scale_min_k4(2 * c + part, b.scales, &sc, &mn);
      const float dl = d * static_cast<float>(sc), ml = dmin * static_cast<float>(mn);
      for (int l = 0; l < 32; ++l)
        *y++ = dl * static_cast<float>(part ? q[l] >> 4 : q[l] & 0xF) - ml;
    }
  }
}

// Q5_K: Q4_K plus a fifth bit: element l of group g has it at bit g of qh[l].
void q5_k(const BlockQ5K& b, float* y) {
  const float d = h(b.d), dmin = h(b.dmin);
  for (int c = 0; c < 4; ++c) {
    const uint8_t* q = b.qs + 32 * c;
    for (int part = 0; part < 2; ++part) {
      const int g = 2 * c + part;
      uint8_t sc, mn;
      scale_min_k4(g, b.scales, &sc, &mn);
      const float dl = d * static_cast<float>(sc), ml = dmin * static_cast<float>(mn);
      for (int l = 0; l < 32; ++l) {
        const int v = (part ? q[l] >> 4 : q[l] & 0xF) + (((b.qh[l] >> g) & 1) << 4);
        *y++ = dl * static_cast<float>(v) - ml;
      }
    }
  }
}

// Q6_K: two halves of 128; in each, element l + 32 k (k = 0..3) takes its low 4 bits from
// ql[l + 32 (k & 1)] (low nibble for k < 2, high for k >= 2) and its top 2 bits from qh[l] at
// bit 2k; group = (l + 32 k) / 16.
void q6_k(const BlockQ6K& b, float* y) {
  const float d = h(b.d);
  for (int half = 0; half < 2; ++half) {
    const uint8_t* ql = b.ql + 64 * half;
    const uint8_t* qh = b.qh + 32 * half;
    const int8_t* sc = b.scales + 8 * half;
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
      y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
      y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
      y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
    }
    y += 128;
  }
}

void iq4_xs(const BlockIq4Xs& b, float* y) {
  const float d = h(b.d);
  for (int g = 0; g < 8; ++g) {
    const float dl = d * static_cast<float>(scale_iq4xs(b, g) - 32);
    const uint8_t* q = b.qs + 16 * g;
    for (int j = 0; j < 16; ++j) {
      y[j] = dl * static_cast<float>(kIq4nlValues[q[j] & 0xF]);
      y[j + 16] = dl * static_cast<float>(kIq4nlValues[q[j] >> 4]);
    }
    y += 32;
  }
}

template <class B>
void blocks(const void* src, float* dst, int64_t n, int64_t per_block,
            void (*f)(const B&, float*)) {
  const auto* p = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n / per_block; ++i) {
    B b;
    std::memcpy(&b, p + i * static_cast<int64_t>(sizeof(B)), sizeof(B));
    f(b, dst + i * per_block);
  }
}

}  // namespace

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
  switch (t) {
    case DType::F32:
      std::memcpy(dst, src, sizeof(float) * static_cast<size_t>(n));
      return;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(static_cast<const uint16_t*>(src)[i]);
      return;
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(static_cast<const uint16_t*>(src)[i]);
      return;
    case DType::Q8_0:
      return blocks<BlockQ8_0>(src, dst, n, kQK, q8_0);
    case DType::Q4_0:
      return blocks<BlockQ4_0>(src, dst, n, kQK, q4_0);
    case DType::Q4_1:
      return blocks<BlockQ4_1>(src, dst, n, kQK, q4_1);
    case DType::Q5_0:
      return blocks<BlockQ5_0>(src, dst, n, kQK, q5_0);
    case DType::Q5_1:
      return blocks<BlockQ5_1>(src, dst, n, kQK, q5_1);
    case DType::IQ4_NL:
      return blocks<BlockIq4Nl>(src, dst, n, kQK, iq4_nl);
    case DType::Q2_K:
      return blocks<BlockQ2K>(src, dst, n, kQKK, q2_k);
    case DType::Q3_K:
      return blocks<BlockQ3K>(src, dst, n, kQKK, q3_k);
    case DType::Q4_K:
      return blocks<BlockQ4K>(src, dst, n, kQKK, q4_k);
    case DType::Q5_K:
      return blocks<BlockQ5K>(src, dst, n, kQKK, q5_k);
    case DType::Q6_K:
      return blocks<BlockQ6K>(src, dst, n, kQKK, q6_k);
    case DType::IQ4_XS:
      return blocks<BlockIq4Xs>(src, dst, n, kQKK, iq4_xs);
  }
}

float dequantize_one(DType t, const void* src, int64_t i) {
  const int64_t bs = dtype_block(t);
  float buf[kQKK];
  const int64_t b = i / bs;
  dequantize_row(t, static_cast<const uint8_t*>(src) + b * dtype_block_bytes(t), buf, bs);
  return buf[i - b * bs];
}

}  // namespace lc::ops::quant
