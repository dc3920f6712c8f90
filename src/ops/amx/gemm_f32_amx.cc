// f32 products at "high" precision on AMX tiles (amx.h: gemm_f32_split, pack_tn_b,
// gemm_tn_split), compiled with -mamx-tile -mamx-bf16 and AVX-512 and reached only after
// amx::enabled(). Both operands are split into bf16 hi + lo; the three passes are split_block's
// (tiles.h).
//
// gemm_tn_split's operands (TDPBF16PS: C[16 x 16] += A[16 rows x 32 bf16] . B[16 pairs x 16]):
// C rows are rows m of the result, C columns 16 columns k. A row m holds A[n][m] along n, a
// column of A in memory, so each panel of 16 columns is transposed while it is packed: 16
// vectors of pairs (rows n, n + 1) indexed by m, one 16 x 16 transpose of 32-bit words, 16 rows
// of 16 pairs. B needs no transpose: a word pairs rows n and n + 1 of the same column k, so a
// B tile row is two rows of B interleaved.
#include <cstring>

#include "core/immintrin_quiet.h"  // before tiles.h's <immintrin.h>
#include "ops/amx/amx.h"
#include "ops/amx/tiles.h"

namespace lc::ops::amx {

namespace {

using namespace tiles;

// rows x K f32 weights (row stride ldw) into hi and lo, both [16, K] bf16; rows past `rows` zero.
void split_f32_rows(const float* w, int64_t ldw, int64_t rows, int64_t K, uint16_t* hi,
                    uint16_t* lo) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < K; k += 32) {
      const float* src = w + r * ldw + k;
      const Bf16Split b = split_bf16<true>(_mm512_loadu_ps(src), _mm512_loadu_ps(src + 16));
      _mm512_storeu_si512(hi + r * K + k, b.hi);
      _mm512_storeu_si512(lo + r * K + k, b.lo);
    }
  if (rows < 16) {
    std::memset(hi + rows * K, 0, static_cast<size_t>((16 - rows) * K) * 2);
    std::memset(lo + rows * K, 0, static_cast<size_t>((16 - rows) * K) * 2);
  }
}

// Words pairing a and b lane by lane (a's bf16 in the low half), for the hi and the lo parts.
struct PairWords {
  __m512i hi, lo;
};
inline PairWords pair_words(__m512 a, __m512 b) {
  const __m512i kTop = _mm512_set1_epi32(static_cast<int>(0xffff0000u));
  const __m512i ha = round_bf16(a), hb = round_bf16(b);
  const __m512 ra = _mm512_sub_ps(a, _mm512_castsi512_ps(_mm512_and_si512(ha, kTop)));
  const __m512 rb = _mm512_sub_ps(b, _mm512_castsi512_ps(_mm512_and_si512(hb, kTop)));
  const __m512i la = round_bf16(ra), lb = round_bf16(rb);
  return {pair_rounded(ha, hb), pair_rounded(la, lb)};
}

inline __m512 load_masked(const float* p, __mmask16 mask, bool valid) {
  return valid ? _mm512_maskz_loadu_ps(mask, p) : _mm512_setzero_ps();
}

// The 16 columns [m, m + cols) of A (rows n < N) as tile rows: ah / al [16][np] bf16 (np = N
// rounded up to 32), row r = A[0..np)[m + r]; rows past `cols` and columns past N zero.
void pack_a_panel(const float* A, int64_t lda, int64_t N, int64_t np, int64_t m, int64_t cols,
                  uint16_t* ah, uint16_t* al) {
  const __mmask16 mask = static_cast<__mmask16>((1u << cols) - 1u);
  for (int64_t n = 0; n < np; n += 32) {
    __m512i h[16], l[16];
    for (int i = 0; i < 16; ++i) {
      const int64_t r0 = n + 2 * i, r1 = r0 + 1;
      const PairWords w = pair_words(load_masked(A + r0 * lda + m, mask, r0 < N),
                                     load_masked(A + r1 * lda + m, mask, r1 < N));
      h[i] = w.hi;
      l[i] = w.lo;
    }
    transpose16(h);  // h[r]: the 16 pairs of rows n .. n + 32 of column m + r
    transpose16(l);
    for (int r = 0; r < 16; ++r) {
      _mm512_storeu_si512(ah + r * np + n, h[r]);
      _mm512_storeu_si512(al + r * np + n, l[r]);
    }
  }
}

}  // namespace

void gemm_f32_split(const float* W, int64_t ldw, int64_t K, const uint32_t* xp, const uint32_t* xl,
                    int64_t N, float* Y, int64_t ldy, int64_t m0, int64_t m1) {
  split_product([&](int64_t m, int64_t rows, uint16_t* hi,
                    uint16_t* lo) { split_f32_rows(W + m * ldw, ldw, rows, K, hi, lo); },
                K, xp, xl, N, Y, ldy, m0, m1);
}

void pack_tn_b(const float* B, int64_t ldb, int64_t N, int64_t K, uint32_t* bh, uint32_t* bl) {
  const int64_t pairs = (N + 31) / 32 * 16;
  for (int64_t g = 0; g * 16 < K; ++g) {
    const int64_t k = g * 16, cols = K - k < 16 ? K - k : 16;
    const __mmask16 mask = static_cast<__mmask16>((1u << cols) - 1u);
    uint32_t* oh = bh + g * pairs * 16;
    uint32_t* ol = bl + g * pairs * 16;
    for (int64_t i = 0; i < pairs; ++i) {
      const int64_t r0 = 2 * i, r1 = r0 + 1;
      const PairWords w = pair_words(load_masked(B + r0 * ldb + k, mask, r0 < N),
                                     load_masked(B + r1 * ldb + k, mask, r1 < N));
      _mm512_storeu_si512(oh + i * 16, w.hi);
      _mm512_storeu_si512(ol + i * 16, w.lo);
    }
  }
}

void gemm_tn_split(const float* A, int64_t lda, int64_t N, const uint32_t* bh, const uint32_t* bl,
                   int64_t K, float* C, int64_t ldc, int64_t m0, int64_t m1) {
  if (m0 >= m1 || K <= 0 || N <= 0) return;
  const int64_t np = (N + 31) / 32 * 32;
  uint16_t* ah = split_scratch(32 * np);  // [hi 16 x np | lo 16 x np]
  uint16_t* al = ah + 16 * np;
  split_tiles(
      m0, m1, (K + 15) / 16, ah, al, np * 2, bh, bl, np * 32, np / 32,
      [&](int64_t m, int64_t rows) { pack_a_panel(A, lda, N, np, m, rows, ah, al); },
      [&](int64_t m, int64_t rows, int64_t g, const float* tile) {  // C rows m.. += the tile
        const int64_t k = 16 * g, cols = K - k < 16 ? K - k : 16;
        const __mmask16 mask = static_cast<__mmask16>((1u << cols) - 1u);
        for (int64_t r = 0; r < rows; ++r) {
          float* dst = C + (m + r) * ldc + k;
          _mm512_mask_storeu_ps(
              dst, mask,
              _mm512_add_ps(_mm512_maskz_loadu_ps(mask, dst), _mm512_load_ps(tile + 16 * r)));
        }
      });
}

}  // namespace lc::ops::amx
