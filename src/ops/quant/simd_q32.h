// SIMD kernels for the 32-element types (Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 IQ4_NL), written once against the
// integer primitive D of simd_dot.h (Avx2Dot or VnniDot) and instantiated by kernels_avx2.cc and
// kernels_avx512vnni.cc. fill_q32<D>(table) replaces the table's generic entries, and its
// activation quantizers by the bit-identical SIMD ones of simd_quantize.h.
//
// Layout: 32-bit lane i of a register belongs to weight row i of a group of 8
// (simd_q32_blocks.h). For each block k, the group's blocks are unpacked once into 8 registers
// u[j] of levels; X row n's block is then 8 broadcasts of 4 activation bytes, and
//   r   = sum_j dpbusd(u[j], q[4j .. 4j + 3])           exact int32: lane i = row i's block dot
//   acc = fma(float(r), d_w * d_x, acc)                  then acc = fma(m_w, s_x, acc)
// (m_w: the min of Q4_1 / Q5_1, -offset * d_w for the offset formats, none for AVX2's sign-trick
// Q8_0 / IQ4_NL), so acc's lane i is row i's result with no horizontal sum. Every (row, X row)
// pair goes through exactly these operations in block order whatever the tile, so a result does
// not depend on N, on [m0, m1) or on a row's position in its tile: decode (N == 1: 8 or 16 rows x
// 1 X row, the next rows prefetched) and prefill (8 rows x up to kPrefillXRows X rows, the
// unpacked levels reused for every X row of the group, a band of W kept in cache across groups)
// agree bit for bit. Nothing is allocated; X's blocks are read in place.
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "ops/quant/kernels_internal.h"
#include "ops/quant/simd_dot.h"
#include "ops/quant/simd_q32_blocks.h"
#include "ops/quant/simd_q32_zmm.h"
#include "ops/quant/simd_quantize.h"

namespace lc::ops::quant {
namespace {

// The 4 activation bytes 4j .. 4j + 3 of block xb, in every lane.
inline __m256i x_quad(const BlockQ8x* xb, int j) {
  int32_t v;
  std::memcpy(&v, xb->qs + 4 * j, 4);
  return _mm256_set1_epi32(v);
}

// r[g][n] lane i = exact dot of row i of group g's 32 levels with X row n's 32 q (xb[n]: its
// block k). The activation bytes are loaded once for the G groups of 8 rows.
template <class F, class D, int G, int NX>
inline void block_dots(const Rows8 w[G], const BlockQ8x* const xb[NX], __m256i r[G][NX]) {
  for (int g = 0; g < G; ++g)
    for (int n = 0; n < NX; ++n) r[g][n] = _mm256_setzero_si256();
  const __m256i ones = _mm256_set1_epi16(1);
  if constexpr (kFusedDot<D>) {
    for (int j = 0; j < 8; ++j)
      for (int n = 0; n < NX; ++n) {
        const __m256i q = x_quad(xb[n], j);
        for (int g = 0; g < G; ++g) r[g][n] = D::dpbusd(r[g][n], w[g].u[j], q);
      }
  } else if constexpr (F::kSigned) {
    // |w| * (q with w's sign): each vpmaddubsw pair stays within 2 * 128 * 127 < 2^15.
    for (int j = 0; j < 8; ++j)
      for (int n = 0; n < NX; ++n) {
        const __m256i q = x_quad(xb[n], j);
        for (int g = 0; g < G; ++g) {
          const __m256i p = _mm256_maddubs_epi16(w[g].u[j], _mm256_sign_epi8(q, w[g].sign[j]));
          r[g][n] = _mm256_add_epi32(r[g][n], _mm256_madd_epi16(p, ones));
        }
      }
  } else {
    // vpmaddubsw pairs, summed in int16 over as many j as stay exact (8 for 4-bit levels:
    // 8 * 2 * 15 * 127 < 2^15; 4 for 5-bit), then widened by one vpmaddwd.
    constexpr int kGroup = 8 * 2 * F::kMaxLevel * 127 < 32768   ? 8
                           : 4 * 2 * F::kMaxLevel * 127 < 32768 ? 4
                                                                : 2;
    static_assert(2 * 2 * F::kMaxLevel * 127 < 32768);
    for (int j0 = 0; j0 < 8; j0 += kGroup) {
      __m256i s16[G][NX];
      for (int g = 0; g < G; ++g)
        for (int n = 0; n < NX; ++n) s16[g][n] = _mm256_setzero_si256();
      for (int j = j0; j < j0 + kGroup; ++j)
        for (int n = 0; n < NX; ++n) {
          const __m256i q = x_quad(xb[n], j);
          for (int g = 0; g < G; ++g)
            s16[g][n] = _mm256_add_epi16(s16[g][n], _mm256_maddubs_epi16(w[g].u[j], q));
        }
      for (int g = 0; g < G; ++g)
        for (int n = 0; n < NX; ++n)
          r[g][n] = _mm256_add_epi32(r[g][n], _mm256_madd_epi16(s16[g][n], ones));
    }
  }
}

// Y[n * ldy + i] = W row i . X row n for the rows i < rows of the tile of 8 G rows at w0 and the
// NX X rows x, x + ldx, ... (ldx in blocks). Tile rows past `rows` repeat the last row and are
// not stored.
template <DType T, class D, int G, int NX>
void tile(const uint8_t* w0, int64_t row_bytes, int rows, int64_t nb, const BlockQ8x* x,
          int64_t ldx, float* y, int64_t ldy, bool prefetch_next) {
  using F = Q32Format<T, D>;
  RowPtrs8 rp[G];
  for (int g = 0; g < G; ++g) {
    alignas(32) int32_t idx[8];
    for (int i = 0; i < 8; ++i) {
      const int row = 8 * g + i < rows ? 8 * g + i : rows - 1;
      rp[g].p[i] = w0 + row * row_bytes;
      idx[i] = static_cast<int32_t>((row - 8 * g) * row_bytes);  // from the group's first row
    }
    rp[g].idx = _mm256_load_si256(reinterpret_cast<const __m256i*>(idx));
  }
  __m256 acc[G][NX];
  for (int g = 0; g < G; ++g)
    for (int n = 0; n < NX; ++n) acc[g][n] = _mm256_setzero_ps();
  // The first pass over W (decode, or a band's first group of X rows) reads it from memory: the
  // next tile's rows follow this tile's, so fetch as many of their bytes per block as this tile
  // consumes (8 or 16 strided rows would otherwise start every tile cold).
  constexpr int64_t kTileBlockBytes = 8 * G * F::kBytes;
  uintptr_t pf = reinterpret_cast<uintptr_t>(w0) + static_cast<uintptr_t>(8 * G * row_bytes);
  for (int64_t k = 0; k < nb; ++k) {
    if (prefetch_next) {
      for (int64_t o = 0; o < kTileBlockBytes; o += 64)
        _mm_prefetch(reinterpret_cast<const char*>(pf + o), _MM_HINT_T0);
      pf += kTileBlockBytes;
    }
    Rows8 w[G];
    for (int g = 0; g < G; ++g) F::load(rp[g], k * F::kBytes, &w[g]);
    const BlockQ8x* xb[NX];
    for (int n = 0; n < NX; ++n) xb[n] = x + n * ldx + k;
    __m256i r[G][NX];
    block_dots<F, D, G, NX>(w, xb, r);
    for (int n = 0; n < NX; ++n) {
      const __m256 dx = _mm256_set1_ps(xb[n]->d);
      for (int g = 0; g < G; ++g) {
        const __m256 scale = _mm256_mul_ps(w[g].d, dx);
        acc[g][n] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(r[g][n]), scale, acc[g][n]);
        if constexpr (F::kHasM)
          acc[g][n] = _mm256_fmadd_ps(w[g].m, _mm256_set1_ps(xb[n]->s), acc[g][n]);
      }
    }
  }
  for (int g = 0; g < G; ++g)
    for (int n = 0; n < NX; ++n) {
      float* yg = y + n * ldy + 8 * g;
      const int left = rows - 8 * g;
      if (left >= 8) {
        _mm256_storeu_ps(yg, acc[g][n]);
      } else if (left > 0) {
        alignas(32) float t[8];
        _mm256_store_ps(t, acc[g][n]);
        for (int i = 0; i < left; ++i) yg[i] = t[i];
      }
    }
}

// Decode tiles: 8 * kDecodeGroups rows share each load of the activation bytes (two groups of
// level registers need VNNI's 32 ymm registers; with AVX2's 16 they spill).
template <class D>
constexpr int kDecodeGroups = kFusedDot<D> ? 2 : 1;

// Prefill tiles: 8 rows x kPrefillXRows X rows. VNNI's 32 ymm registers hold 8 X rows of
// accumulators next to the 8 level registers; with AVX2's 16 the levels spill to L1 and are
// reloaded per X row, and 6 measured best (4: 10-20% slower, 8: slower for Q5_0 / Q5_1).
template <class D>
constexpr int kPrefillXRows = kFusedDot<D> ? 8 : 6;

// The prefill tile for nx (1 .. NX) X rows.
template <DType T, class D, int NX>
void tile_upto(int nx, const uint8_t* w0, int64_t row_bytes, int rows, int64_t nb,
               const BlockQ8x* x, int64_t ldx, float* y, int64_t ldy, bool prefetch_next) {
  if constexpr (NX > 1) {
    if (nx < NX)
      return tile_upto<T, D, NX - 1>(nx, w0, row_bytes, rows, nb, x, ldx, y, ldy, prefetch_next);
  }
  tile<T, D, 1, NX>(w0, row_bytes, rows, nb, x, ldx, y, ldy, prefetch_next);
}

template <DType T, class D>
void gemm_q32(const void* W, int64_t K, const void* xq, int64_t N, float* Y, int64_t ldy,
              int64_t m0, int64_t m1) {
  using F = Q32Format<T, D>;
  const int64_t nb = K / kQK, row_bytes = nb * F::kBytes;
  const auto* w = static_cast<const uint8_t*>(W);
  const auto* x = static_cast<const BlockQ8x*>(xq);
  if (N == 1) {
    constexpr int kGroups = kDecodeGroups<D>, kRows = 8 * kGroups;
    for (int64_t m = m0; m < m1; m += kRows) {
      const int rows = static_cast<int>(m1 - m < kRows ? m1 - m : kRows);
      if (rows > 8)
        tile<T, D, kGroups, 1>(w + m * row_bytes, row_bytes, rows, nb, x, nb, Y + m, ldy, true);
      else
        tile<T, D, 1, 1>(w + m * row_bytes, row_bytes, rows, nb, x, nb, Y + m, ldy, true);
    }
    return;
  }
  // Prefill: a band of W rows (about 16 KiB) stays in L1/L2 while every group of X rows passes
  // over it; within the band, each tile reuses its unpacked weights for the group's X rows.
  // With VNNI the tiles are simd_q32_zmm.h's 16 rows x 8 X rows on 512-bit registers.
  constexpr int kNx = kPrefillXRows<D>;
#if defined(__AVX512BW__) && defined(__AVX512VNNI__)
  constexpr int kTileRows = kFusedDot<D> ? 16 : 8;
#else
  constexpr int kTileRows = 8;
#endif
  int64_t band = 16384 / (row_bytes > 0 ? row_bytes : 1) / kTileRows * kTileRows;
  if (band < kTileRows) band = kTileRows;
  for (int64_t b0 = m0; b0 < m1; b0 += band) {
    const int64_t b1 = b0 + band < m1 ? b0 + band : m1;
    for (int64_t n0 = 0; n0 < N; n0 += kNx) {
      const int nx = static_cast<int>(N - n0 < kNx ? N - n0 : kNx);
      for (int64_t m = b0; m < b1; m += kTileRows) {
        const int rows = static_cast<int>(b1 - m < kTileRows ? b1 - m : kTileRows);
#if defined(__AVX512BW__) && defined(__AVX512VNNI__)
        if constexpr (kTileRows == 16) {
          tile16_upto<T, kNx>(nx, w + m * row_bytes, row_bytes, rows, nb, x + n0 * nb, nb,
                              Y + n0 * ldy + m, ldy, n0 == 0);
          continue;
        }
#endif
        tile_upto<T, D, kNx>(nx, w + m * row_bytes, row_bytes, rows, nb, x + n0 * nb, nb,
                             Y + n0 * ldy + m, ldy, n0 == 0);
      }
    }
  }
}

template <class D>
void fill_q32(QuantKernels& t) {
  t.quantize_q8x = quantize_q8x_simd;
  t.quantize_q8k = quantize_q8k_simd;
  t.gemm[static_cast<int>(DType::Q4_0)] = gemm_q32<DType::Q4_0, D>;
  t.gemm[static_cast<int>(DType::Q4_1)] = gemm_q32<DType::Q4_1, D>;
  t.gemm[static_cast<int>(DType::Q5_0)] = gemm_q32<DType::Q5_0, D>;
  t.gemm[static_cast<int>(DType::Q5_1)] = gemm_q32<DType::Q5_1, D>;
  t.gemm[static_cast<int>(DType::Q8_0)] = gemm_q32<DType::Q8_0, D>;
  t.gemm[static_cast<int>(DType::IQ4_NL)] = gemm_q32<DType::IQ4_NL, D>;
}

}  // namespace
}  // namespace lc::ops::quant
