// The weight side of simd_q32.h: block k of 8 weight rows unpacked so that 32-bit lane r of
// every register belongs to row r. Register u[j] holds, in lane r, row r's levels for the 4
// elements 4j .. 4j + 3 -- the elements that activation bytes 4j .. 4j + 3 multiply, so one
// dpbusd with those 4 activation bytes broadcast adds 4 products to every row at once, and after
// j = 0..7 lane r holds row r's whole block dot. The quant bytes are loaded 16 per row and
// transposed 4 x 4 in 32-bit units (load_transpose); the fp16 scales are gathered.
//
// Every type becomes levels u (unsigned bytes) with x = d * u + m per row and block:
//   Q4_0 u = q,  m = -8 d            Q4_1 u = q, m = m             Q5_0 u = q | qh << 4, m = -16 d
//   Q5_1 u = q | qh << 4, m = m      Q8_0 / IQ4_NL where dpbusd is one exact instruction (VNNI):
//   u = level + 128, m = -128 d (u * q reaches 255 * 127, exact in vpdpbusd's int32 sums).
// So a row's block term is d * d_x * dot(u, q) + m * s_x (s_x = d_x * sum(q), BlockQ8x::s).
// AVX2's vpmaddubsw saturates pairs beyond int16, so there Q8_0 and IQ4_NL keep signed levels
// (kSigned): u = |w|, with w's sign moved onto the activation bytes, and no m.
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

// Block k of 8 rows (lane r = row r).
struct Rows8 {
  __m256i u[8];     // u[j]: levels of elements 4j .. 4j + 3 (kSigned: |w|)
  __m256i sign[8];  // kSigned only: the signed weights, whose signs go onto the activations
  __m256 d, m;      // each row's scale and min (m unused when the format has none)
};

// Where the 8 rows are: row r's block k starts at p[r] + k * block bytes; idx[r] = p[r] - p[0]
// (rows past the matrix's range repeat the last one).
struct RowPtrs8 {
  const uint8_t* p[8];
  __m256i idx;
};

inline __m256i load_pair128(const uint8_t* a, const uint8_t* b) {
  const __m128i va = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a));
  const __m128i vb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b));
  return _mm256_inserti128_si256(_mm256_castsi128_si256(va), vb, 1);
}

// The 16 bytes at p[r] + off of each row -> t[j] (j < 4), lane r = bytes 4j .. 4j + 3 of row r.
inline void load_transpose(const RowPtrs8& rp, int64_t off, __m256i t[4]) {
  __m256i v[4];  // v[i] = [row i | row i + 4]
  for (int i = 0; i < 4; ++i) v[i] = load_pair128(rp.p[i] + off, rp.p[i + 4] + off);
  const __m256i a0 = _mm256_unpacklo_epi32(v[0], v[1]), a1 = _mm256_unpackhi_epi32(v[0], v[1]);
  const __m256i a2 = _mm256_unpacklo_epi32(v[2], v[3]), a3 = _mm256_unpackhi_epi32(v[2], v[3]);
  t[0] = _mm256_unpacklo_epi64(a0, a2);
  t[1] = _mm256_unpackhi_epi64(a0, a2);
  t[2] = _mm256_unpacklo_epi64(a1, a3);
  t[3] = _mm256_unpackhi_epi64(a1, a3);
}

// Q4_0's nibble layout (byte i: element i low, element i + 16 high) at off -> u[0..7].
inline void load_nibbles(const RowPtrs8& rp, int64_t off, Rows8* w) {
  __m256i t[4];
  load_transpose(rp, off, t);
  const __m256i mask = _mm256_set1_epi8(0x0F);
  for (int j = 0; j < 4; ++j) {
    w->u[j] = _mm256_and_si256(t[j], mask);
    w->u[j + 4] = _mm256_and_si256(_mm256_srli_epi16(t[j], 4), mask);
  }
}

// The 32-bit word at off of each row's block (base = row 0's block).
inline __m256i gather_u32(const RowPtrs8& rp, const uint8_t* base) {
  return _mm256_i32gather_epi32(reinterpret_cast<const int*>(base), rp.idx, 1);
}

// The fp16 pair (d, m) at the start of each row's block -> w->d and (kWithMin) w->m.
template <bool kWithMin>
inline void load_scales(const RowPtrs8& rp, const uint8_t* base, Rows8* w) {
  const __m256i g = gather_u32(rp, base);  // lane r: d_r | m_r << 16 (or d_r and two quants)
  // Words -> [d0..d3 m0..m3 | d4..d7 m4..m7] -> quadwords reordered to [d0..d7 | m0..m7].
  const __m256i pick = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15, 0, 1,
                                        4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
  const __m256i h = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(g, pick), _MM_SHUFFLE(3, 1, 2, 0));
  w->d = _mm256_cvtph_ps(_mm256_castsi256_si128(h));  // exact
  if constexpr (kWithMin) w->m = _mm256_cvtph_ps(_mm256_extracti128_si256(h, 1));
}

// ORs the fifth bit of every element (bit e of the row's 32-bit qh word is element e's) into u.
inline void add_fifth_bits(const RowPtrs8& rp, const uint8_t* qh_base, Rows8* w) {
  const __m256i qh = gather_u32(rp, qh_base);
  // u[2i] and u[2i + 1] take their bits from qh byte i: bits 0..3 and 4..7 for the 4 elements.
  const __m256i bit_lo = _mm256_set1_epi32(0x08040201), bit_hi = _mm256_set1_epi32(0x80402010);
  const __m256i b4 = _mm256_set1_epi8(0x10);
  // Byte b of lane r picks byte i of the lane's qh word.
  const __m256i lanes = _mm256_setr_epi32(0, 0x04040404, 0x08080808, 0x0C0C0C0C, 0, 0x04040404,
                                          0x08080808, 0x0C0C0C0C);
  for (int i = 0; i < 4; ++i) {
    const __m256i rep = _mm256_shuffle_epi8(qh, _mm256_add_epi8(lanes, _mm256_set1_epi8(i)));
    const __m256i lo = _mm256_cmpeq_epi8(_mm256_and_si256(rep, bit_lo), bit_lo);
    const __m256i hi = _mm256_cmpeq_epi8(_mm256_and_si256(rep, bit_hi), bit_hi);
    w->u[2 * i] = _mm256_or_si256(w->u[2 * i], _mm256_and_si256(lo, b4));
    w->u[2 * i + 1] = _mm256_or_si256(w->u[2 * i + 1], _mm256_and_si256(hi, b4));
  }
}

// Signed levels s[j] -> u = |s| and sign = s (kSigned), or u = s + 128 (the offset form).
template <bool kSigned>
inline void from_signed(const __m256i s[8], Rows8* w) {
  for (int j = 0; j < 8; ++j) {
    if constexpr (kSigned) {
      w->sign[j] = s[j];
      w->u[j] = _mm256_sign_epi8(s[j], s[j]);  // |-128| reads as the unsigned 128: still exact
    } else {
      w->u[j] = _mm256_xor_si256(s[j], _mm256_set1_epi8(static_cast<char>(0x80)));
    }
  }
}

// Per type: kBytes, the largest level kMaxLevel (for AVX2's int16 sums), kSigned, kHasM (the
// block term has an m * s_x part) and load(rows, k-th block offset, &w).
template <DType T, class D>
struct Q32Format;

template <class D>
struct Q32Format<DType::Q4_0, D> {
  static constexpr int kBytes = sizeof(BlockQ4_0), kMaxLevel = 15;
  static constexpr bool kSigned = false, kHasM = true;
  static void load(const RowPtrs8& rp, int64_t off, Rows8* w) {
    load_scales<false>(rp, rp.p[0] + off, w);
    w->m = _mm256_mul_ps(w->d, _mm256_set1_ps(-8.0f));
    load_nibbles(rp, off + 2, w);
  }
};

template <class D>
struct Q32Format<DType::Q4_1, D> {
  static constexpr int kBytes = sizeof(BlockQ4_1), kMaxLevel = 15;
  static constexpr bool kSigned = false, kHasM = true;
  static void load(const RowPtrs8& rp, int64_t off, Rows8* w) {
    load_scales<true>(rp, rp.p[0] + off, w);
    load_nibbles(rp, off + 4, w);
  }
};

template <class D>
struct Q32Format<DType::Q5_0, D> {
  static constexpr int kBytes = sizeof(BlockQ5_0), kMaxLevel = 31;
  static constexpr bool kSigned = false, kHasM = true;
  static void load(const RowPtrs8& rp, int64_t off, Rows8* w) {
    load_scales<false>(rp, rp.p[0] + off, w);
    w->m = _mm256_mul_ps(w->d, _mm256_set1_ps(-16.0f));
    load_nibbles(rp, off + 6, w);
    add_fifth_bits(rp, rp.p[0] + off + 2, w);
  }
};

template <class D>
struct Q32Format<DType::Q5_1, D> {
  static constexpr int kBytes = sizeof(BlockQ5_1), kMaxLevel = 31;
  static constexpr bool kSigned = false, kHasM = true;
  static void load(const RowPtrs8& rp, int64_t off, Rows8* w) {
    load_scales<true>(rp, rp.p[0] + off, w);
    load_nibbles(rp, off + 8, w);
    add_fifth_bits(rp, rp.p[0] + off + 4, w);
  }
};

template <class D>
struct Q32Format<DType::Q8_0, D> {
  static constexpr int kBytes = sizeof(BlockQ8_0), kMaxLevel = 255;
  static constexpr bool kSigned = !kFusedDot<D>, kHasM = !kSigned;
  static void load(const RowPtrs8& rp, int64_t off, Rows8* w) {
    load_scales<false>(rp, rp.p[0] + off, w);
    if constexpr (kHasM) w->m = _mm256_mul_ps(w->d, _mm256_set1_ps(-128.0f));
    __m256i s[8];
    load_transpose(rp, off + 2, s);
    load_transpose(rp, off + 18, s + 4);
    from_signed<kSigned>(s, w);
  }
};

template <class D>
struct Q32Format<DType::IQ4_NL, D> {
  static constexpr int kBytes = sizeof(BlockIq4Nl), kMaxLevel = 255;
  static constexpr bool kSigned = !kFusedDot<D>, kHasM = !kSigned;
  static void load(const RowPtrs8& rp, int64_t off, Rows8* w) {
    load_scales<false>(rp, rp.p[0] + off, w);
    if constexpr (kHasM) w->m = _mm256_mul_ps(w->d, _mm256_set1_ps(-128.0f));
    load_nibbles(rp, off + 2, w);
    const __m256i values = _mm256_broadcastsi128_si256(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4nlValues)));
    __m256i s[8];
    for (int j = 0; j < 8; ++j) s[j] = _mm256_shuffle_epi8(values, w->u[j]);
    from_signed<kSigned>(s, w);
  }
};

}  // namespace
}  // namespace lc::ops::quant
