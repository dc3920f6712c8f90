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

}  // namespace

void pack_x_split(const float* X, int64_t ldx, int64_t N, int64_t K, uint32_t* xp, uint32_t* xl) {
  pack_b<true>(X, ldx, N, K, xp, xl);
}

void gemm_f16(const uint16_t* W, int64_t K, const uint32_t* xp, const uint32_t* xl, int64_t N,
              float* Y, int64_t ldy, int64_t m0, int64_t m1) {
  split_product([&](int64_t m, int64_t rows, uint16_t* hi,
                    uint16_t* lo) { split_f16_rows(W + m * K, rows, K, hi, lo); },
                K, xp, xl, N, Y, ldy, m0, m1);
}

}  // namespace lc::ops::amx
