// The shared machinery of the 256-element (K-quant) SIMD kernels: the canonical summation every
// path follows, the decode (matrix-vector) driver, the prefill (matrix-matrix) driver and the
// activation preparation for the latter. The per-type pieces live in simd_k_q4q5.h,
// simd_k_q2q3q6.h and simd_k_iq4xs.h; simd_k.h puts them into the table.
//
// Rounding (why decode rows equal prefill rows, and every table the generic one, bit for bit).
// For one weight row and one activation row, each super-block i gives exact integers: Sd_i = the
// sum over the block of level * scale * q (offsets of Q3_K / Q6_K / IQ4_XS folded in through the
// bsums) and, for the types with a min (Q2_K, Q4_K, Q5_K), Sm_i = the sum over groups of
// min * bsum. The float steps are then those of kernels_generic.cc, in block order from acc = 0:
//   acc += xd_i * (wd_i * Sd_i - wdmin_i * Sm_i)     (Q2_K, Q4_K, Q5_K)
//   acc += (xd_i * wd_i) * Sd_i                      (Q3_K, Q6_K, IQ4_XS)
// The integers are exact however a path adds them up, so a path may compute them in any order;
// only the float steps are fixed, and every path performs exactly these, vectorised across rows
// (each lane one (weight row, activation row) pair), with no fused multiply-add (keep_rounded).
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "ops/quant/blocks.h"
#include "ops/quant/kernels.h"
#include "ops/quant/simd_dot.h"

namespace lc::ops::quant {
namespace {

// ---- small helpers -------------------------------------------------------------------------

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
inline uint32_t load_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint16_t load_u16(const void* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline float half_at(const uint8_t* p) { return _cvtsh_ss(load_u16(p)); }

// acc[i] += p[2i] * s[2i] + p[2i + 1] * s[2i + 1] on int16 pairs (vpmaddwd + add; a single
// vpdpwssd with AVX512_VNNI).
template <class D>
struct MaddAcc {
  static __m256i apply(__m256i acc, __m256i p, __m256i s) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p, s));
  }
};
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
template <>
struct MaddAcc<VnniDot> {
  static __m256i apply(__m256i acc, __m256i p, __m256i s) { return _mm256_dpwssd_epi32(acc, p, s); }
};
#endif
template <class D>
__m256i madd_acc(__m256i acc, __m256i p, __m256i s) {
  return MaddAcc<D>::apply(acc, p, s);
}

// Pins a product as rounded, so the compiler cannot fuse it into the add that follows (GCC
// contracts across intrinsics under -ffp-contract=fast; the generic kernels have no FMA).
template <class V>
inline V keep_rounded(V v) {
  asm("" : "+x"(v));
  return v;
}

// The float step of the header for lanes of (weight row, activation row) pairs.
template <bool kHasMin, class V, class Ops>
inline V float_step(V acc, V xd, V wd, V sd, V wdmin, V sm, Ops ops) {
  if constexpr (kHasMin) {
    const V t = ops.sub(keep_rounded(ops.mul(wd, sd)), keep_rounded(ops.mul(wdmin, sm)));
    return ops.add(acc, keep_rounded(ops.mul(xd, t)));
  } else {
    return ops.add(acc, keep_rounded(ops.mul(ops.mul(xd, wd), sd)));
  }
}
struct Ops128 {
  __m128 mul(__m128 a, __m128 b) const { return _mm_mul_ps(a, b); }
  __m128 sub(__m128 a, __m128 b) const { return _mm_sub_ps(a, b); }
  __m128 add(__m128 a, __m128 b) const { return _mm_add_ps(a, b); }
};
struct Ops256 {
  __m256 mul(__m256 a, __m256 b) const { return _mm256_mul_ps(a, b); }
  __m256 sub(__m256 a, __m256 b) const { return _mm256_sub_ps(a, b); }
  __m256 add(__m256 a, __m256 b) const { return _mm256_add_ps(a, b); }
};

// The prefill products on 512-bit registers where the primitive has them (vpdpbusd zmm: twice
// the multiply-adds per instruction of the 256-bit form on this generation of cores).
template <class D>
struct WideDot {
  static constexpr bool kAvailable = false;
};
#if defined(__AVX512VNNI__) && defined(__AVX512F__)
template <>
struct WideDot<VnniDot> {
  static constexpr bool kAvailable = true;
  static __m512i load(const void* p) { return _mm512_loadu_si512(p); }
  static __m512i dpbusd(__m512i acc, __m512i u, __m512i s) {
    return _mm512_dpbusd_epi32(acc, u, s);
  }
  // The two 256-bit halves (the masked form: GCC 12's plain extract reads an undefined value).
  static __m256i low(__m512i v) { return _mm512_maskz_extracti64x4_epi64(0xF, v, 0); }
  static __m256i high(__m512i v) { return _mm512_maskz_extracti64x4_epi64(0xF, v, 1); }
};
#endif

// Lane n of the result is the sum of the 8 lanes of v[n] (integer: exact in any order).
inline __m256i hsum8x8(const __m256i* v) {
  const __m256i a0 = _mm256_hadd_epi32(v[0], v[1]), a1 = _mm256_hadd_epi32(v[2], v[3]);
  const __m256i a2 = _mm256_hadd_epi32(v[4], v[5]), a3 = _mm256_hadd_epi32(v[6], v[7]);
  const __m256i b0 = _mm256_hadd_epi32(a0, a1), b1 = _mm256_hadd_epi32(a2, a3);
  return _mm256_add_epi32(_mm256_permute2x128_si256(b0, b1, 0x20),
                          _mm256_permute2x128_si256(b0, b1, 0x31));
}

// In-lane 4x4 transpose of 32-bit elements: out[v] half h, element j = in[j] half h, element v.
inline void transpose4x4_lanes(const __m256i* in, __m256i* out) {
  const __m256i t0 = _mm256_unpacklo_epi32(in[0], in[1]), t1 = _mm256_unpackhi_epi32(in[0], in[1]);
  const __m256i t2 = _mm256_unpacklo_epi32(in[2], in[3]), t3 = _mm256_unpackhi_epi32(in[2], in[3]);
  out[0] = _mm256_unpacklo_epi64(t0, t2);
  out[1] = _mm256_unpackhi_epi64(t0, t2);
  out[2] = _mm256_unpacklo_epi64(t1, t3);
  out[3] = _mm256_unpackhi_epi64(t1, t3);
}

// Full 8x8 transpose of 32-bit elements: out[c] element r = in[r] element c.
inline void transpose8x8(const __m256i* in, __m256i* out) {
  __m256i t[4], u[4];
  transpose4x4_lanes(in, t);
  transpose4x4_lanes(in + 4, u);
  for (int v = 0; v < 4; ++v) {
    out[v] = _mm256_permute2x128_si256(t[v], u[v], 0x20);
    out[v + 4] = _mm256_permute2x128_si256(t[v], u[v], 0x31);
  }
}

// ---- the prefill layout ----------------------------------------------------------------------
//
// A super-block of 256 levels in natural order is 8 vectors nat[0..7] of 32 bytes. Prefill works
// on them regrouped ("interleaved") so that every 32-bit lane only ever holds elements of one
// scale group: set s = 0, 1 is the in-lane 4x4 transpose of nat[4s .. 4s + 3], so 32-bit lane
// (h, j) (h = 128-bit half, j = 0..3) of the set's four vectors holds exactly the 16 elements of
// bsum index b = 8s + 2j + h, i.e. of the 16-group b or of the 32-group b / 2. vpdpbusd then sums
// a whole group per lane, and the group scales are applied once per super-block. The vectors are
// stored as out[2k + s] = vector k of set s, so that a 512-bit load takes both sets' vector k.
inline void interleave(const __m256i* nat, __m256i* out) {
  __m256i t[4], u[4];
  transpose4x4_lanes(nat, t);
  transpose4x4_lanes(nat + 4, u);
  for (int k = 0; k < 4; ++k) {
    out[2 * k] = t[k];
    out[2 * k + 1] = u[k];
  }
}

// Lane order of the bsum indices within set s: lane (h, j) <- b = 8s + 2j + h.
inline __m256i lane_order_16() { return _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7); }

// One weight row's super-block, unpacked for prefill.
struct alignas(64) Unpacked {
  __m256i q[8];   // interleaved unsigned (or, see the type, signed) levels
  __m256i sc[2];  // int32 scale of the group each lane of set 0 / set 1 holds
  int32_t mp[8];  // mins: int16 pair (min of bsum 2p, min of bsum 2p + 1), types with a min
  float d, dmin;  // the block's fp16 scales
};

// One activation row's super-block for prefill: the levels interleaved as the weights, and the
// accumulator start -offset * (bsum of the lane's 16 elements) that subtracts the weight type's
// level offset (levels are stored as level + offset >= 0).
struct alignas(64) XBlock {
  __m256i q[8];
  __m256i init[2];
};
// Up to 8 activation rows' per-super-block data with lane n = row n (zero for absent rows).
struct alignas(32) XGroup {
  __m256i bsum_t[8];  // lane n: row n's bsums (2p, 2p + 1) as an int16 pair
  __m256 d;
};

template <int kOffset>
void prep_xblock(const BlockQ8K& xb, XBlock* out) {
  __m256i nat[8];
  for (int i = 0; i < 8; ++i) nat[i] = load256(xb.qs + 32 * i);
  interleave(nat, out->q);
  const __m256i bs = load256(xb.bsums);
  for (int s = 0; s < 2; ++s) {
    const __m128i half = s ? _mm256_extracti128_si256(bs, 1) : _mm256_castsi256_si128(bs);
    const __m256i b = _mm256_permutevar8x32_epi32(_mm256_cvtepi16_epi32(half), lane_order_16());
    out->init[s] =
        kOffset == 0 ? _mm256_setzero_si256() : _mm256_mullo_epi32(b, _mm256_set1_epi32(-kOffset));
  }
}

inline void prep_xgroup(const BlockQ8K* const* xb, int count, XGroup* out) {
  __m256i rows[8];
  alignas(32) float d[8];
  for (int n = 0; n < 8; ++n) {
    rows[n] = n < count ? load256(xb[n]->bsums) : _mm256_setzero_si256();
    d[n] = n < count ? xb[n]->d : 0.0f;
  }
  transpose8x8(rows, out->bsum_t);
  out->d = _mm256_load_ps(d);
}

// ---- drivers ---------------------------------------------------------------------------------
//
// A type T provides:
//   Block, kHasMin
//   template <class D, int R> static void sb_dot(const uint8_t* const* w, const BlockQ8K& x,
//       __m256i* vd, __m256i* vm): for R weight blocks, vectors whose lanes add up to Sd (vd[r])
//       and Sm (vm[r], types with a min)
//   static uint32_t scale_bits(const uint8_t* w): fp16 d | fp16 dmin << 16
//   template <class D> static constexpr int offset(): the level offset of the prefill layout
//   template <class D> static void unpack(const uint8_t* w, Unpacked* u)
//   kLanesFitInt16: whether every prefill lane sum (16 levels minus the offset, times q) stays
//       within int16, so the scales can be applied with vpmaddwd instead of vpmulld
//   template <class D> static __m256i mac(__m256i acc, __m256i w, __m256i x): acc += w . x per
//       4 bytes, for the levels unpack() stores

// Bytes ahead of each weight row's stream that decode prefetches.
constexpr int64_t kDecodePrefetch = 1024;

// Decode: R consecutive weight rows against one activation row (Y entries y[0 .. R)).
template <class T, class D, int R>
void decode_rows(const uint8_t* w, int64_t w_row, int64_t nb, const BlockQ8K* x, float* y) {
  static_assert(R >= 1 && R <= 4);
  constexpr int64_t kBB = sizeof(typename T::Block);
  const __m256i dm_order = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  __m128 acc = _mm_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t* b[R];
    for (int r = 0; r < R; ++r) {
      b[r] = w + r * w_row + i * kBB;
      // The hardware prefetchers alone leave a core short of DRAM bandwidth on the dev VM
      // (bench/bandwidth); a prefetch past the end of the matrix is harmless.
      for (int64_t o = 0; o < kBB; o += 64)
        _mm_prefetch(reinterpret_cast<const char*>(b[r]) + kDecodePrefetch + o, _MM_HINT_T0);
    }
    __m256i v[8];
    for (int j = 0; j < 8; ++j) v[j] = _mm256_setzero_si256();
    T::template sb_dot<D, R>(b, x[i], v, v + 4);
    const __m256 s = _mm256_cvtepi32_ps(hsum8x8(v));  // Sd of rows 0..3, then Sm of rows 0..3
    alignas(16) uint32_t bits[4] = {0, 0, 0, 0};
    for (int r = 0; r < R; ++r) bits[r] = T::scale_bits(b[r]);
    const __m256 wd = _mm256_permutevar8x32_ps(
        _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(bits))), dm_order);
    acc = float_step<T::kHasMin>(acc, _mm_set1_ps(x[i].d), _mm256_castps256_ps128(wd),
                                 _mm256_castps256_ps128(s), _mm256_extractf128_ps(wd, 1),
                                 _mm256_extractf128_ps(s, 1), Ops128{});
  }
  alignas(16) float out[4];
  _mm_store_ps(out, acc);
  for (int r = 0; r < R; ++r) y[r] = out[r];
}

// Lane sums of set 0 and set 1 scaled by the groups' scales, in 8 int32 lanes (any split: only
// their total matters).
template <class T>
inline __m256i scale_lanes(const Unpacked& u, __m256i v0, __m256i v1) {
  if constexpr (T::kLanesFitInt16) {
    // Both sets' lanes as int16 (in-lane pack), scaled and pairwise summed by one vpmaddwd.
    return _mm256_madd_epi16(_mm256_packs_epi32(v0, v1), _mm256_packs_epi32(u.sc[0], u.sc[1]));
  } else {
    return _mm256_add_epi32(_mm256_mullo_epi32(v0, u.sc[0]), _mm256_mullo_epi32(v1, u.sc[1]));
  }
}

// Prefill: RP weight rows' unpacked super-blocks u[0 .. RP) against `count` (<= 8) prepared
// activation rows; acc[r] lane n is the running sum of (weight row r, activation row n). Each
// activation vector loaded is used by all RP rows.
template <class T, class D, int RP>
inline void prefill_block(const Unpacked* u, const XBlock* xs, int count, const XGroup& g,
                          __m256* acc) {
  __m256i sums[RP][8];
  for (int n = 0; n < 8; ++n) {
    if (n >= count) {
      for (int r = 0; r < RP; ++r) sums[r][n] = _mm256_setzero_si256();
      continue;
    }
    if constexpr (WideDot<D>::kAvailable) {
      using W = WideDot<D>;
      decltype(W::load(nullptr)) v[RP];
      for (int r = 0; r < RP; ++r) v[r] = W::load(xs[n].init);
      for (int k = 0; k < 4; ++k) {
        const auto xk = W::load(xs[n].q + 2 * k);
        for (int r = 0; r < RP; ++r) v[r] = W::dpbusd(v[r], W::load(u[r].q + 2 * k), xk);
      }
      for (int r = 0; r < RP; ++r) sums[r][n] = scale_lanes<T>(u[r], W::low(v[r]), W::high(v[r]));
    } else {
      for (int r = 0; r < RP; ++r) {
        __m256i v0 = xs[n].init[0], v1 = xs[n].init[1];
        for (int k = 0; k < 4; ++k) {
          v0 = T::template mac<D>(v0, u[r].q[2 * k], xs[n].q[2 * k]);
          v1 = T::template mac<D>(v1, u[r].q[2 * k + 1], xs[n].q[2 * k + 1]);
        }
        sums[r][n] = scale_lanes<T>(u[r], v0, v1);
      }
    }
  }
  for (int r = 0; r < RP; ++r) {
    const __m256 sd = _mm256_cvtepi32_ps(hsum8x8(sums[r]));
    __m256 sm = sd;
    if constexpr (T::kHasMin) {
      __m256i m = _mm256_madd_epi16(g.bsum_t[0], _mm256_set1_epi32(u[r].mp[0]));
      for (int p = 1; p < 8; ++p)
        m = _mm256_add_epi32(m, _mm256_madd_epi16(g.bsum_t[p], _mm256_set1_epi32(u[r].mp[p])));
      sm = _mm256_cvtepi32_ps(m);
    }
    acc[r] = float_step<T::kHasMin>(acc[r], g.d, _mm256_set1_ps(u[r].d), sd,
                                    _mm256_set1_ps(u[r].dmin), sm, Ops256{});
  }
}

// Activation rows per prefill pass (each weight super-block is unpacked once per pass) and
// super-blocks per activation chunk (the prepared chunk, 16 x 4 x 320 bytes, stays in L1).
constexpr int kPassRows = 16;
constexpr int kChunkBlocks = 4;
// Weight rows per prefill step: 4 where the 512-bit products leave registers for 4 rows' levels.
template <class D>
constexpr int prefill_rows() {
  return WideDot<D>::kAvailable ? 4 : 1;
}

// Weight rows [m, m + RP) of one pass and chunk: Y holds the running sums between chunks.
template <class T, class D, int RP>
void prefill_rows_chunk(const uint8_t* w, int64_t w_row, int64_t k0, int kc,
                        const XBlock (*xs)[kPassRows], const XGroup (*xg)[kPassRows / 8],
                        int64_t n0, int nn, float* Y, int64_t ldy, int64_t m) {
  constexpr int64_t kBB = sizeof(typename T::Block);
  const int ngroups = (nn + 7) / 8;
  Unpacked u[kChunkBlocks][RP];
  for (int i = 0; i < kc; ++i)
    for (int r = 0; r < RP; ++r)
      T::template unpack<D>(w + (m + r) * w_row + (k0 + i) * kBB, &u[i][r]);
  for (int g = 0; g < ngroups; ++g) {
    const int count = nn - 8 * g < 8 ? nn - 8 * g : 8;
    alignas(32) float acc[RP][8];
    for (int r = 0; r < RP; ++r)
      for (int n = 0; n < 8; ++n)
        acc[r][n] = k0 == 0 || n >= count ? 0.0f : Y[(n0 + 8 * g + n) * ldy + m + r];
    __m256 a[RP];
    for (int r = 0; r < RP; ++r) a[r] = _mm256_load_ps(acc[r]);
    for (int i = 0; i < kc; ++i) prefill_block<T, D, RP>(u[i], &xs[i][8 * g], count, xg[i][g], a);
    for (int r = 0; r < RP; ++r) _mm256_store_ps(acc[r], a[r]);
    for (int r = 0; r < RP; ++r)
      for (int n = 0; n < count; ++n) Y[(n0 + 8 * g + n) * ldy + m + r] = acc[r][n];
  }
}

template <class T, class D>
void gemm_prefill(const uint8_t* w, int64_t w_row, int64_t nb, const BlockQ8K* x, int64_t N,
                  float* Y, int64_t ldy, int64_t m0, int64_t m1) {
  constexpr int kRP = prefill_rows<D>();
  XBlock xs[kChunkBlocks][kPassRows];
  XGroup xg[kChunkBlocks][kPassRows / 8];
  for (int64_t n0 = 0; n0 < N; n0 += kPassRows) {
    const int nn = static_cast<int>(N - n0 < kPassRows ? N - n0 : kPassRows);
    const int ngroups = (nn + 7) / 8;
    for (int64_t k0 = 0; k0 < nb; k0 += kChunkBlocks) {
      const int kc = static_cast<int>(nb - k0 < kChunkBlocks ? nb - k0 : kChunkBlocks);
      for (int i = 0; i < kc; ++i) {
        const BlockQ8K* rows[kPassRows];
        for (int n = 0; n < nn; ++n) {
          rows[n] = x + (n0 + n) * nb + k0 + i;
          prep_xblock<T::template offset<D>()>(*rows[n], &xs[i][n]);
        }
        for (int g = 0; g < ngroups; ++g) prep_xgroup(rows + 8 * g, nn - 8 * g, &xg[i][g]);
      }
      int64_t m = m0;
      for (; m + kRP <= m1; m += kRP)
        prefill_rows_chunk<T, D, kRP>(w, w_row, k0, kc, xs, xg, n0, nn, Y, ldy, m);
      for (; m < m1; ++m) prefill_rows_chunk<T, D, 1>(w, w_row, k0, kc, xs, xg, n0, nn, Y, ldy, m);
    }
  }
}

// Below this many activation rows the fused decode kernel (weights unpacked in registers per
// activation row) beats unpacking for prefill.
constexpr int64_t kPrefillMinRows = 4;

template <class T, class D>
void gemm_k(const void* W, int64_t K, const void* xq, int64_t N, float* Y, int64_t ldy, int64_t m0,
            int64_t m1) {
  const int64_t nb = K / kQKK;
  const int64_t w_row = nb * static_cast<int64_t>(sizeof(typename T::Block));
  const auto* w = static_cast<const uint8_t*>(W);
  const auto* x = static_cast<const BlockQ8K*>(xq);
  if (N >= kPrefillMinRows) return gemm_prefill<T, D>(w, w_row, nb, x, N, Y, ldy, m0, m1);
  int64_t m = m0;
  for (; m + 4 <= m1; m += 4)
    for (int64_t n = 0; n < N; ++n)
      decode_rows<T, D, 4>(w + m * w_row, w_row, nb, x + n * nb, Y + n * ldy + m);
  for (; m < m1; ++m)
    for (int64_t n = 0; n < N; ++n)
      decode_rows<T, D, 1>(w + m * w_row, w_row, nb, x + n * nb, Y + n * ldy + m);
}

}  // namespace
}  // namespace lc::ops::quant
