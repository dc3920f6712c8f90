// SIMD kernels for the 32-element types (Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 IQ4_NL), written once against the
// integer primitive D of simd_dot.h (Avx2Dot or VnniDot) and instantiated by kernels_avx2.cc and
// kernels_avx512vnni.cc. fill_q32<D>(table) replaces the table's generic entries.
//
// Shape of the work: a tile is RP row pairs of W (2 * RP consecutive rows) times NX rows of X.
// For each block k, the tile's weight blocks are unpacked once into registers (simd_q32_blocks.h:
// row a of a pair in the low 128-bit lane, row b in the high one), and each X row's block is
// loaded once and dotted with every row pair:
//   r   = integer dot of each row's 32 levels with the 32 q, spread over the lanes of its half
//         (minus kOffset * sum(q) for offset formats) -- exact int32
//   acc = fma(float(r), d_w * d_x, acc)   then, for Q4_1 / Q5_1, acc = fma(m_w (lane 0), s_x, acc)
// and a row's result is its half of acc summed as (l0 + l1) + (l2 + l3). Every (row, X row) pair
// goes through exactly these operations in block order whatever the tile shape, so the result
// does not depend on N, on [m0, m1) or on which row a row is paired with: decode (N == 1, tiles of
// 2 row pairs x 1 X row, next rows prefetched) and prefill (row pairs x 4 X rows, W reused from
// registers across the X rows and from L1 across the groups of X rows) agree bit for bit.
// Nothing is allocated and no scratch is needed: X's blocks are read in place.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "ops/quant/gemm_driver.h"
#include "ops/quant/kernels_internal.h"
#include "ops/quant/simd_dot.h"
#include "ops/quant/simd_q32_blocks.h"
#include "ops/quant/simd_quantize.h"

namespace lc::ops::quant {
namespace {

// One activation block of one X row, as every row pair of a tile uses it.
struct XBlock {
  __m256i lo, hi;  // q[0..15] and q[16..31], each broadcast to both lanes
  __m256 d, s;     // d and (formats with a min) s, broadcast
  __m256i offset;  // offset formats: kOffset * sum(q), in the form block_dot applies it
};

template <class F, class D>
inline XBlock load_x(const BlockQ8x& x) {
  XBlock r{};
  r.lo = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.qs)));
  r.hi = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.qs + 16)));
  r.d = _mm256_set1_ps(x.d);
  if constexpr (F::kMin) r.s = _mm256_set1_ps(x.s);
  if constexpr (F::kOffset != 0) {
    const __m256i c = _mm256_set1_epi8(static_cast<char>(F::kOffset));
    if constexpr (kFusedDot<D>) {
      // -kOffset * sum(q) over the lanes of each half: block_dot accumulates onto it.
      const __m256i z = _mm256_setzero_si256();
      r.offset = _mm256_sub_epi32(z, D::dpbusd(D::dpbusd(z, c, r.lo), c, r.hi));
    } else {
      // kOffset * (q[2i] + q[2i+1] + q[16+2i] + q[17+2i]) per int16 lane, |.| <= 16 * 508.
      r.offset = _mm256_add_epi16(_mm256_maddubs_epi16(c, r.lo), _mm256_maddubs_epi16(c, r.hi));
    }
  }
  return r;
}

// Exact int32 lanes whose sum over each half is that row's sum of (u - kOffset) * q.
template <class F, class D>
inline __m256i block_dot(const PairBlock& w, const XBlock& x) {
  const __m256i zero = _mm256_setzero_si256();
  if constexpr (F::kSigned) {
    // |w| * (q with w's sign): each vpmaddubsw pair stays within 2 * 128 * 127 < 2^15.
    const __m256i r = D::dpbusd(zero, w.lo, _mm256_sign_epi8(x.lo, w.sign_lo));
    return D::dpbusd(r, w.hi, _mm256_sign_epi8(x.hi, w.sign_hi));
  } else if constexpr (kFusedDot<D>) {
    const __m256i r = D::dpbusd(F::kOffset != 0 ? x.offset : zero, w.lo, x.lo);
    return D::dpbusd(r, w.hi, x.hi);
  } else {
    // vpmaddubsw pairs u * q with u <= 31: both halves' pair sums add within int16
    // (2 * 2 * 31 * 127 + 16 * 508 < 2^15), so one vpmaddwd widens them.
    __m256i t =
        _mm256_add_epi16(_mm256_maddubs_epi16(w.lo, x.lo), _mm256_maddubs_epi16(w.hi, x.hi));
    if constexpr (F::kOffset != 0) t = _mm256_sub_epi16(t, x.offset);
    return _mm256_madd_epi16(t, _mm256_set1_epi16(1));
  }
}

template <class F, class D>
inline __m256 accumulate(const PairBlock& w, const XBlock& x, __m256 acc) {
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(block_dot<F, D>(w, x)), _mm256_mul_ps(w.d, x.d), acc);
  if constexpr (F::kMin) acc = _mm256_fmadd_ps(w.m, x.s, acc);
  return acc;
}

// Y[n * ldy + i] = W row i . X row n for the rows < rows of the tile starting at w0 and NX X rows
// (x, x + ldx, ...; ldx in blocks). Rows past `rows` repeat the last row and are not stored.
template <DType T, class D, int RP, int NX>
void tile(const uint8_t* w0, int64_t row_bytes, int rows, int64_t nb, const BlockQ8x* x,
          int64_t ldx, float* y, int64_t ldy) {
  using F = Q32Format<T, D>;
  constexpr int64_t kTileBlockBytes = 2 * RP * F::kBytes;
  const uint8_t* r[2 * RP];
  for (int i = 0; i < 2 * RP; ++i) r[i] = w0 + (i < rows ? i : rows - 1) * row_bytes;
  __m256 acc[RP][NX];
  for (int p = 0; p < RP; ++p)
    for (int n = 0; n < NX; ++n) acc[p][n] = _mm256_setzero_ps();
  // Decode reads W once: the next tile's rows follow this tile's, so fetch as many of their bytes
  // per block as this tile consumes (short rows would otherwise start every tile cold).
  const char* pf = reinterpret_cast<const char*>(w0 + 2 * RP * row_bytes);
  for (int64_t k = 0; k < nb; ++k) {
    if constexpr (NX == 1) {
      for (int64_t o = 0; o < kTileBlockBytes; o += 64) _mm_prefetch(pf + o, _MM_HINT_T0);
      pf += kTileBlockBytes;
    }
    PairBlock wb[RP];
    for (int p = 0; p < RP; ++p)
      F::load(r[2 * p] + k * F::kBytes, r[2 * p + 1] + k * F::kBytes, &wb[p]);
    for (int n = 0; n < NX; ++n) {
      const XBlock xb = load_x<F, D>(x[n * ldx + k]);
      for (int p = 0; p < RP; ++p) acc[p][n] = accumulate<F, D>(wb[p], xb, acc[p][n]);
    }
  }
  for (int p = 0; p < RP; ++p)
    for (int n = 0; n < NX; ++n) {
      __m256 t = _mm256_hadd_ps(acc[p][n], acc[p][n]);
      t = _mm256_hadd_ps(t, t);  // [(l0 + l1) + (l2 + l3) of row a x4 | of row b x4]
      if (2 * p < rows) y[n * ldy + 2 * p] = _mm256_cvtss_f32(t);
      if (2 * p + 1 < rows) y[n * ldy + 2 * p + 1] = _mm_cvtss_f32(_mm256_extractf128_ps(t, 1));
    }
}

// Prefill tiles: VNNI has 32 ymm registers, room for 2 row pairs x 4 X rows of accumulators;
// AVX2's 16 hold 1 row pair x 4.
template <class D>
constexpr int kPrefillPairs = kFusedDot<D> ? 2 : 1;
constexpr int kPrefillXRows = 4;

template <DType T, class D, int RP>
void tile_nx(int nx, const uint8_t* w0, int64_t row_bytes, int rows, int64_t nb, const BlockQ8x* x,
             int64_t ldx, float* y, int64_t ldy) {
  static_assert(kPrefillXRows == 4);
  switch (nx) {
    case 1:
      return tile<T, D, RP, 1>(w0, row_bytes, rows, nb, x, ldx, y, ldy);
    case 2:
      return tile<T, D, RP, 2>(w0, row_bytes, rows, nb, x, ldx, y, ldy);
    case 3:
      return tile<T, D, RP, 3>(w0, row_bytes, rows, nb, x, ldx, y, ldy);
    default:
      return tile<T, D, RP, 4>(w0, row_bytes, rows, nb, x, ldx, y, ldy);
  }
}

template <DType T, class D>
void gemm_q32(const void* W, int64_t K, const void* xq, int64_t N, float* Y, int64_t ldy,
              int64_t m0, int64_t m1) {
  using F = Q32Format<T, D>;
  const int64_t nb = K / kQK, row_bytes = nb * F::kBytes;
  const auto* w = static_cast<const uint8_t*>(W);
  const auto* x = static_cast<const BlockQ8x*>(xq);
  if (N == 1) {
    // Decode: 4 rows at a time share each activation block.
    for (int64_t m = m0; m < m1; m += 4) {
      const int rows = static_cast<int>(m1 - m < 4 ? m1 - m : 4);
      if (rows > 2)
        tile<T, D, 2, 1>(w + m * row_bytes, row_bytes, rows, nb, x, nb, Y + m, ldy);
      else
        tile<T, D, 1, 1>(w + m * row_bytes, row_bytes, rows, nb, x, nb, Y + m, ldy);
    }
    return;
  }
  // Prefill: a band of W rows (about 16 KiB) stays in L1/L2 while every group of X rows passes
  // over it; within the band, each tile reuses its unpacked weights for the group's X rows.
  constexpr int RP = kPrefillPairs<D>, kRows = 2 * RP;
  int64_t band = (16384 / (row_bytes > 0 ? row_bytes : 1)) / kRows * kRows;
  if (band < kRows) band = kRows;
  for (int64_t b0 = m0; b0 < m1; b0 += band) {
    const int64_t b1 = b0 + band < m1 ? b0 + band : m1;
    for (int64_t n0 = 0; n0 < N; n0 += kPrefillXRows) {
      const int nx = static_cast<int>(N - n0 < kPrefillXRows ? N - n0 : kPrefillXRows);
      for (int64_t m = b0; m < b1; m += kRows) {
        const int rows = static_cast<int>(b1 - m < kRows ? b1 - m : kRows);
        const uint8_t* wm = w + m * row_bytes;
        float* ym = Y + n0 * ldy + m;
        if (rows > 2 || RP == 1)
          tile_nx<T, D, RP>(nx, wm, row_bytes, rows, nb, x + n0 * nb, nb, ym, ldy);
        else
          tile_nx<T, D, 1>(nx, wm, row_bytes, rows, nb, x + n0 * nb, nb, ym, ldy);
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
