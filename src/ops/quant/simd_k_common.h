// The shared machinery of the 256-element (K-quant) SIMD kernels: the rounding every path
// follows, small helpers, and the decode (matrix-vector) driver. The per-type pieces live in
// simd_k_q4q5.h, simd_k_q2q3q6.h and simd_k_iq4xs.h, the prefill driver in simd_k_prefill.h;
// simd_k.h puts them into the table.
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
  asm("" : "+v"(v));
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
#if defined(__AVX512F__)
struct Ops512 {
  __m512 mul(__m512 a, __m512 b) const { return _mm512_mul_ps(a, b); }
  __m512 sub(__m512 a, __m512 b) const { return _mm512_sub_ps(a, b); }
  __m512 add(__m512 a, __m512 b) const { return _mm512_add_ps(a, b); }
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

// One weight row's super-block unpacked for prefill: natural-order levels, group scales, mins.
struct alignas(64) Unpacked {
  uint8_t q[kQKK];             // levels (unsigned, or signed where the type says so)
  alignas(64) int32_t sc[16];  // scale of each group (8 groups of 32 or 16 of 16)
  alignas(32) int32_t mp[8];   // mins of bsums 2p, 2p + 1 as an int16 pair (types with a min)
  float d, dmin;               // the block's fp16 scales
};

// ---- the type interface and the decode driver ------------------------------------------------
//
// A type T provides:
//   Block; kHasMin; kGroupDwords (4-byte words per scale group: 8 for groups of 32, 4 for 16)
//   template <class D, int R> static void sb_dot(const uint8_t* const* w, const BlockQ8K& x,
//       __m256i* vd, __m256i* vm): for R weight blocks, vectors whose lanes add up to Sd (vd[r])
//       and Sm (vm[r], types with a min)
//   static uint32_t scale_bits(const uint8_t* w): fp16 d | fp16 dmin << 16
//   template <class D> static void unpack(const uint8_t* w, Unpacked* u)
//   template <class D> static constexpr int offset(): what unpack() adds to every level
//   template <class D> static __m256i mac(__m256i acc, __m256i w, __m256i x): acc += w . x per
//       4 bytes, for the levels unpack() stores (D::dpbusd unless the levels are signed)

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
      // (bench/bandwidth). The R rows are contiguous and read side by side, so the same block
      // of the next R rows is exactly one group ahead in memory (past the end: harmless).
      for (int64_t o = 0; o < kBB; o += 64)
        _mm_prefetch(reinterpret_cast<const char*>(b[r]) + R * w_row + o, _MM_HINT_T0);
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

}  // namespace
}  // namespace lc::ops::quant
