// The AMX bf16 product (amx.h), compiled with -mamx-tile -mamx-bf16 and AVX-512 and reached only
// after amx::enabled().
//
// Operands of TDPBF16PS (C[16x16 f32] += A[16 rows x 32 bf16] . B[16 rows x 16 bf16 pairs]):
// A is 16 rows of W (copied block by block, see gemm_bf16; row stride K * 2 bytes, 64 bytes = 32 k
// per row), B is 16 tokens of X packed as pairs (pack_x), so C holds Y transposed (C[m][n] =
// Y[n][m]) and is transposed back on the way out. Eight tiles: C 0-3, A 4-5 (two blocks of 16
// rows of W), B 6-7 (two groups of 16 tokens). The 32 rows of W being worked on are reread from
// L2 for each pair of token groups; X (packed) is shared by all threads.
#include <immintrin.h>

#include <cstring>

#include "core/aligned.h"
#include "ops/amx/amx.h"

namespace lc::ops::amx {

namespace {

struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// All eight tiles 16 rows x 64 bytes.
void configure_tiles() {
  TileConfig c;
  for (int i = 0; i < 8; ++i) {
    c.colsb[i] = 64;
    c.rows[i] = 16;
  }
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

// One block: NA blocks of 16 rows of W (a, row stride lda bytes) against NB groups of 16 tokens
// (b, group stride bg bytes), over kc chunks of 32 inputs; results into c (NA * NB tiles of
// 16 x 16 floats, tile (ia, ib) at c + 256 * (ia * NB + ib)).
template <int NA, int NB>
void tile_block(const uint8_t* a, int64_t lda, const uint8_t* b, int64_t bg, int64_t kc, float* c) {
  _tile_zero(0);
  if constexpr (NB > 1) _tile_zero(1);
  if constexpr (NA > 1) _tile_zero(2);
  if constexpr (NA > 1 && NB > 1) _tile_zero(3);
  for (int64_t k = 0; k < kc; ++k) {
    _tile_loadd(4, a + 64 * k, lda);
    if constexpr (NA > 1) _tile_loadd(5, a + 16 * lda + 64 * k, lda);
    _tile_loadd(6, b + 1024 * k, 64);
    if constexpr (NB > 1) _tile_loadd(7, b + bg + 1024 * k, 64);
    _tile_dpbf16ps(0, 4, 6);
    if constexpr (NB > 1) _tile_dpbf16ps(1, 4, 7);
    if constexpr (NA > 1) _tile_dpbf16ps(2, 5, 6);
    if constexpr (NA > 1 && NB > 1) _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, c, 64);
  if constexpr (NB > 1) _tile_stored(1, c + 256, 64);
  if constexpr (NA > 1) _tile_stored(2, c + 256 * NB, 64);
  if constexpr (NA > 1 && NB > 1) _tile_stored(3, c + 256 * NB + 256, 64);
}

// Rows [m, m + 16 * NA) of W (a) against every token group; m_valid rows of the last block kept.
template <int NA>
void row_blocks(const uint8_t* a, int64_t lda, const uint8_t* xp, int64_t K, int64_t N, float* Y,
                int64_t ldy, int64_t m, int64_t m_valid) {
  alignas(64) float c[4 * 256];
  const int64_t groups = (N + 15) / 16, bg = K * 32, kc = K / 32;
  for (int64_t g = 0; g < groups; g += 2) {
    const uint8_t* b = xp + g * bg;
    const bool two = g + 1 < groups;
    if (two)
      tile_block<NA, 2>(a, lda, b, bg, kc, c);
    else
      tile_block<NA, 1>(a, lda, b, bg, kc, c);
    const int nb = two ? 2 : 1;
    for (int ia = 0; ia < NA; ++ia) {
      const int64_t mv = ia == NA - 1 ? m_valid - 16 * ia : 16;
      for (int ib = 0; ib < nb; ++ib) {
        const int64_t n0 = 16 * (g + ib), nv = N - n0 < 16 ? N - n0 : 16;
        store_transposed(c + 256 * (ia * nb + ib), Y + n0 * ldy + m + 16 * ia, ldy, mv, nv);
      }
    }
  }
}

}  // namespace

void pack_x(const float* X, int64_t ldx, int64_t N, int64_t K, uint32_t* xp) {
  // Word 2i + 1 of the concatenated pair (lo, hi) of rounded vectors: the bf16 of element i.
  alignas(64) int16_t idx[32];
  for (int i = 0; i < 32; ++i) idx[i] = static_cast<int16_t>(2 * i + 1);
  const __m512i pick = _mm512_load_si512(idx);
  const int64_t groups = (N + 15) / 16;
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t k = 0; k < K; k += 32) {
      __m512i r[16];
      for (int t = 0; t < 16; ++t) {
        const int64_t n = 16 * g + t;
        if (n >= N) {
          r[t] = _mm512_setzero_si512();
          continue;
        }
        const float* x = X + n * ldx + k;
        r[t] = _mm512_permutex2var_epi16(round_bf16(_mm512_loadu_ps(x)), pick,
                                         round_bf16(_mm512_loadu_ps(x + 16)));
      }
      transpose16(r);  // r[i]: pair i of these 32 inputs for the 16 tokens
      uint32_t* out = xp + (g * (K / 2) + k / 2) * 16;
      for (int i = 0; i < 16; ++i) _mm512_store_si512(out + 16 * i, r[i]);
    }
  }
}

void gemm_bf16(const uint16_t* W, int64_t K, const uint32_t* xp, int64_t N, float* Y, int64_t ldy,
               int64_t m0, int64_t m1) {
  if (m0 >= m1 || N <= 0) return;
  configure_tiles();
  const uint8_t* w = reinterpret_cast<const uint8_t*>(W);
  const uint8_t* x = reinterpret_cast<const uint8_t*>(xp);
  const int64_t lda = K * 2;
  int64_t m = m0;
  if (N > 16)
    for (; m + 32 <= m1; m += 32) row_blocks<2>(w + m * lda, lda, x, K, N, Y, ldy, m, 32);
  for (; m + 16 <= m1; m += 16) row_blocks<1>(w + m * lda, lda, x, K, N, Y, ldy, m, 16);
  if (m < m1) {
    // Fewer than 16 rows left: a zero-padded copy of them as the A operand.
    thread_local AlignedBuffer<uint16_t> tail;
    if (static_cast<int64_t>(tail.size()) < 16 * K) tail.resize(static_cast<size_t>(16 * K));
    std::memset(tail.data(), 0, static_cast<size_t>(16 * K) * 2);
    std::memcpy(tail.data(), W + m * K, static_cast<size_t>((m1 - m) * K) * 2);
    row_blocks<1>(reinterpret_cast<const uint8_t*>(tail.data()), lda, x, K, N, Y, ldy, m, m1 - m);
  }
  _tile_release();
}

}  // namespace lc::ops::amx
