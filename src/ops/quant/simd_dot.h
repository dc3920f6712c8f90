// The one integer primitive the SIMD quantized kernels are written against, in two versions:
//   dpbusd(acc, u, s): acc[i] += sum of the 4 products u[4i + j] * s[4i + j], j < 4, with u
//   unsigned and s signed bytes (32 lanes -> 8 int32 lanes).
// Avx2Dot emulates it with vpmaddubsw + vpmaddwd (exact while |u * s| pairs stay within int16:
// u <= 127 or |s| <= 127 with u < 256 and no two products near 32767 -- true for every use here,
// where u holds weight levels < 64 or |x| <= 127); VnniDot is the single AVX512_VNNI (VL)
// instruction vpdpbusd on 256-bit registers. Included only by kernels_avx2.cc and
// kernels_avx512vnni.cc, compiled for their ISA.
#pragma once
#include <immintrin.h>

namespace lc::ops::quant {
namespace {

struct Avx2Dot {
  static constexpr const char* kName = "avx2";
  static __m256i dpbusd(__m256i acc, __m256i u, __m256i s) {
    const __m256i p16 = _mm256_maddubs_epi16(u, s);
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
  }
};

#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
struct VnniDot {
  static constexpr const char* kName = "avx512vnni";
  static __m256i dpbusd(__m256i acc, __m256i u, __m256i s) {
    return _mm256_dpbusd_epi32(acc, u, s);
  }
};
#endif

// Signed x signed bytes through the unsigned-by-signed primitive: |a| times b with a's sign
// moved onto b (llama.cpp's trick). Exact for a, b in [-127, 127].
template <class D>
__m256i dot_i8(__m256i acc, __m256i a, __m256i b) {
  return D::dpbusd(acc, _mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace
}  // namespace lc::ops::quant
