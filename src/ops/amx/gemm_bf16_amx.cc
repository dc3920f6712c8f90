// The AMX bf16 product (amx.h), compiled with -mamx-tile -mamx-bf16 and AVX-512 and reached only
// after amx::enabled().
//
// Operands of TDPBF16PS (C[16x16 f32] += A[16 rows x 32 bf16] . B[16 rows x 16 bf16 pairs]):
// A is 16 rows of W read in place (row stride K * 2 bytes, 64 bytes = 32 k per row), B is 16
// tokens of X packed as pairs (pack_x), so C holds Y transposed (C[m][n] = Y[n][m]) and is
// transposed back on the way out. Eight tiles: C 0-3, A 4-5 (two blocks of 16 rows of W), B 6-7
// (two groups of 16 tokens). The 32 rows of W being worked on are reread from L2 for each pair
// of token groups; X (packed) is shared by all threads. For 16 tokens or fewer (decode, small
// batches) one block of 16 rows at a time: 32 rows streamed at once from memory cost decode 9%
// against the FMA kernels, 16 rows 3% (software prefetch and copying each block to L2 did not
// help).
#include <immintrin.h>

#include <cstring>

#include "core/aligned.h"
#include "ops/amx/amx.h"
#include "ops/amx/tiles.h"

namespace lc::ops::amx {

namespace {

using namespace tiles;

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
  pack_b<false>(X, ldx, N, K, xp, nullptr);
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
