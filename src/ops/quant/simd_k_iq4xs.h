// IQ4_XS on the K-quant machinery of simd_k_common.h: 8 groups of 32 non-uniform levels
// kIq4nlValues[q] (q 4 bits, looked up with vpshufb), a 6-bit scale per group (offset 32);
// x = d * (s - 32) * kIq4nlValues[q] (ops/quant/blocks.h).
#pragma once
#include <type_traits>

#include "ops/quant/simd_k_q2q3q6.h"

namespace lc::ops::quant {
namespace {

// The 16 levels in both 128-bit halves; abs: their absolute values; plus128: level + 128.
inline __m256i iq4_table() { return _mm256_broadcastsi128_si256(load128(kIq4nlValues)); }
inline __m256i iq4_table_abs() { return _mm256_abs_epi8(iq4_table()); }
inline __m256i iq4_table_plus128() {
  return _mm256_xor_si256(iq4_table(), _mm256_set1_epi8(static_cast<char>(0x80)));
}

struct KIq4Xs {
  using Block = BlockIq4Xs;
  static constexpr bool kHasMin = false;
  static constexpr int kGroupDwords = 8;
  static constexpr int kI16Words = 1;  // 2 * 127 * 127 < 32768
  static uint32_t scale_bits(const uint8_t* w) { return load_u16(w); }

  // Prefill levels: with vpdpbusd, level + 128 (unsigned, offset removed through the bsums);
  // with the maddubs emulation that could saturate, so the signed level and the sign trick.
  template <class D>
  static constexpr bool signed_levels() {
    return std::is_same_v<D, Avx2Dot>;
  }
  template <class D>
  static constexpr int offset() {
    return signed_levels<D>() ? 0 : 128;
  }
  template <class D>
  static __m256i mac(__m256i acc, __m256i w, __m256i x) {
    if constexpr (signed_levels<D>())
      return dot_i8<D>(acc, w, x);
    else
      return D::dpbusd(acc, w, x);
  }

  // vpmaddubsw of signed levels (Avx2Dot prefill): |level| times x with the level's sign.
  static __m256i maddubs(__m256i w, __m256i x) {
    return _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
  }

  // The 8 group scales s - 32 as int32.
  static __m256i scales(const uint8_t* w) {
    const __m256i lo =
        _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(load_u32(w + 4))),
                                           _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28)),
                         _mm256_set1_epi32(0xF));
    const __m256i hi =
        _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(load_u16(w + 2)),
                                           _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14)),
                         _mm256_set1_epi32(3));
    return _mm256_sub_epi32(_mm256_or_si256(lo, _mm256_slli_epi32(hi, 4)), _mm256_set1_epi32(32));
  }

  // Chunk c = bytes 32c .. 32c + 31 of qs: groups 2c (first 16 bytes) and 2c + 1. lo holds the
  // low nibbles (elements 0..15 of each group, group 2c in the low 128 bits), hi the high ones.
  static void nibbles(const uint8_t* w, int c, __m256i* lo, __m256i* hi) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i q = load256(w + 8 + 32 * c);
    *lo = _mm256_and_si256(q, m4);
    *hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
  }

  template <class D, int R>
  static void sb_dot(const uint8_t* const* w, const BlockQ8K& x, __m256i* vd, __m256i*) {
    const __m256i tbl = iq4_table(), tabs = iq4_table_abs();
    __m256i s16[R];
    for (int r = 0; r < R; ++r) {
      const __m256i s = scales(w[r]);
      s16[r] = _mm256_broadcastsi128_si256(
          _mm_packs_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1)));
    }
    for (int c = 0; c < 4; ++c) {
      const __m256i x0 = load256(x.qs + 64 * c), x1 = load256(x.qs + 64 * c + 32);
      // Activations in the order of lo / hi: elements 0..15 (16..31) of groups 2c, 2c + 1.
      const __m256i xlo = _mm256_permute2x128_si256(x0, x1, 0x20);
      const __m256i xhi = _mm256_permute2x128_si256(x0, x1, 0x31);
      for (int r = 0; r < R; ++r) {
        __m256i lo, hi;
        nibbles(w[r], c, &lo, &hi);
        const __m256i sc = _mm256_shuffle_epi8(s16[r], pick_pair16(c));
        // |level| times x with the level's sign (|level| <= 127: no int16 saturation).
        const __m256i plo = _mm256_maddubs_epi16(
            _mm256_shuffle_epi8(tabs, lo), _mm256_sign_epi8(xlo, _mm256_shuffle_epi8(tbl, lo)));
        const __m256i phi = _mm256_maddubs_epi16(
            _mm256_shuffle_epi8(tabs, hi), _mm256_sign_epi8(xhi, _mm256_shuffle_epi8(tbl, hi)));
        vd[r] = madd_acc<D>(madd_acc<D>(vd[r], plo, sc), phi, sc);
      }
    }
  }

  template <class D>
  static void unpack(const uint8_t* w, Unpacked* u) {
    const __m256i tbl = signed_levels<D>() ? iq4_table() : iq4_table_plus128();
    for (int c = 0; c < 4; ++c) {
      __m256i lo, hi;
      nibbles(w, c, &lo, &hi);
      lo = _mm256_shuffle_epi8(tbl, lo);
      hi = _mm256_shuffle_epi8(tbl, hi);
      _mm256_store_si256(reinterpret_cast<__m256i*>(u->q + 64 * c),
                         _mm256_permute2x128_si256(lo, hi, 0x20));
      _mm256_store_si256(reinterpret_cast<__m256i*>(u->q + 64 * c + 32),
                         _mm256_permute2x128_si256(lo, hi, 0x31));
    }
    _mm256_store_si256(reinterpret_cast<__m256i*>(u->sc), scales(w));
    u->d = half_at(w);
    u->dmin = 0.0f;
  }
};

}  // namespace
}  // namespace lc::ops::quant
