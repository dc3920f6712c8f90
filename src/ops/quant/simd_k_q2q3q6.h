// Q2_K, Q3_K and Q6_K on the K-quant machinery of simd_k_common.h: 16 groups of 16 levels, one
// scale per group (Q2_K also a min). In all three, natural vector 4h + k (h = 128-element half,
// k = 0..3: elements 128h + 32k .. + 31) holds group 8h + 2k in its low 128 bits and group
// 8h + 2k + 1 in its high 128 bits, and is cut from the same bytes of the half by a shift k.
#pragma once
#include "ops/quant/simd_k_q4q5.h"

namespace lc::ops::quant {
namespace {

// v shifted left by n (n < 0: right by -n) in 16-bit lanes; callers mask to whole bytes.
inline __m256i shift16(__m256i v, int n) {
  return n >= 0 ? _mm256_slli_epi16(v, n) : _mm256_srli_epi16(v, -n);
}

// vpshufb control for natural vector k of a half: int16 element 2k of the low 128 bits, element
// 2k + 1 of the high 128 bits (the scales of the vector's two groups, from a vector holding the
// half's 8 int16 scales in both 128-bit halves).
inline __m256i pick_pair16(int k) {
  return _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(0x0100 + 0x0202 * (2 * k + 1))),
                          _mm_set1_epi16(static_cast<int16_t>(0x0100 + 0x0202 * (2 * k))));
}

// The parts the three types share: s16 (16 int16 group scales) in both forms, the decode loop.
template <class Derived>
struct K16Common : KTypeBase {
  static constexpr int kGroupDwords = 4;
  // Decode: vd[r] (started by the type with its offset or 0) += the scaled dots of row r.
  template <class D, int R>
  static void dot_levels(const uint8_t* const* w, const BlockQ8K& x, const __m256i* s16,
                         __m256i* vd) {
    for (int h = 0; h < 2; ++h) {
      __m256i sh[R];
      for (int r = 0; r < R; ++r)
        sh[r] = h ? _mm256_permute2x128_si256(s16[r], s16[r], 0x11)
                  : _mm256_permute2x128_si256(s16[r], s16[r], 0x00);
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        const __m256i xk = load256(x.qs + 128 * h + 32 * k);
        for (int r = 0; r < R; ++r)
          vd[r] = madd_acc<D>(vd[r], _mm256_maddubs_epi16(Derived::level(w[r], h, k), xk),
                              _mm256_shuffle_epi8(sh[r], pick_pair16(k)));
      }
    }
  }

  static void unpack_levels(const uint8_t* w, Unpacked* u) {
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i)
      _mm256_store_si256(reinterpret_cast<__m256i*>(u->q + 32 * i),
                         Derived::level(w, i / 4, i % 4));
  }

  // s8: the 16 group scales as int8.
  static void unpack_scales(__m128i s8, Unpacked* u) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(u->sc), _mm256_cvtepi8_epi32(s8));
    _mm256_store_si256(reinterpret_cast<__m256i*>(u->sc + 8),
                       _mm256_cvtepi8_epi32(_mm_srli_si128(s8, 8)));
  }
};

// Q6_K: level q = 4 bits of ql | 2 bits of qh << 4 (0..63), x = d * scale * (q - 32).
struct KQ6 : K16Common<KQ6> {
  using Block = BlockQ6K;
  static constexpr bool kHasMin = false;
  static constexpr int kI16Words = 2;  // 2 * 2 * 63 * 127 < 32768
  template <class D>
  static constexpr int offset() {
    return 32;
  }
  static uint32_t scale_bits(const uint8_t* w) { return load_u16(w + 208); }

  static __m256i level(const uint8_t* w, int h, int k) {
    const __m256i l = load256(w + 64 * h + 32 * (k & 1));
    const __m256i qh = load256(w + 128 + 32 * h);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i lo =
        k < 2 ? _mm256_and_si256(l, m4) : _mm256_and_si256(_mm256_srli_epi16(l, 4), m4);
    // Bits 2k, 2k + 1 of qh become bits 4, 5.
    const __m256i hi = _mm256_and_si256(shift16(qh, 4 - 2 * k), _mm256_set1_epi8(0x30));
    return _mm256_or_si256(lo, hi);
  }

  template <class D, int R>
  static void sb_dot(const uint8_t* const* w, const BlockQ8K& x, __m256i* vd, __m256i*) {
    const __m256i bs = load256(x.bsums);
    __m256i s16[R];
    for (int r = 0; r < R; ++r) {
      s16[r] = _mm256_cvtepi8_epi16(load128(w[r] + 192));
      // sum (q - 32) s x = sum q s x - 32 sum_g s_g bsum_g
      vd[r] = _mm256_sub_epi32(_mm256_setzero_si256(),
                               _mm256_slli_epi32(_mm256_madd_epi16(s16[r], bs), 5));
    }
    dot_levels<D, R>(w, x, s16, vd);
  }

  template <class D>
  static void unpack(const uint8_t* w, Unpacked* u) {
    unpack_levels(w, u);
    unpack_scales(load128(w + 192), u);
    u->d = half_at(w + 208);
    u->dmin = 0.0f;
  }
};

// Q3_K: level q = 2 bits of qs | hmask bit << 2 (0..7), x = d * (s - 32) * (q - 4).
struct KQ3 : K16Common<KQ3> {
  using Block = BlockQ3K;
  static constexpr bool kHasMin = false;
  static constexpr int kI16Words = 4;  // a whole group: 4 * 2 * 7 * 127 < 32768
  template <class D>
  static constexpr int offset() {
    return 4;
  }
  static uint32_t scale_bits(const uint8_t* w) { return load_u16(w + 108); }

  static __m256i level(const uint8_t* w, int h, int k) {
    const __m256i q = load256(w + 32 + 32 * h);
    const __m256i hm = load256(w);
    const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(q, 2 * k), _mm256_set1_epi8(3));
    // hmask bit 4h + k of the byte becomes bit 2.
    const __m256i hi = _mm256_and_si256(shift16(hm, 2 - (4 * h + k)), _mm256_set1_epi8(4));
    return _mm256_or_si256(lo, hi);
  }

  // The 16 scales s - 32 as int8 (blocks.h scales_q3k, all at once): scale j takes the low
  // (j < 8) or high nibble of byte j % 8 and 2 bits of byte 8 + j % 4 at shift 2 (j / 4).
  static __m128i scales(const uint8_t* w) {
    const uint32_t a = load_u32(w + 96), b = load_u32(w + 100), c = load_u32(w + 104);
    const uint32_t m4 = 0x0f0f0f0fu, m2 = 0x03030303u;
    const uint32_t s0 = (a & m4) | ((c & m2) << 4);
    const uint32_t s1 = (b & m4) | (((c >> 2) & m2) << 4);
    const uint32_t s2 = ((a >> 4) & m4) | (((c >> 4) & m2) << 4);
    const uint32_t s3 = ((b >> 4) & m4) | (((c >> 6) & m2) << 4);
    return _mm_sub_epi8(_mm_setr_epi32(static_cast<int>(s0), static_cast<int>(s1),
                                       static_cast<int>(s2), static_cast<int>(s3)),
                        _mm_set1_epi8(32));
  }

  template <class D, int R>
  static void sb_dot(const uint8_t* const* w, const BlockQ8K& x, __m256i* vd, __m256i*) {
    const __m256i bs = load256(x.bsums);
    __m256i s16[R];
    for (int r = 0; r < R; ++r) {
      s16[r] = _mm256_cvtepi8_epi16(scales(w[r]));
      // sum (q - 4) s x = sum q s x - 4 sum_g s_g bsum_g
      vd[r] = _mm256_sub_epi32(_mm256_setzero_si256(),
                               _mm256_slli_epi32(_mm256_madd_epi16(s16[r], bs), 2));
    }
    dot_levels<D, R>(w, x, s16, vd);
  }

  template <class D>
  static void unpack(const uint8_t* w, Unpacked* u) {
    unpack_levels(w, u);
    unpack_scales(scales(w), u);
    u->d = half_at(w + 108);
    u->dmin = 0.0f;
  }
};

// Q2_K: level q = 2 bits (0..3), x = d * (sc & 15) * q - dmin * (sc >> 4).
struct KQ2 : K16Common<KQ2> {
  using Block = BlockQ2K;
  static constexpr bool kHasMin = true;
  static constexpr int kI16Words = 4;           // a whole group: 4 * 2 * 3 * 127 < 32768
  static constexpr bool kLanesFitInt16 = true;  // 16 * 3 * 127
  static uint32_t scale_bits(const uint8_t* w) { return load_u32(w + 80); }  // d, dmin

  static __m256i level(const uint8_t* w, int h, int k) {
    return _mm256_and_si256(_mm256_srli_epi16(load256(w + 16 + 32 * h), 2 * k),
                            _mm256_set1_epi8(3));
  }

  template <class D, int R>
  static void sb_dot(const uint8_t* const* w, const BlockQ8K& x, __m256i* vd, __m256i* vm) {
    const __m256i bs = load256(x.bsums);
    const __m128i m4 = _mm_set1_epi8(0x0F);
    __m256i s16[R];
    for (int r = 0; r < R; ++r) {
      const __m128i sc = load128(w[r]);
      s16[r] = _mm256_cvtepu8_epi16(_mm_and_si128(sc, m4));
      vm[r] = _mm256_madd_epi16(_mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc, 4), m4)), bs);
    }
    dot_levels<D, R>(w, x, s16, vd);
  }

  template <class D>
  static void unpack(const uint8_t* w, Unpacked* u) {
    unpack_levels(w, u);
    const __m128i sc = load128(w), m4 = _mm_set1_epi8(0x0F);
    unpack_scales(_mm_and_si128(sc, m4), u);
    // Mins of bsums 2p, 2p + 1 as an int16 pair: the 16 mins widened to int16 are exactly that.
    _mm256_store_si256(reinterpret_cast<__m256i*>(u->mp),
                       _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc, 4), m4)));
    u->d = half_at(w + 80);
    u->dmin = half_at(w + 82);
  }
};

}  // namespace
}  // namespace lc::ops::quant
