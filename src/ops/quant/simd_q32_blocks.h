// The weight side of simd_q32.h: one 32-element block of two weight rows (a "row pair") loaded
// into the registers the integer dot needs. Row a fills the low 128-bit lane of each register and
// row b the high lane, so both rows share every activation load: the activation block's elements
// 0..15 and 16..31 are each broadcast to both lanes (simd_q32.h, XBlock).
//
// Each type becomes levels u (unsigned bytes) with x = d * (u - kOffset) [+ m], where the offset
// is subtracted once per activation block in integer arithmetic (sum(u * q) - kOffset * sum(q)):
//   Q4_0 u = q (offset 8)        Q4_1 u = q (+ m)       Q5_0 u = q | qh << 4 (offset 16)
//   Q5_1 u = q | qh << 4 (+ m)   Q8_0 / IQ4_NL with a fused dpbusd (VNNI): u = level + 128 (offset
//   128; u * q reaches 255 * 127, exact in vpdpbusd's int32 sums).
// vpmaddubsw (AVX2) saturates pairs beyond int16, so there Q8_0 and IQ4_NL keep signed levels and
// use the sign trick instead (kSigned): |w| times q with w's sign moved onto q.
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/dtype.h"
#include "ops/quant/blocks.h"
#include "ops/quant/simd_dot.h"

namespace lc::ops::quant {
namespace {

// Whether D's dpbusd is one exact instruction (VNNI) rather than AVX2's vpmaddubsw pairs.
template <class D>
constexpr bool kFusedDot = !std::is_same_v<D, Avx2Dot>;

// One block of a row pair. lo: elements 0..15 of row a | of row b; hi: elements 16..31.
struct PairBlock {
  __m256i lo, hi;            // levels u, or |w| for kSigned formats
  __m256i sign_lo, sign_hi;  // kSigned only: the signed weights, whose signs go onto q
  __m256 d;                  // [d_a x4 | d_b x4]
  __m256 m;                  // [m_a 0 0 0 | m_b 0 0 0] (formats with a min)
};

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// 16 bytes at a in the low lane, 16 at b in the high lane (unaligned: blocks are 18 to 34 bytes).
inline __m256i load_pair128(const uint8_t* a, const uint8_t* b) {
  const __m128i va = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a));
  const __m128i vb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b));
  return _mm256_inserti128_si256(_mm256_castsi128_si256(va), vb, 1);
}

// Q4_0's nibble layout (byte j: element j low, element j + 16 high) of both rows -> lo, hi.
inline void load_nibbles(const uint8_t* a, const uint8_t* b, PairBlock* w) {
  const __m256i v = load_pair128(a, b);
  const __m256i mask = _mm256_set1_epi8(0x0F);
  w->lo = _mm256_and_si256(v, mask);
  w->hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), mask);
}

// The fp16 pair (d, m) at the start of each row's block -> w->d and w->m. A format without a min
// reads its first two quant bytes as m; that lane is never used.
inline void load_scales(const uint8_t* a, const uint8_t* b, PairBlock* w) {
  __m128i h = _mm_cvtsi32_si128(static_cast<int>(load_u32(a)));
  h = _mm_insert_epi32(h, static_cast<int>(load_u32(b)), 2);
  const __m256 f = _mm256_cvtph_ps(h);  // [d_a m_a 0 0 | d_b m_b 0 0], exact
  w->d = _mm256_permute_ps(f, 0);
  w->m = _mm256_permute_ps(f, _MM_SHUFFLE(2, 2, 2, 1));
}

// ORs the fifth bit of every element (bit j of the 32-bit qh word is element j's) into lo, hi.
inline void add_fifth_bits(const uint8_t* qh_a, const uint8_t* qh_b, PairBlock* w) {
  const __m256i qh = _mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_cvtsi32_si128(static_cast<int>(load_u32(qh_a)))),
      _mm_cvtsi32_si128(static_cast<int>(load_u32(qh_b))), 1);
  // Byte j of lo takes qh byte j / 8 (elements 0..15), of hi byte 2 + j / 8 (elements 16..31).
  const __m256i pick_lo = _mm256_setr_epi64x(0, 0x0101010101010101, 0, 0x0101010101010101);
  const __m256i pick_hi = _mm256_add_epi8(pick_lo, _mm256_set1_epi8(2));
  const __m256i bit = _mm256_set1_epi64x(0x8040201008040201);
  const __m256i b4 = _mm256_set1_epi8(0x10);
  auto fifth = [&](__m256i pick) {
    const __m256i sel = _mm256_and_si256(_mm256_shuffle_epi8(qh, pick), bit);
    return _mm256_and_si256(_mm256_cmpeq_epi8(sel, bit), b4);
  };
  w->lo = _mm256_or_si256(w->lo, fifth(pick_lo));
  w->hi = _mm256_or_si256(w->hi, fifth(pick_hi));
}

// Per type: the block struct, its offset, whether it has a min (x = d * u + m, the min
// multiplying the activation block's s = d_x * sum(q)), and load(a, b, w) for blocks a, b.
template <DType T, class D>
struct Q32Format;

template <class D>
struct Q32Format<DType::Q4_0, D> {
  static constexpr int kBytes = sizeof(BlockQ4_0), kOffset = 8;
  static constexpr bool kMin = false, kSigned = false;
  static void load(const uint8_t* a, const uint8_t* b, PairBlock* w) {
    load_scales(a, b, w);
    load_nibbles(a + 2, b + 2, w);
  }
};

template <class D>
struct Q32Format<DType::Q4_1, D> {
  static constexpr int kBytes = sizeof(BlockQ4_1), kOffset = 0;
  static constexpr bool kMin = true, kSigned = false;
  static void load(const uint8_t* a, const uint8_t* b, PairBlock* w) {
    load_scales(a, b, w);
    load_nibbles(a + 4, b + 4, w);
  }
};

template <class D>
struct Q32Format<DType::Q5_0, D> {
  static constexpr int kBytes = sizeof(BlockQ5_0), kOffset = 16;
  static constexpr bool kMin = false, kSigned = false;
  static void load(const uint8_t* a, const uint8_t* b, PairBlock* w) {
    load_scales(a, b, w);
    load_nibbles(a + 6, b + 6, w);
    add_fifth_bits(a + 2, b + 2, w);
  }
};

template <class D>
struct Q32Format<DType::Q5_1, D> {
  static constexpr int kBytes = sizeof(BlockQ5_1), kOffset = 0;
  static constexpr bool kMin = true, kSigned = false;
  static void load(const uint8_t* a, const uint8_t* b, PairBlock* w) {
    load_scales(a, b, w);
    load_nibbles(a + 8, b + 8, w);
    add_fifth_bits(a + 4, b + 4, w);
  }
};

template <class D>
struct Q32Format<DType::Q8_0, D> {
  static constexpr int kBytes = sizeof(BlockQ8_0), kOffset = kFusedDot<D> ? 128 : 0;
  static constexpr bool kMin = false, kSigned = !kFusedDot<D>;
  static void load(const uint8_t* a, const uint8_t* b, PairBlock* w) {
    load_scales(a, b, w);
    const __m256i lo = load_pair128(a + 2, b + 2), hi = load_pair128(a + 18, b + 18);
    if constexpr (kSigned) {
      w->sign_lo = lo;
      w->sign_hi = hi;
      w->lo = _mm256_sign_epi8(lo, lo);  // |w| as unsigned: 128 for -128, still exact
      w->hi = _mm256_sign_epi8(hi, hi);
    } else {
      const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));  // w + 128
      w->lo = _mm256_xor_si256(lo, flip);
      w->hi = _mm256_xor_si256(hi, flip);
    }
  }
};

template <class D>
struct Q32Format<DType::IQ4_NL, D> {
  static constexpr int kBytes = sizeof(BlockIq4Nl), kOffset = kFusedDot<D> ? 128 : 0;
  static constexpr bool kMin = false, kSigned = !kFusedDot<D>;
  static void load(const uint8_t* a, const uint8_t* b, PairBlock* w) {
    load_scales(a, b, w);
    load_nibbles(a + 2, b + 2, w);
    __m256i table = _mm256_broadcastsi128_si256(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4nlValues)));
    if constexpr (!kSigned)
      table = _mm256_xor_si256(table, _mm256_set1_epi8(static_cast<char>(0x80)));
    const __m256i lo = _mm256_shuffle_epi8(table, w->lo), hi = _mm256_shuffle_epi8(table, w->hi);
    if constexpr (kSigned) {
      w->sign_lo = lo;
      w->sign_hi = hi;
      w->lo = _mm256_sign_epi8(lo, lo);
      w->hi = _mm256_sign_epi8(hi, hi);
    } else {
      w->lo = lo;  // level + 128
      w->hi = hi;
    }
  }
};

}  // namespace
}  // namespace lc::ops::quant
