// ggml's block layouts, byte for byte as llama.cpp writes them into GGUF files (little-endian,
// no padding; every struct is checked against dtype_info's block_bytes below). fp16 fields are
// raw IEEE half bits. QK = 32 elements per small block, QK_K = 256 per K-quant super-block.
//
// Element values (x = the dequantized weight):
//   Q4_0  x = d * (q - 8),            q = 4 bits: byte j low nibble is element j, high is j + 16
//   Q4_1  x = d * q + m
//   Q5_0  x = d * (q - 16),           q = nibble | bit j of qh << 4 (element j's bit is bit j)
//   Q5_1  x = d * q + m
//   Q8_0  x = d * q,                  q int8
//   IQ4_NL x = d * kIq4nlValues[q],   q = 4 bits laid out as Q4_0
//   Q2_K  16 groups of 16: x = d * (sc & 15) * q - dmin * (sc >> 4), q 2 bits
//   Q3_K  16 groups of 16: x = d * (s - 32) * (q - (hmask bit ? 0 : 4)), s 6-bit scales
//   Q4_K  8 groups of 32:  x = d * s * q - dmin * m, (s, m) 6-bit pairs packed in 12 bytes
//   Q5_K  as Q4_K with a fifth bit per element from qh
//   Q6_K  16 groups of 16: x = d * scales[g] * (q - 32), q 6 bits (4 in ql, 2 in qh)
//   IQ4_XS 8 groups of 32: x = d * (s - 32) * kIq4nlValues[q], s 6 bits
// ops/quant/dequant.cc spells each one out in full; that is the reference.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace lc::ops::quant {

constexpr int kQK = 32;
constexpr int kQKK = 256;

// The 16 non-uniform levels of IQ4_NL and IQ4_XS.
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK / 2];
};
struct BlockQ4_1 {
  uint16_t d, m;
  uint8_t qs[kQK / 2];
};
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};
struct BlockIq4Nl {
  uint16_t d;
  uint8_t qs[kQK / 2];
};
struct BlockQ2K {
  uint8_t scales[kQKK / 16];  // low nibble: scale, high nibble: min
  uint8_t qs[kQKK / 4];
  uint16_t d, dmin;
};
struct BlockQ3K {
  uint8_t hmask[kQKK / 8];
  uint8_t qs[kQKK / 4];
  uint8_t scales[12];
  uint16_t d;
};
struct BlockQ4K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qs[kQKK / 2];
};
struct BlockQ5K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[kQKK / 8];
  uint8_t qs[kQKK / 2];
};
struct BlockQ6K {
  uint8_t ql[kQKK / 2];
  uint8_t qh[kQKK / 4];
  int8_t scales[kQKK / 16];
  uint16_t d;
};
struct BlockIq4Xs {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[kQKK / 64];
  uint8_t qs[kQKK / 2];
};

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 &&
              sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34 && sizeof(BlockIq4Nl) == 18);
static_assert(sizeof(BlockQ2K) == 84 && sizeof(BlockQ3K) == 110 && sizeof(BlockQ4K) == 144 &&
              sizeof(BlockQ5K) == 176 && sizeof(BlockQ6K) == 210 && sizeof(BlockIq4Xs) == 136);

// Q4_K / Q5_K: the 6-bit scale and min of group j (0..7) from the 12 packed bytes.
inline void scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Q3_K: the 16 6-bit scales (still offset by 32) from the 12 packed bytes.
inline void scales_q3k(const uint8_t* packed, int8_t* out) {
  for (int j = 0; j < 16; ++j) {
    const int low = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4;
    const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
    out[j] = static_cast<int8_t>(low | high << 4);
  }
}

// IQ4_XS: the 6-bit scale (offset by 32) of group j (0..7).
inline int scale_iq4xs(const BlockIq4Xs& b, int j) {
  return ((b.scales_l[j / 2] >> (4 * (j % 2))) & 0xF) | (((b.scales_h >> (2 * j)) & 3) << 4);
}

}  // namespace lc::ops::quant
