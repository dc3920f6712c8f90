// Pieces shared by the AMX product files (*_amx.cc only: they need the AMX and AVX-512 flags):
// the tile configuration, a 16x16 transpose of 32-bit lanes, bf16 rounding, the transposed
// store of a C tile into Y, and the packing of X into AMX's B layout.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "core/aligned.h"

namespace lc::ops::amx::tiles {

struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// All eight tiles 16 rows x 64 bytes. GCC 12 does not count _tile_loadconfig as a read of the
// configuration: in a function that ends after it (flash_begin), it dropped the stores of colsb
// and rows as dead and loaded a configuration of empty tiles (SIGILL at the first tile
// instruction). The empty asm with a memory clobber keeps them.
inline void configure_tiles() {
  TileConfig c;
  for (int i = 0; i < 8; ++i) {
    c.colsb[i] = 64;
    c.rows[i] = 16;
  }
  __asm__ __volatile__("" : : "r"(&c) : "memory");
  _tile_loadconfig(&c);
}

// Permutation indices of transpose16's rounds, b = 8, 4, 2, 1: row i (bit b of i clear) keeps
// its columns j without bit b and takes row i + b's others (lo); row i + b the converse (hi).
struct TransposeIdx {
  int32_t lo[4][16];
  int32_t hi[4][16];
};
constexpr TransposeIdx make_transpose_idx() {
  TransposeIdx t{};
  for (int r = 0; r < 4; ++r) {
    const int b = 8 >> r;
    for (int j = 0; j < 16; ++j) {
      t.lo[r][j] = (j & b) ? 16 + j - b : j;
      t.hi[r][j] = (j & b) ? 16 + j : j + b;
    }
  }
  return t;
}
constexpr TransposeIdx kTransposeIdx = make_transpose_idx();

template <int R>
inline void transpose_round(__m512i r[16]) {
  constexpr int b = 8 >> R;
  const __m512i ilo = _mm512_loadu_si512(kTransposeIdx.lo[R]);
  const __m512i ihi = _mm512_loadu_si512(kTransposeIdx.hi[R]);
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) {
    if (i & b) continue;
    const __m512i a = r[i], c = r[i + b];
    r[i] = _mm512_permutex2var_epi32(a, ilo, c);
    r[i + b] = _mm512_permutex2var_epi32(a, ihi, c);
  }
}

// Transposes a 16x16 matrix of 32-bit values held in r[0..15] (r[i] = row i) in place: four
// rounds, each swapping the off-diagonal b x b blocks of every 2b x 2b block.
inline void transpose16(__m512i r[16]) {
  transpose_round<0>(r);
  transpose_round<1>(r);
  transpose_round<2>(r);
  transpose_round<3>(r);
}

// 16 floats of x rounded to bf16 (nearest even), as the high halves of 32-bit lanes.
inline __m512i round_bf16(__m512 x) {
  const __m512i u = _mm512_castps_si512(x);
  const __m512i v = _mm512_add_epi32(u, _mm512_set1_epi32(0x7fff));
  const __mmask16 odd = _mm512_test_epi32_mask(u, _mm512_set1_epi32(0x10000));
  return _mm512_mask_add_epi32(v, odd, v, _mm512_set1_epi32(1));
}

// Words pairing two vectors of rounded lanes (round_bf16): ha's bf16 in the low half, hb's in
// the high half, lane by lane: AMX's pair layout for two rows.
inline __m512i pair_rounded(__m512i ha, __m512i hb) {
  return _mm512_or_si512(_mm512_srli_epi32(ha, 16),
                         _mm512_and_si512(hb, _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
}

// Words pairing a and b lane by lane, each rounded to bf16 (a's in the low half).
inline __m512i pair_bf16(__m512 a, __m512 b) { return pair_rounded(round_bf16(a), round_bf16(b)); }

// C (16 rows of W x 16 tokens, row-major in c) into Y[n][m0 + i] for i < m_valid, n < n_valid.
inline void store_transposed(const float* c, float* Y, int64_t ldy, int64_t m_valid,
                             int64_t n_valid) {
  __m512i r[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_load_si512(c + 16 * i);
  transpose16(r);
  const __mmask16 mask = static_cast<__mmask16>((1u << m_valid) - 1u);
  for (int64_t n = 0; n < n_valid; ++n)
    _mm512_mask_storeu_ps(Y + n * ldy, mask, _mm512_castsi512_ps(r[n]));
}

// Word 2i + 1 of a pair (a, b) of vectors of 16 rounded lanes each: the bf16 of element i.
struct PickIdx {
  int16_t i[32];
};
constexpr PickIdx make_pick_idx() {
  PickIdx p{};
  for (int i = 0; i < 32; ++i) p.i[i] = static_cast<int16_t>(2 * i + 1);
  return p;
}
constexpr PickIdx kPickHigh = make_pick_idx();

// 32 floats (x0 then x1) as 32 bf16 in order: hi = bf16(x) and, with kLo, lo = bf16(x - hi), the
// residual that makes hi + lo carry 16 bits of each x's significand.
struct Bf16Split {
  __m512i hi, lo;
};
template <bool kLo>
inline Bf16Split split_bf16(__m512 x0, __m512 x1) {
  const __m512i pick = _mm512_loadu_si512(kPickHigh.i);
  const __m512i h0 = round_bf16(x0), h1 = round_bf16(x1);
  Bf16Split r{_mm512_permutex2var_epi16(h0, pick, h1), _mm512_setzero_si512()};
  if constexpr (kLo) {
    const __m512i top = _mm512_set1_epi32(static_cast<int>(0xffff0000u));
    const __m512 l0 = _mm512_sub_ps(x0, _mm512_castsi512_ps(_mm512_and_si512(h0, top)));
    const __m512 l1 = _mm512_sub_ps(x1, _mm512_castsi512_ps(_mm512_and_si512(h1, top)));
    r.lo = _mm512_permutex2var_epi16(round_bf16(l0), pick, round_bf16(l1));
  }
  return r;
}

// X [N, K] into AMX's B layout (amx.h, pack_x): xp gets bf16(x); with kSplit, xl also gets the
// residual bf16(x - bf16(x)), so that xp + xl carries 16 bits of each x's significand.
template <bool kSplit>
void pack_b(const float* X, int64_t ldx, int64_t N, int64_t K, uint32_t* xp, uint32_t* xl) {
  const int64_t groups = (N + 15) / 16;
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t k = 0; k < K; k += 32) {
      __m512i r[16], q[16];
      for (int t = 0; t < 16; ++t) {
        const int64_t n = 16 * g + t;
        if (n >= N) {
          r[t] = q[t] = _mm512_setzero_si512();
          continue;
        }
        const Bf16Split b = split_bf16<kSplit>(_mm512_loadu_ps(X + n * ldx + k),
                                               _mm512_loadu_ps(X + n * ldx + k + 16));
        r[t] = b.hi;
        q[t] = b.lo;
      }
      transpose16(r);  // r[i]: pair i of these 32 inputs for the 16 tokens
      uint32_t* out = xp + (g * (K / 2) + k / 2) * 16;
      for (int i = 0; i < 16; ++i) _mm512_store_si512(out + 16 * i, r[i]);
      if constexpr (kSplit) {
        transpose16(q);
        out = xl + (g * (K / 2) + k / 2) * 16;
        for (int i = 0; i < 16; ++i) _mm512_store_si512(out + 16 * i, q[i]);
      }
    }
  }
}

// The three passes of a split product (gemm_f16, gemm_f32_split, gemm_tn_split): 16 rows of A in
// two bf16 parts (ah, al: row stride lda bytes) against NB groups of 16 columns of B in two parts
// (bh, bl: group stride bg bytes) over kc chunks of 32 inputs, each chunk always in the order
// ah.bh, al.bh, ah.bl (al.bl, below 2^-16 of the product, is dropped); C tiles into c (tile ib at
// c + 256 * ib).
template <int NB>
void split_block(const uint8_t* ah, const uint8_t* al, int64_t lda, const uint8_t* bh,
                 const uint8_t* bl, int64_t bg, int64_t kc, float* c) {
  _tile_zero(0);
  if constexpr (NB > 1) _tile_zero(1);
  for (int64_t k = 0; k < kc; ++k) {
    _tile_loadd(4, ah + 64 * k, lda);
    _tile_loadd(5, al + 64 * k, lda);
    _tile_loadd(6, bh + 1024 * k, 64);
    if constexpr (NB > 1) _tile_loadd(7, bh + bg + 1024 * k, 64);
    _tile_dpbf16ps(0, 4, 6);
    if constexpr (NB > 1) _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(0, 5, 6);
    if constexpr (NB > 1) _tile_dpbf16ps(1, 5, 7);
    _tile_loadd(6, bl + 1024 * k, 64);
    if constexpr (NB > 1) _tile_loadd(7, bl + bg + 1024 * k, 64);
    _tile_dpbf16ps(0, 4, 6);
    if constexpr (NB > 1) _tile_dpbf16ps(1, 4, 7);
  }
  _tile_stored(0, c, 64);
  if constexpr (NB > 1) _tile_stored(1, c + 256, 64);
}

// This thread's buffer of at least n bf16 values for the split operands of a product (grown, then
// reused; one product at a time per thread).
inline uint16_t* split_scratch(int64_t n) {
  thread_local AlignedBuffer<uint16_t> buf;
  if (static_cast<int64_t>(buf.size()) < n) buf.resize(static_cast<size_t>(n));
  return buf.data();
}

// The loop of a split product: for each block of 16 rows [m, m + rows) of [m0, m1),
// prepare(m, rows) fills A's two parts (ah, al: row stride lda bytes), then every group g of 16
// columns of B (bh, bl: group stride bg bytes; two groups per split_block) gives its 16 x 16
// tile to emit(m, rows, g, tile).
template <class Prepare, class Emit>
void split_tiles(int64_t m0, int64_t m1, int64_t groups, const uint16_t* ah, const uint16_t* al,
                 int64_t lda, const void* bh, const void* bl, int64_t bg, int64_t kc,
                 Prepare prepare, Emit emit) {
  configure_tiles();
  alignas(64) float c[2 * 256];
  const auto* pah = reinterpret_cast<const uint8_t*>(ah);
  const auto* pal = reinterpret_cast<const uint8_t*>(al);
  const auto* pbh = static_cast<const uint8_t*>(bh);
  const auto* pbl = static_cast<const uint8_t*>(bl);
  for (int64_t m = m0; m < m1; m += 16) {
    const int64_t rows = m1 - m < 16 ? m1 - m : 16;
    prepare(m, rows);
    for (int64_t g = 0; g < groups; g += 2) {
      const bool two = g + 1 < groups;
      if (two)
        split_block<2>(pah, pal, lda, pbh + g * bg, pbl + g * bg, bg, kc, c);
      else
        split_block<1>(pah, pal, lda, pbh + g * bg, pbl + g * bg, bg, kc, c);
      for (int ib = 0; ib < (two ? 2 : 1); ++ib) emit(m, rows, g + ib, c + 256 * ib);
    }
  }
  _tile_release();
}

// Y[n * ldy + m] = sum_k X[n][k] W[m][k] for n < N, m in [m0, m1) with both operands in two bf16
// parts: split_rows(m, rows, hi, lo) writes rows [m, m + rows) of W as hi and lo, each [16, K]
// bf16 (rows past `rows` zero), once per block of 16 rows into a per-thread buffer that serves
// every token group; X comes packed as xp (hi) and xl (lo) (pack_b<true>). Requires K % 32 == 0.
template <class SplitRows>
void split_product(SplitRows split_rows, int64_t K, const uint32_t* xp, const uint32_t* xl,
                   int64_t N, float* Y, int64_t ldy, int64_t m0, int64_t m1) {
  if (m0 >= m1 || N <= 0) return;
  uint16_t* hi = split_scratch(32 * K);  // [hi 16 x K | lo 16 x K]
  uint16_t* lo = hi + 16 * K;
  split_tiles(
      m0, m1, (N + 15) / 16, hi, lo, K * 2, xp, xl, K * 32, K / 32,
      [&](int64_t m, int64_t rows) { split_rows(m, rows, hi, lo); },
      [&](int64_t m, int64_t rows, int64_t g, const float* tile) {
        const int64_t n0 = 16 * g, nv = N - n0 < 16 ? N - n0 : 16;
        store_transposed(tile, Y + n0 * ldy + m, ldy, rows, nv);
      });
}

}  // namespace lc::ops::amx::tiles
