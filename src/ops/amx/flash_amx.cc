// The AMX flash tile (flash_amx.h), compiled with -mamx-tile -mamx-bf16 and AVX-512.
//
// Scores, transposed: S^T[key j][query q] = K Q^T, with the tile's key rows (bf16, in place) as A
// (16 keys x 32 dims per tile, row stride hd * 2 bytes) and the packed queries as B, so S^T lands
// in the scores' layout of the FMA kernel (query index along the lanes) and the softmax runs on it
// unchanged. Values: ot^T[d][q] += V^T P^T, with V^T (16 dims x 32 keys, built by interleaving
// key rows in pairs and transposing 16 x 16 words) as A and the probabilities packed in key pairs
// as B; each 16-dim block's product lands in scratch and is folded into ot with the rescale.
// Tiles: C 0-3 (one per 16 queries), A 4, B 5-7.
#include "ops/amx/flash_amx.h"

#include <atomic>
#include <cstring>

#include "core/error.h"
#include "core/immintrin_quiet.h"  // before tiles.h's <immintrin.h>
#include "ops/amx/amx.h"
#include "ops/amx/tiles.h"
#include "ops/kernels_vavx512.h"  // the FMA kernels' vexp, so both tiles exponentiate alike

namespace lc::ops::amx {

namespace {

using namespace tiles;

std::atomic<int>& flash_state() {  // -1: not decided yet
  static std::atomic<int> s{-1};
  return s;
}

// C tiles (C <= 4) of 16 x 16 f32, from zero: tile g = sum over kc chunks of A . B_g, A's chunk k
// at a + 64 k (16 rows, row stride lda bytes), B_g's at b + bg g + 1024 k (packed pairs, 16 rows
// of 64 bytes); tile g stored at c + 16 g (row stride ldc bytes). Scores: A = 16 key rows, B_g =
// the packed queries of lane group g, kc = hd / 32. Values: A = 16 rows of V^T (32 keys), B_g =
// P^T's pairs of lane group g, kc = 1.
template <int C>
void tile_products(const uint8_t* a, int64_t lda, const uint8_t* b, int64_t bg, int64_t kc,
                   float* c, int64_t ldc) {
  _tile_zero(0);
  if constexpr (C > 1) _tile_zero(1);
  if constexpr (C > 2) _tile_zero(2);
  if constexpr (C > 3) _tile_zero(3);
  for (int64_t k = 0; k < kc; ++k) {
    _tile_loadd(4, a + 64 * k, lda);
    _tile_loadd(5, b + 1024 * k, 64);
    _tile_dpbf16ps(0, 4, 5);
    if constexpr (C > 1) {
      _tile_loadd(6, b + bg + 1024 * k, 64);
      _tile_dpbf16ps(1, 4, 6);
    }
    if constexpr (C > 2) {
      _tile_loadd(7, b + 2 * bg + 1024 * k, 64);
      _tile_dpbf16ps(2, 4, 7);
    }
    if constexpr (C > 3) {
      _tile_loadd(5, b + 3 * bg + 1024 * k, 64);
      _tile_dpbf16ps(3, 4, 5);
    }
  }
  _tile_stored(0, c, ldc);
  if constexpr (C > 1) _tile_stored(1, c + 16, ldc);
  if constexpr (C > 2) _tile_stored(2, c + 32, ldc);
  if constexpr (C > 3) _tile_stored(3, c + 48, ldc);
}

template <int C>
void tile_c(const FlashTile& t, const uint32_t* qp) {
  const int64_t hd = t.hd, nk = t.nk, ldm = t.ldm, kc = hd / 32;
  float* s = t.work;  // [kFlashKeys][ldm] scores, then probabilities
  // Staging (flash_work_floats: 2 * kFlashKeys * hd floats after the scores): padded keys
  // [32][hd] bf16, V^T [hd][32] bf16, then P^T in pairs [C][16][16] words.
  uint16_t* kpad = reinterpret_cast<uint16_t*>(t.work + kFlashKeys * kFlashMaxM);
  uint16_t* vt = kpad + kFlashKeys * hd;
  uint32_t* pb = reinterpret_cast<uint32_t*>(vt + kFlashKeys * hd);
  const uint16_t* k = static_cast<const uint16_t*>(t.k);
  const uint16_t* v = static_cast<const uint16_t*>(t.v);
  const uint8_t* q8 = reinterpret_cast<const uint8_t*>(qp);
  // V^T first (it does not depend on the scores): tile loads of rows just written by vector stores
  // wait for the stores to drain, so they are written well before the value product reads them.
  // 16 dims at a time, word i of row d = (v[2i][d], v[2i + 1][d]); rows past nk zero.
  for (int64_t d0 = 0; d0 < hd; d0 += 16) {
    __m512i r[16];
    for (int64_t i = 0; i < 16; ++i) {
      const __m512i lo = 2 * i < nk ? _mm512_cvtepu16_epi32(_mm256_loadu_si256(
                                          reinterpret_cast<const __m256i*>(v + 2 * i * hd + d0)))
                                    : _mm512_setzero_si512();
      const __m512i hi = 2 * i + 1 < nk
                             ? _mm512_cvtepu16_epi32(_mm256_loadu_si256(
                                   reinterpret_cast<const __m256i*>(v + (2 * i + 1) * hd + d0)))
                             : _mm512_setzero_si512();
      r[i] = _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
    }
    transpose16(r);
    for (int64_t dd = 0; dd < 16; ++dd) _mm512_storeu_si512(vt + (d0 + dd) * 32, r[dd]);
  }
  // Scores. A part-filled 16-key block is read from a zero-padded copy (never past the rows).
  for (int64_t j0 = 0; j0 < nk; j0 += 16) {
    const uint16_t* kb = k + j0 * hd;
    if (nk - j0 < 16) {
      std::memset(kpad, 0, static_cast<size_t>(16 * hd) * 2);
      std::memcpy(kpad, kb, static_cast<size_t>((nk - j0) * hd) * 2);
      kb = kpad;
    }
    tile_products<C>(reinterpret_cast<const uint8_t*>(kb), hd * 2, q8, 1024 * kc, kc, s + j0 * ldm,
                     ldm * 4);
  }
  // Softmax state, lane group by lane group, as the FMA kernel (kernels_flash.h).
  __m512 alphas[C];
  for (int c = 0; c < C; ++c) {
    float* sc = s + 16 * c;
    __m512 m = _mm512_loadu_ps(t.mx + 16 * c);
    for (int64_t j = 0; j < nk; ++j) {
      __m512 x = _mm512_loadu_ps(sc + j * ldm);
      if (t.bias) {
        x = _mm512_add_ps(x, _mm512_loadu_ps(t.bias + j * ldm + 16 * c));
        _mm512_storeu_ps(sc + j * ldm, x);
      }
      m = _mm512_max_ps(m, x);
    }
    const __m512 alpha = impl::vexp<VAvx512>(_mm512_sub_ps(_mm512_loadu_ps(t.mx + 16 * c), m));
    __m512 sum = _mm512_setzero_ps();
    for (int64_t j = 0; j < nk; ++j) {
      const __m512 p = impl::vexp<VAvx512>(_mm512_sub_ps(_mm512_loadu_ps(sc + j * ldm), m));
      _mm512_storeu_ps(sc + j * ldm, p);
      sum = _mm512_add_ps(sum, p);
    }
    _mm512_storeu_ps(t.l + 16 * c, _mm512_fmadd_ps(_mm512_loadu_ps(t.l + 16 * c), alpha, sum));
    _mm512_storeu_ps(t.mx + 16 * c, m);
    alphas[c] = alpha;
    // P^T in key pairs (keys past nk weigh 0).
    for (int64_t i = 0; i < 16; ++i) {
      const __m512 p0 = 2 * i < nk ? _mm512_loadu_ps(sc + 2 * i * ldm) : _mm512_setzero_ps();
      const __m512 p1 =
          2 * i + 1 < nk ? _mm512_loadu_ps(sc + (2 * i + 1) * ldm) : _mm512_setzero_ps();
      _mm512_storeu_si512(pb + (16 * c + i) * 16, pair_bf16(p0, p1));
    }
  }
  // Values, 16 dims at a time, into the scores' rows (free again: P^T is packed in pb).
  const uint8_t* pb8 = reinterpret_cast<const uint8_t*>(pb);
  for (int64_t d0 = 0; d0 < hd; d0 += 16) {
    // This 16-dim block's products land in scratch and are folded into ot with the rescale of
    // the earlier tiles (ot = alpha ot + pv): ot is never read by a tile load right after vector
    // stores.
    tile_products<C>(reinterpret_cast<const uint8_t*>(vt + d0 * 32), 64, pb8, 1024, 1, s, ldm * 4);
    for (int64_t dd = 0; dd < 16; ++dd)
      for (int c = 0; c < C; ++c) {
        float* o = t.ot + (d0 + dd) * ldm + 16 * c;
        _mm512_storeu_ps(o, _mm512_fmadd_ps(_mm512_loadu_ps(o), alphas[c],
                                            _mm512_loadu_ps(s + dd * ldm + 16 * c)));
      }
  }
}

}  // namespace

bool flash_enabled() {
  int s = flash_state().load(std::memory_order_relaxed);
  if (s < 0) {
    // A bad LONGCTX_AMX_ATTN is an error on any CPU: the switch is read first.
    s = env_switch("LONGCTX_AMX_ATTN") && enabled() ? 1 : 0;
    flash_state().store(s, std::memory_order_relaxed);
  }
  return s == 1;
}

void set_flash_enabled(bool on) {
  flash_state().store(on && enabled() ? 1 : 0, std::memory_order_relaxed);
}

void pack_flash_q(const float* qt, int64_t ldm, int64_t hd, uint32_t* qp) {
  for (int64_t c = 0; c < ldm / 16; ++c)
    for (int64_t p = 0; p < hd / 2; ++p)
      _mm512_storeu_si512(qp + (c * (hd / 2) + p) * 16,
                          pair_bf16(_mm512_loadu_ps(qt + 2 * p * ldm + 16 * c),
                                    _mm512_loadu_ps(qt + (2 * p + 1) * ldm + 16 * c)));
}

void flash_begin() { configure_tiles(); }
void flash_end() { _tile_release(); }

void flash_tile_bf16(const FlashTile& t, const uint32_t* qp) {
  switch (t.ldm / 16) {
    case 1:
      tile_c<1>(t, qp);
      break;
    case 2:
      tile_c<2>(t, qp);
      break;
    case 3:
      tile_c<3>(t, qp);
      break;
    case 4:
      tile_c<4>(t, qp);
      break;
    default:
      __builtin_trap();  // the caller sizes ldm by flash_max_m
  }
}

}  // namespace lc::ops::amx
