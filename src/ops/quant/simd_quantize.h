// SIMD versions of the activation quantizers of activations.cc, producing the same bytes on every
// input: the same max |x| (a NaN element is skipped, as std::fmax skips it), the same scalar d,
// 1 / d and 127 / amax, the same products x * id rounded half to even (vroundps, equal to
// activations.cc's (v + 1.5 * 2^23) - 1.5 * 2^23 for |v| <= 127.5), and the same conversion to
// int: vcvttps2dq, like the scalar static_cast, gives 0x80000000 for a NaN or infinite product
// (only reachable when 1 / d overflows), whose low byte 0 is what the scalar int8 cast keeps.
// Included by simd_q32.h for the AVX2 and AVX-512 tables.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "core/dtype.h"
#include "ops/quant/kernels.h"

namespace lc::ops::quant {
namespace {

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

inline int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
  return _mm_cvtsi128_si32(s);
}

// max(m, |x_i|) over n floats (a multiple of 8), NaN elements skipped (vmaxps returns its second
// operand when either is NaN).
inline float abs_max(const float* x, int n) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 m = _mm256_setzero_ps();
  for (int i = 0; i < n; i += 8)
    m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask), m);
  return hmax(m);
}

// round-half-even(x * scale) for 8 floats, as int32 (0x80000000 for NaN or infinity).
inline __m256i round_scaled(const float* x, __m256 scale) {
  const __m256 v = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x), scale),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return _mm256_cvttps_epi32(v);
}

// The low bytes of 4 x 8 int32 (a, b, c, d in order) as 32 bytes, as a static_cast<int8_t> keeps.
inline __m256i low_bytes(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i m = _mm256_set1_epi32(0xFF);
  const __m256i ab = _mm256_packus_epi32(_mm256_and_si256(a, m), _mm256_and_si256(b, m));
  const __m256i cd = _mm256_packus_epi32(_mm256_and_si256(c, m), _mm256_and_si256(d, m));
  // Bytes now in 4-byte groups a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7.
  return _mm256_permutevar8x32_epi32(_mm256_packus_epi16(ab, cd),
                                     _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

void quantize_q8x_simd(const float* x, int64_t k, void* out) {
  auto* y = static_cast<BlockQ8x*>(out);
  for (int64_t b = 0; b < k / 32; ++b) {
    const float* xb = x + b * 32;
    const float amax = abs_max(xb, 32);
    const bool zero = !(amax >= kMinAmax);
    const float d = zero ? 0.0f : amax / 127.0f;
    const float id = zero ? 0.0f : 127.0f / amax;
    const __m256 vid = _mm256_set1_ps(id);
    const __m256i q0 = round_scaled(xb, vid), q1 = round_scaled(xb + 8, vid);
    const __m256i q2 = round_scaled(xb + 16, vid), q3 = round_scaled(xb + 24, vid);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].qs), low_bytes(q0, q1, q2, q3));
    // The int sum (wrapping, as the scalar int does in the overflowed 1 / d case).
    const int sum = hsum_i32(_mm256_add_epi32(_mm256_add_epi32(q0, q1), _mm256_add_epi32(q2, q3)));
    y[b].d = f16_to_f32(f32_to_f16(d));
    y[b].s = y[b].d * static_cast<float>(sum);
  }
}

void quantize_q8k_simd(const float* x, int64_t k, void* out) {
  auto* y = static_cast<BlockQ8K*>(out);
  const __m256 hi = _mm256_set1_ps(127.0f), lo = _mm256_set1_ps(-127.0f);
  const __m256i ones8 = _mm256_set1_epi8(1);
  const __m256i ones16 = _mm256_set1_epi16(1);
  for (int64_t b = 0; b < k / 256; ++b) {
    const float* xb = x + b * 256;
    const float amax = abs_max(xb, 256);
    const bool zero = !(amax >= kMinAmax);
    const float iscale = zero ? 0.0f : 127.0f / amax;
    const __m256 vs = _mm256_set1_ps(iscale);
    // Clamped to [-127, 127] with NaN passed through (vminps / vmaxps return the second operand
    // for a NaN), as the scalar comparisons leave a NaN alone.
    auto q = [&](int i) {
      const __m256 v = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(xb + i), vs),
                                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      return _mm256_cvttps_epi32(_mm256_max_ps(lo, _mm256_min_ps(hi, v)));
    };
    __m256i quads[8];  // quads[j] lane l: sum of qs[32 j + 4 l .. + 3]
    for (int j = 0; j < 8; ++j) {
      const int i = 32 * j;
      const __m256i bytes = low_bytes(q(i), q(i + 8), q(i + 16), q(i + 24));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].qs + i), bytes);
      quads[j] = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, bytes), ones16);
    }
    // Group g (16 elements) is lanes 0-3 (g even) or 4-7 (g odd) of quads[g / 2].
    const __m256i e = _mm256_hadd_epi32(_mm256_hadd_epi32(quads[0], quads[1]),
                                        _mm256_hadd_epi32(quads[2], quads[3]));
    const __m256i f = _mm256_hadd_epi32(_mm256_hadd_epi32(quads[4], quads[5]),
                                        _mm256_hadd_epi32(quads[6], quads[7]));
    // e: groups 0 2 4 6 | 1 3 5 7, f: 8 10 12 14 | 9 11 13 15 -> int16 (|sum| <= 16 * 127).
    const __m256i p = _mm256_packs_epi32(e, f);  // 0 2 4 6 8 10 12 14 | 1 3 ... 15
    const __m128i even = _mm256_castsi256_si128(p), odd = _mm256_extracti128_si256(p, 1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[b].bsums), _mm_unpacklo_epi16(even, odd));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[b].bsums + 8), _mm_unpackhi_epi16(even, odd));
    y[b].d = zero ? 0.0f : 1.0f / iscale;
  }
}

}  // namespace
}  // namespace lc::ops::quant
