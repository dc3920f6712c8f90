// The AMX product of f16 weights (amx.h, gemm_f16), compiled with -mamx-tile -mamx-bf16 and
// AVX-512 and reached only after amx::enabled().
//
// TDPBF16PS multiplies bf16 only, so both operands are split into a bf16 part and a bf16
// residual: each f16 weight is exactly wh + wl (f16 has 11 significant bits, wh takes the top 8
// with rounding, the rest fits wl exactly), each activation x ~ xh + xl to 16 bits. Three passes
// per chunk of 32 inputs, always in the order wh.xh, wl.xh, wh.xl, accumulate into the same f32
// tile; the dropped wl.xl is below 2^-16 |w x|. Each block of 16 rows of W is split once into a
// per-thread buffer (16 x K hi rows, then 16 x K lo rows) and reused for every token group.
#include <immintrin.h>

#include <cstring>

#include "core/aligned.h"
#include "ops/amx/amx.h"
#include "ops/amx/tiles.h"

namespace lc::ops::amx {

namespace {

using namespace tiles;

// rows x K f16 weights (row stride K) into hi and lo, both [16, K] bf16; rows past `rows` zero.
void split_f16_rows(const uint16_t* w, int64_t rows, int64_t K, uint16_t* hi, uint16_t* lo) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = 0; k < K; k += 32) {
      const uint16_t* src = w + r * K + k;
      const __m512 f0 =
          _mm512_maskz_cvtph_ps(0xffff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src)));
      const __m512 f1 = _mm512_maskz_cvtph_ps(
          0xffff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 16)));
      const Bf16Split b = split_bf16<true>(f0, f1);
      _mm512_storeu_si512(hi + r * K + k, b.hi);
      _mm512_storeu_si512(lo + r * K + k, b.lo);
    }
  }
  if (rows < 16) {
    std::memset(hi + rows * K, 0, static_cast<size_t>((16 - rows) * K) * 2);
    std::memset(lo + rows * K, 0, static_cast<size_t>((16 - rows) * K) * 2);
  }
}

// 16 rows of W (ah, al: row stride lda bytes) against NB groups of 16 tokens (bh, bl: group
// stride bg bytes) over kc chunks; C tiles into c (tile ib at c + 256 * ib).
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

}  // namespace

void pack_x_split(const float* X, int64_t ldx, int64_t N, int64_t K, uint32_t* xp, uint32_t* xl) {
  pack_b<true>(X, ldx, N, K, xp, xl);
}

void gemm_f16(const uint16_t* W, int64_t K, const uint32_t* xp, const uint32_t* xl, int64_t N,
              float* Y, int64_t ldy, int64_t m0, int64_t m1) {
  if (m0 >= m1 || N <= 0) return;
  thread_local AlignedBuffer<uint16_t> split;  // [hi 16 x K | lo 16 x K]
  if (static_cast<int64_t>(split.size()) < 32 * K) split.resize(static_cast<size_t>(32 * K));
  uint16_t* hi = split.data();
  uint16_t* lo = split.data() + 16 * K;
  configure_tiles();
  alignas(64) float c[2 * 256];
  const int64_t groups = (N + 15) / 16, bg = K * 32, kc = K / 32, lda = K * 2;
  const auto* ah = reinterpret_cast<const uint8_t*>(hi);
  const auto* al = reinterpret_cast<const uint8_t*>(lo);
  const auto* bh = reinterpret_cast<const uint8_t*>(xp);
  const auto* bl = reinterpret_cast<const uint8_t*>(xl);
  for (int64_t m = m0; m < m1; m += 16) {
    const int64_t rows = m1 - m < 16 ? m1 - m : 16;
    split_f16_rows(W + m * K, rows, K, hi, lo);
    for (int64_t g = 0; g < groups; g += 2) {
      const bool two = g + 1 < groups;
      if (two)
        split_block<2>(ah, al, lda, bh + g * bg, bl + g * bg, bg, kc, c);
      else
        split_block<1>(ah, al, lda, bh + g * bg, bl + g * bg, bg, kc, c);
      for (int ib = 0; ib < (two ? 2 : 1); ++ib) {
        const int64_t n0 = 16 * (g + ib), nv = N - n0 < 16 ? N - n0 : 16;
        store_transposed(c + 256 * ib, Y + n0 * ldy + m, ldy, rows, nv);
      }
    }
  }
  _tile_release();
}

}  // namespace lc::ops::amx
