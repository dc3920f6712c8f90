// The 512-bit prefill tile of simd_q32.h for the AVX512-VNNI table: the same layout with 16 rows
// per register (32-bit lane r = weight row r of a group of 16), so each vpdpbusd does twice the
// work of the 256-bit tile's and the per-block scaling (cvt, mul, fma) is shared by 16 rows.
// A tile is 16 W rows x up to 8 X rows: 8 level registers, 8 int32 and 8 f32 accumulators.
//
// Per (row, X row) the operations are those of simd_q32.h's tile, lane for lane: the exact int32
// block dot, then acc = fma(float(r), d_w * d_x, acc) and (kHasM) acc = fma(m_w, s_x, acc), in
// block order. So this tile's results equal the 256-bit decode tile's bit for bit, and decode and
// prefill still agree exactly (tests/quant_test.cc DecodeRowsEqualPrefillRowsBitForBit).
#pragma once
#if defined(__AVX512BW__) && defined(__AVX512VNNI__)
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "core/dtype.h"
#include "ops/quant/blocks.h"
#include "ops/quant/kernels.h"

namespace lc::ops::quant {
namespace {

// Block k of 16 rows (lane r = row r).
struct Rows16 {
  __m512i u[8];  // u[j]: levels of elements 4j .. 4j + 3
  __m512 d, m;   // each row's scale and min
};

// Row r's block k starts at p[r] + k * block bytes; idx[r] = p[r] - p[0].
struct RowPtrs16 {
  const uint8_t* p[16];
  __m512i idx;
};

inline __m512i load_quad128(const uint8_t* a, const uint8_t* b, const uint8_t* c,
                            const uint8_t* d) {
  const auto ld = [](const uint8_t* p) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  };
  const __m256i lo = _mm256_inserti128_si256(_mm256_castsi128_si256(ld(a)), ld(b), 1);
  const __m256i hi = _mm256_inserti128_si256(_mm256_castsi128_si256(ld(c)), ld(d), 1);
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// The 16 bytes at p[r] + off of each row -> t[j] (j < 4), lane r = bytes 4j .. 4j + 3 of row r:
// 128-bit lane L of v[i] holds row i + 4L, and the 4 x 4 transpose within each 128-bit lane puts
// row i + 4L's dword j at lane 4L + i of t[j].
inline void load_transpose16(const RowPtrs16& rp, int64_t off, __m512i t[4]) {
  __m512i v[4];
  for (int i = 0; i < 4; ++i)
    v[i] = load_quad128(rp.p[i] + off, rp.p[i + 4] + off, rp.p[i + 8] + off, rp.p[i + 12] + off);
  const __m512i a0 = _mm512_unpacklo_epi32(v[0], v[1]), a1 = _mm512_unpackhi_epi32(v[0], v[1]);
  const __m512i a2 = _mm512_unpacklo_epi32(v[2], v[3]), a3 = _mm512_unpackhi_epi32(v[2], v[3]);
  t[0] = _mm512_unpacklo_epi64(a0, a2);
  t[1] = _mm512_unpackhi_epi64(a0, a2);
  t[2] = _mm512_unpacklo_epi64(a1, a3);
  t[3] = _mm512_unpackhi_epi64(a1, a3);
}

// Nibble layout (byte i: element i low, element i + 16 high) at off -> u[0..7].
inline void load_nibbles16(const RowPtrs16& rp, int64_t off, Rows16* w) {
  __m512i t[4];
  load_transpose16(rp, off, t);
  const __m512i mask = _mm512_set1_epi8(0x0F);
  for (int j = 0; j < 4; ++j) {
    w->u[j] = _mm512_and_si512(t[j], mask);
    w->u[j + 4] = _mm512_and_si512(_mm512_srli_epi16(t[j], 4), mask);
  }
}

inline __m512i gather_u32_16(const RowPtrs16& rp, const uint8_t* base) {
  return _mm512_i32gather_epi32(rp.idx, base, 1);
}

// The fp16 pair (d, m) at the start of each row's block -> w->d and (kWithMin) w->m (exact).
template <bool kWithMin>
inline void load_scales16(const RowPtrs16& rp, const uint8_t* base, Rows16* w) {
  const __m512i g = gather_u32_16(rp, base);  // lane r: d_r | m_r << 16
  w->d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(g));
  if constexpr (kWithMin) w->m = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(g, 16)));
}

// ORs the fifth bit of every element (bit e of the row's 32-bit qh word) into u.
inline void add_fifth_bits16(const RowPtrs16& rp, const uint8_t* qh_base, Rows16* w) {
  const __m512i qh = gather_u32_16(rp, qh_base);
  const __m512i bit_lo = _mm512_set1_epi32(0x08040201), bit_hi = _mm512_set1_epi32(0x80402010);
  const __m512i b4 = _mm512_set1_epi8(0x10);
  // Byte b of lane r picks byte i of the lane's qh word (per 128-bit lane, as vpshufb works).
  const __m512i lanes = _mm512_set4_epi32(0x0C0C0C0C, 0x08080808, 0x04040404, 0);
  for (int i = 0; i < 4; ++i) {
    const __m512i rep = _mm512_shuffle_epi8(qh, _mm512_add_epi8(lanes, _mm512_set1_epi8(i)));
    const __mmask64 lo = _mm512_cmpeq_epi8_mask(_mm512_and_si512(rep, bit_lo), bit_lo);
    const __mmask64 hi = _mm512_cmpeq_epi8_mask(_mm512_and_si512(rep, bit_hi), bit_hi);
    w->u[2 * i] = _mm512_or_si512(w->u[2 * i], _mm512_maskz_mov_epi8(lo, b4));
    w->u[2 * i + 1] = _mm512_or_si512(w->u[2 * i + 1], _mm512_maskz_mov_epi8(hi, b4));
  }
}

// Signed levels s[j] -> u = s + 128 (x = d * u - 128 d).
inline void from_signed16(const __m512i s[8], Rows16* w) {
  for (int j = 0; j < 8; ++j) w->u[j] = _mm512_xor_si512(s[j], _mm512_set1_epi8(-128));
}

template <DType T>
struct Q32Zmm;

template <>
struct Q32Zmm<DType::Q4_0> {
  static constexpr int kBytes = sizeof(BlockQ4_0);
  static void load(const RowPtrs16& rp, int64_t off, Rows16* w) {
    load_scales16<false>(rp, rp.p[0] + off, w);
    w->m = _mm512_mul_ps(w->d, _mm512_set1_ps(-8.0f));
    load_nibbles16(rp, off + 2, w);
  }
};

template <>
struct Q32Zmm<DType::Q4_1> {
  static constexpr int kBytes = sizeof(BlockQ4_1);
  static void load(const RowPtrs16& rp, int64_t off, Rows16* w) {
    load_scales16<true>(rp, rp.p[0] + off, w);
    load_nibbles16(rp, off + 4, w);
  }
};

template <>
struct Q32Zmm<DType::Q5_0> {
  static constexpr int kBytes = sizeof(BlockQ5_0);
  static void load(const RowPtrs16& rp, int64_t off, Rows16* w) {
    load_scales16<false>(rp, rp.p[0] + off, w);
    w->m = _mm512_mul_ps(w->d, _mm512_set1_ps(-16.0f));
    load_nibbles16(rp, off + 6, w);
    add_fifth_bits16(rp, rp.p[0] + off + 2, w);
  }
};

template <>
struct Q32Zmm<DType::Q5_1> {
  static constexpr int kBytes = sizeof(BlockQ5_1);
  static void load(const RowPtrs16& rp, int64_t off, Rows16* w) {
    load_scales16<true>(rp, rp.p[0] + off, w);
    load_nibbles16(rp, off + 8, w);
    add_fifth_bits16(rp, rp.p[0] + off + 4, w);
  }
};

template <>
struct Q32Zmm<DType::Q8_0> {
  static constexpr int kBytes = sizeof(BlockQ8_0);
  static void load(const RowPtrs16& rp, int64_t off, Rows16* w) {
    load_scales16<false>(rp, rp.p[0] + off, w);
    w->m = _mm512_mul_ps(w->d, _mm512_set1_ps(-128.0f));
    __m512i s[8];
    load_transpose16(rp, off + 2, s);
    load_transpose16(rp, off + 18, s + 4);
    from_signed16(s, w);
  }
};

template <>
struct Q32Zmm<DType::IQ4_NL> {
  static constexpr int kBytes = sizeof(BlockIq4Nl);
  static void load(const RowPtrs16& rp, int64_t off, Rows16* w) {
    load_scales16<false>(rp, rp.p[0] + off, w);
    w->m = _mm512_mul_ps(w->d, _mm512_set1_ps(-128.0f));
    load_nibbles16(rp, off + 2, w);
    const __m512i values =
        _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4nlValues)));
    __m512i s[8];
    for (int j = 0; j < 8; ++j) s[j] = _mm512_shuffle_epi8(values, w->u[j]);
    from_signed16(s, w);
  }
};

// Y[n * ldy + i] = W row i . X row n for the rows i < rows (<= 16) of the tile at w0 and the NX X
// rows x, x + ldx, ... (ldx in blocks). Tile rows past `rows` repeat the last row and are not
// stored. prefetch_next: fetch the next 16 rows while this tile reads its own.
template <DType T, int NX>
void tile16(const uint8_t* w0, int64_t row_bytes, int rows, int64_t nb, const BlockQ8x* x,
            int64_t ldx, float* y, int64_t ldy, bool prefetch_next) {
  using F = Q32Zmm<T>;
  RowPtrs16 rp;
  alignas(64) int32_t idx[16];
  for (int i = 0; i < 16; ++i) {
    const int row = i < rows ? i : rows - 1;
    rp.p[i] = w0 + row * row_bytes;
    idx[i] = static_cast<int32_t>(row * row_bytes);
  }
  rp.idx = _mm512_load_si512(idx);
  __m512 acc[NX];
  for (int n = 0; n < NX; ++n) acc[n] = _mm512_setzero_ps();
  constexpr int64_t kTileBlockBytes = 16 * F::kBytes;
  uintptr_t pf = reinterpret_cast<uintptr_t>(w0) + static_cast<uintptr_t>(16 * row_bytes);
  for (int64_t k = 0; k < nb; ++k) {
    if (prefetch_next) {
      for (int64_t o = 0; o < kTileBlockBytes; o += 64)
        _mm_prefetch(reinterpret_cast<const char*>(pf + o), _MM_HINT_T0);
      pf += kTileBlockBytes;
    }
    Rows16 w;
    F::load(rp, k * F::kBytes, &w);
    const BlockQ8x* xb[NX];
    for (int n = 0; n < NX; ++n) xb[n] = x + n * ldx + k;
    __m512i r[NX];
    for (int n = 0; n < NX; ++n) r[n] = _mm512_setzero_si512();
    for (int j = 0; j < 8; ++j)
      for (int n = 0; n < NX; ++n) {
        int32_t v;
        std::memcpy(&v, xb[n]->qs + 4 * j, 4);
        r[n] = _mm512_dpbusd_epi32(r[n], w.u[j], _mm512_set1_epi32(v));
      }
    for (int n = 0; n < NX; ++n) {
      const __m512 scale = _mm512_mul_ps(w.d, _mm512_set1_ps(xb[n]->d));
      acc[n] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(r[n]), scale, acc[n]);
      acc[n] = _mm512_fmadd_ps(w.m, _mm512_set1_ps(xb[n]->s), acc[n]);
    }
  }
  const __mmask16 keep = rows >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << rows) - 1);
  for (int n = 0; n < NX; ++n) _mm512_mask_storeu_ps(y + n * ldy, keep, acc[n]);
}

// The tile for nx (1 .. NX) X rows.
template <DType T, int NX>
void tile16_upto(int nx, const uint8_t* w0, int64_t row_bytes, int rows, int64_t nb,
                 const BlockQ8x* x, int64_t ldx, float* y, int64_t ldy, bool prefetch_next) {
  if constexpr (NX > 1) {
    if (nx < NX)
      return tile16_upto<T, NX - 1>(nx, w0, row_bytes, rows, nb, x, ldx, y, ldy, prefetch_next);
  }
  tile16<T, NX>(w0, row_bytes, rows, nb, x, ldx, y, ldy, prefetch_next);
}

}  // namespace
}  // namespace lc::ops::quant
#endif
