// Scalar quantized dot products: the integer arithmetic of every type spelled out per block.
// Compiled for baseline x86-64; the table for Isa::Generic and the yardstick for the SIMD tables.
#include <cstring>

#include "ops/quant/blocks.h"
#include "ops/quant/gemm_driver.h"
#include "ops/quant/kernels_internal.h"

namespace lc::ops::quant {
namespace {

float h(uint16_t x) { return f16_to_f32(x); }

template <class B>
const B* blocks(const void* p) {
  return static_cast<const B*>(p);
}

uint32_t qh32(const uint8_t* qh) {
  uint32_t v;
  std::memcpy(&v, qh, 4);
  return v;
}

// Sum over the 32 elements of a 4-bit block laid out as Q4_0 (element j: low nibble of byte j,
// element j + 16: high nibble), each level mapped through lv, times the activations.
template <class Level>
int dot_nibbles(const uint8_t* qs, const int8_t* x, Level lv) {
  int s = 0;
  for (int j = 0; j < 16; ++j) s += lv(qs[j] & 0xF) * x[j] + lv(qs[j] >> 4) * x[j + 16];
  return s;
}

float dot_q4_0(const void* w, const void* xv, int64_t nb) {
  const auto* b = blocks<BlockQ4_0>(w);
  const auto* x = blocks<BlockQ8x>(xv);
  float acc = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    const int s = dot_nibbles(b[i].qs, x[i].qs, [](int q) { return q - 8; });
    acc += h(b[i].d) * x[i].d * static_cast<float>(s);
  }
  return acc;
}

float dot_q4_1(const void* w, const void* xv, int64_t nb) {
  const auto* b = blocks<BlockQ4_1>(w);
  const auto* x = blocks<BlockQ8x>(xv);
  float acc = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    const int s = dot_nibbles(b[i].qs, x[i].qs, [](int q) { return q; });
    acc += h(b[i].d) * x[i].d * static_cast<float>(s) + h(b[i].m) * x[i].s;
  }
  return acc;
}

int dot_5bit(const uint8_t* qs, const uint8_t* qhb, const int8_t* x, int offset) {
  const uint32_t qh = qh32(qhb);
  int s = 0;
  for (int j = 0; j < 16; ++j) {
    const int lo = (qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1) << 4);
    const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
    s += (lo - offset) * x[j] + (hi - offset) * x[j + 16];
  }
  return s;
}

float dot_q5_0(const void* w, const void* xv, int64_t nb) {
  const auto* b = blocks<BlockQ5_0>(w);
  const auto* x = blocks<BlockQ8x>(xv);
  float acc = 0.0f;
  for (int64_t i = 0; i < nb; ++i)
    acc += h(b[i].d) * x[i].d * static_cast<float>(dot_5bit(b[i].qs, b[i].qh, x[i].qs, 16));
  return acc;
}

float dot_q5_1(const void* w, const void* xv, int64_t nb) {
  const auto* b = blocks<BlockQ5_1>(w);
  const auto* x = blocks<BlockQ8x>(xv);
  float acc = 0.0f;
  for (int64_t i = 0; i < nb; ++i)
    acc += h(b[i].d) * x[i].d * static_cast<float>(dot_5bit(b[i].qs, b[i].qh, x[i].qs, 0)) +
           h(b[i].m) * x[i].s;
  return acc;
}

float dot_q8_0(const void* w, const void* xv, int64_t nb) {
  const auto* b = blocks<BlockQ8_0>(w);
  const auto* x = blocks<BlockQ8x>(xv);
  float acc = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    int s = 0;
    for (int j = 0; j < 32; ++j) s += b[i].qs[j] * x[i].qs[j];
    acc += h(b[i].d) * x[i].d * static_cast<float>(s);
  }
  return acc;
}

float dot_iq4_nl(const void* w, const void* xv, int64_t nb) {
  const auto* b = blocks<BlockIq4Nl>(w);
  const auto* x = blocks<BlockQ8x>(xv);
  float acc = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    const int s = dot_nibbles(b[i].qs, x[i].qs, [](int q) { return int{kIq4nlValues[q]}; });
    acc += h(b[i].d) * x[i].d * static_cast<float>(s);
  }
  return acc;
}

// Q2_K and Q3_K share the 2-bit walk: group g (16 elements) of the super-block reads byte
// l + 16 (g & 1) + 32 (g / 8) of qs at shift 2 ((g / 2) % 4).
int q2_level(const uint8_t* qs, int g, int l) {
  return (qs[32 * (g / 8) + 16 * (g & 1) + l] >> (2 * ((g / 2) % 4))) & 3;
}

float dot_q2_k(const void* w, const void* xv, int64_t nb) {
  const auto* b = blocks<BlockQ2K>(w);
  const auto* x = blocks<BlockQ8K>(xv);
  float acc = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    int sum = 0, mins = 0;
    for (int g = 0; g < 16; ++g) {
      int s = 0;
      for (int l = 0; l < 16; ++l) s += q2_level(b[i].qs, g, l) * x[i].qs[16 * g + l];
      sum += (b[i].scales[g] & 0xF) * s;
      mins += (b[i].scales[g] >> 4) * x[i].bsums[g];
    }
    acc += x[i].d * (h(b[i].d) * static_cast<float>(sum) - h(b[i].dmin) * static_cast<float>(mins));
  }
  return acc;
}

float dot_q3_k(const void* w, const void* xv, int64_t nb) {
  const auto* b = blocks<BlockQ3K>(w);
  const auto* x = blocks<BlockQ8K>(xv);
  float acc = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    int8_t sc[16];
    scales_q3k(b[i].scales, sc);
    int sum = 0;
    for (int g = 0; g < 16; ++g) {
      const int bit = g / 2;  // hmask bit of the group's (half, shift)
      int s = 0;
      for (int l = 0; l < 16; ++l) {
        const int idx = 16 * (g & 1) + l;
        const int v = q2_level(b[i].qs, g, l) - ((b[i].hmask[idx] >> bit) & 1 ? 0 : 4);
        s += v * x[i].qs[16 * g + l];
      }
      sum += (sc[g] - 32) * s;
    }
    acc += x[i].d * h(b[i].d) * static_cast<float>(sum);
  }
  return acc;
}

// Q4_K / Q5_K: group g (32 elements) reads byte l of chunk g / 2, low nibble for even g.
template <bool kFifthBit, class B>
float dot_k4(const B* b, const BlockQ8K* x, int64_t nb) {
  float acc = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    int sum = 0, mins = 0;
    for (int g = 0; g < 8; ++g) {
      uint8_t sc, mn;
      scale_min_k4(g, b[i].scales, &sc, &mn);
      const uint8_t* q = b[i].qs + 32 * (g / 2);
      int s = 0;
      for (int l = 0; l < 32; ++l) {
        int v = g & 1 ? q[l] >> 4 : q[l] & 0xF;
        if constexpr (kFifthBit) v += ((b[i].qh[l] >> g) & 1) << 4;
        s += v * x[i].qs[32 * g + l];
      }
      sum += sc * s;
      mins += mn * (x[i].bsums[2 * g] + x[i].bsums[2 * g + 1]);
    }
    acc += x[i].d * (h(b[i].d) * static_cast<float>(sum) - h(b[i].dmin) * static_cast<float>(mins));
  }
  return acc;
}

float dot_q4_k(const void* w, const void* xv, int64_t nb) {
  return dot_k4<false>(blocks<BlockQ4K>(w), blocks<BlockQ8K>(xv), nb);
}
float dot_q5_k(const void* w, const void* xv, int64_t nb) {
  return dot_k4<true>(blocks<BlockQ5K>(w), blocks<BlockQ8K>(xv), nb);
}

float dot_q6_k(const void* w, const void* xv, int64_t nb) {
  const auto* b = blocks<BlockQ6K>(w);
  const auto* x = blocks<BlockQ8K>(xv);
  float acc = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    int sum = 0;
    for (int e = 0; e < 256; ++e) {
      const int half = e / 128, r = e % 128, k = r / 32, l = r % 32;
      const uint8_t lo = b[i].ql[64 * half + l + 32 * (k & 1)];
      const int v =
          ((k < 2 ? lo & 0xF : lo >> 4) | (((b[i].qh[32 * half + l] >> (2 * k)) & 3) << 4));
      sum += b[i].scales[e / 16] * (v - 32) * x[i].qs[e];
    }
    acc += x[i].d * h(b[i].d) * static_cast<float>(sum);
  }
  return acc;
}

float dot_iq4_xs(const void* w, const void* xv, int64_t nb) {
  const auto* b = blocks<BlockIq4Xs>(w);
  const auto* x = blocks<BlockQ8K>(xv);
  float acc = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    int sum = 0;
    for (int g = 0; g < 8; ++g) {
      const int s = dot_nibbles(b[i].qs + 16 * g, x[i].qs + 32 * g,
                                [](int q) { return int{kIq4nlValues[q]}; });
      sum += (scale_iq4xs(b[i], g) - 32) * s;
    }
    acc += x[i].d * h(b[i].d) * static_cast<float>(sum);
  }
  return acc;
}

constexpr QuantKernels make_table() {
  QuantKernels t{Isa::Generic, "generic", quantize_q8x_row, quantize_q8k_row, {}};
  t.gemm[static_cast<int>(DType::Q8_0)] = gemm_rows<DType::Q8_0, dot_q8_0>;
  t.gemm[static_cast<int>(DType::Q4_0)] = gemm_rows<DType::Q4_0, dot_q4_0>;
  t.gemm[static_cast<int>(DType::Q4_1)] = gemm_rows<DType::Q4_1, dot_q4_1>;
  t.gemm[static_cast<int>(DType::Q5_0)] = gemm_rows<DType::Q5_0, dot_q5_0>;
  t.gemm[static_cast<int>(DType::Q5_1)] = gemm_rows<DType::Q5_1, dot_q5_1>;
  t.gemm[static_cast<int>(DType::IQ4_NL)] = gemm_rows<DType::IQ4_NL, dot_iq4_nl>;
  t.gemm[static_cast<int>(DType::Q2_K)] = gemm_rows<DType::Q2_K, dot_q2_k>;
  t.gemm[static_cast<int>(DType::Q3_K)] = gemm_rows<DType::Q3_K, dot_q3_k>;
  t.gemm[static_cast<int>(DType::Q4_K)] = gemm_rows<DType::Q4_K, dot_q4_k>;
  t.gemm[static_cast<int>(DType::Q5_K)] = gemm_rows<DType::Q5_K, dot_q5_k>;
  t.gemm[static_cast<int>(DType::Q6_K)] = gemm_rows<DType::Q6_K, dot_q6_k>;
  t.gemm[static_cast<int>(DType::IQ4_XS)] = gemm_rows<DType::IQ4_XS, dot_iq4_xs>;
  return t;
}
constexpr QuantKernels kTable = make_table();

}  // namespace

const QuantKernels& quant_kernels_generic() { return kTable; }

}  // namespace lc::ops::quant
