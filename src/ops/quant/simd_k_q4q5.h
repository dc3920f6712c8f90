// Q4_K and Q5_K on the K-quant machinery of simd_k_common.h: 8 groups of 32 levels 0..15 (Q5_K:
// 0..31), a 6-bit scale and min per group; x = d * s * q - dmin * m (ops/quant/blocks.h).
#pragma once
#include "ops/quant/simd_k_common.h"

namespace lc::ops::quant {
namespace {

// Defaults for the types whose prefill levels are unsigned and used as they are.
struct KTypeBase {
  template <class D>
  static constexpr int offset() {
    return 0;
  }
  template <class D>
  static __m256i mac(__m256i acc, __m256i w, __m256i x) {
    return D::dpbusd(acc, w, x);
  }
  static __m256i maddubs(__m256i w, __m256i x) { return _mm256_maddubs_epi16(w, x); }
};

// The 8 scales and 8 mins of Q4_K / Q5_K, one byte each (blocks.h scale_min_k4, all 8 at once):
// groups 0..3 take the low 6 bits of bytes 0..3 (scales) and 4..7 (mins); groups 4..7 take a
// nibble of bytes 8..11 and the top 2 bits of bytes 0..3 / 4..7.
inline void k4_scales_mins(const uint8_t* p, uint64_t* scales, uint64_t* mins) {
  const uint32_t a = load_u32(p), b = load_u32(p + 4), c = load_u32(p + 8);
  const uint32_t s_lo = a & 0x3f3f3f3fu, m_lo = b & 0x3f3f3f3fu;
  const uint32_t s_hi = (c & 0x0f0f0f0fu) | ((a >> 2) & 0x30303030u);
  const uint32_t m_hi = ((c >> 4) & 0x0f0f0f0fu) | ((b >> 2) & 0x30303030u);
  *scales = s_lo | static_cast<uint64_t>(s_hi) << 32;
  *mins = m_lo | static_cast<uint64_t>(m_hi) << 32;
}

// Broadcast of int16 element g of each 128-bit half (a vpshufb control).
inline __m256i pick16(int g) {
  return _mm256_set1_epi16(static_cast<int16_t>(0x0100 + 0x0202 * g));
}

template <bool kFifthBit>
struct K4Common : KTypeBase {
  static constexpr bool kHasMin = true;
  static constexpr int kGroupDwords = 8;
  static constexpr int kScales = 4;                // byte offset of the 12 scale bytes
  static constexpr int kQh = 16;                   // Q5_K only
  static constexpr int kQs = kFifthBit ? 48 : 16;  // byte offset of the nibbles
  static uint32_t scale_bits(const uint8_t* w) { return load_u32(w); }  // d, dmin

  // Natural levels of chunk c (64 elements): lo = group 2c, hi = group 2c + 1.
  static void levels(const uint8_t* w, int c, __m256i* hbits, __m256i* lo, __m256i* hi) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i q = load256(w + kQs + 32 * c);
    *lo = _mm256_and_si256(q, m4);
    *hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
    if constexpr (kFifthBit) {
      // Bits 2c and 2c + 1 of qh[l] are the fifth bits; *hbits is qh shifted right by 2c.
      const __m256i m16 = _mm256_set1_epi8(0x10);
      *lo = _mm256_or_si256(*lo, _mm256_and_si256(_mm256_slli_epi16(*hbits, 4), m16));
      *hi = _mm256_or_si256(*hi, _mm256_and_si256(_mm256_slli_epi16(*hbits, 3), m16));
      *hbits = _mm256_srli_epi16(*hbits, 2);
    }
  }

  template <class D, int R>
  static void sb_dot(const uint8_t* const* w, const BlockQ8K& x, __m256i* vd, __m256i* vm) {
    const __m256i bs = load256(x.bsums);
    const __m128i xsum =
        _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
    __m256i sc[R], hb[R];
    for (int r = 0; r < R; ++r) {
      uint64_t s, m;
      k4_scales_mins(w[r] + kScales, &s, &m);
      const __m256i sm =
          _mm256_cvtepu8_epi16(_mm_set_epi64x(static_cast<int64_t>(m), static_cast<int64_t>(s)));
      vm[r] = _mm256_zextsi128_si256(_mm_madd_epi16(_mm256_extracti128_si256(sm, 1), xsum));
      sc[r] = _mm256_permute2x128_si256(sm, sm, 0x00);
      hb[r] = kFifthBit ? load256(w[r] + kQh) : _mm256_setzero_si256();
    }
    for (int c = 0; c < 4; ++c) {
      const __m256i x0 = load256(x.qs + 64 * c), x1 = load256(x.qs + 64 * c + 32);
      for (int r = 0; r < R; ++r) {
        __m256i lo, hi;
        levels(w[r], c, &hb[r], &lo, &hi);
        vd[r] = madd_acc<D>(vd[r], _mm256_maddubs_epi16(lo, x0),
                            _mm256_shuffle_epi8(sc[r], pick16(2 * c)));
        vd[r] = madd_acc<D>(vd[r], _mm256_maddubs_epi16(hi, x1),
                            _mm256_shuffle_epi8(sc[r], pick16(2 * c + 1)));
      }
    }
  }

  template <class D>
  static void unpack(const uint8_t* w, Unpacked* u) {
    __m256i hb = kFifthBit ? load256(w + kQh) : _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      __m256i lo, hi;
      levels(w, c, &hb, &lo, &hi);
      _mm256_store_si256(reinterpret_cast<__m256i*>(u->q + 64 * c), lo);
      _mm256_store_si256(reinterpret_cast<__m256i*>(u->q + 64 * c + 32), hi);
    }
    uint64_t s, m;
    k4_scales_mins(w + kScales, &s, &m);
    _mm256_store_si256(reinterpret_cast<__m256i*>(u->sc),
                       _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(s))));
    // bsums 2p and 2p + 1 both belong to group p.
    const __m256i m32 = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(m)));
    _mm256_store_si256(reinterpret_cast<__m256i*>(u->mp),
                       _mm256_mullo_epi32(m32, _mm256_set1_epi32(0x10001)));
    u->d = half_at(w);
    u->dmin = half_at(w + 2);
  }
};

struct KQ4 : K4Common<false> {
  using Block = BlockQ4K;
  static constexpr int kI16Words = 8;  // 8 * 2 * 15 * 127 < 32768
};
struct KQ5 : K4Common<true> {
  using Block = BlockQ5K;
  static constexpr int kI16Words = 4;  // 4 * 2 * 31 * 127 < 32768
};

}  // namespace
}  // namespace lc::ops::quant
