// The AVX2 + FMA + F16C vector wrapper for kernels_impl.h. Included (inside an anonymous
// namespace, so every instantiation stays internal) by kernels_avx2.cc.
#pragma once
#include <immintrin.h>

#include "ops/kernels_impl.h"

namespace lc::ops {
namespace {

// Sliding window for tail masks: loading 8 ints at kMaskWindow + 8 - n gives n all-ones lanes.
alignas(32) constexpr int32_t kMaskWindow[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                 0,  0,  0,  0,  0,  0,  0,  0};

struct VAvx2 {
  using F = __m256;
  static constexpr int kLanes = 8;
  static constexpr int kGemmRN = 3;  // 12 accumulators + 3 X + 1 W = 16 ymm registers
  // Flash tiles of up to 3 query vectors (24 queries): 3 x 4 accumulators.
  static constexpr int kFlashChunks = 3;
  static constexpr bool kFlashOutlined = false;
  // gemm_xt: 4 rows of W x 3 vectors of tokens (24) = 12 accumulators + 3 + 1 broadcast.
  static constexpr int kXtRows = 4;
  static constexpr int kXtChunks = 3;
  // gemm_tn: 4 rows x 3 vectors = 12 accumulators + 3 loaded + 1 broadcast.
  static constexpr int kTnRows = 4;
  static constexpr int kTnChunks = 3;

  static __m256i mask(int n) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskWindow + 8 - n));
  }
  // 16-bit tails: copy into a zeroed 8-element block (there is no masked 16-bit load in AVX2).
  static __m128i load16_n(const uint16_t* p, int n) {
    alignas(16) uint16_t buf[8] = {};
    for (int i = 0; i < n; ++i) buf[i] = p[i];
    return _mm_load_si128(reinterpret_cast<const __m128i*>(buf));
  }
  static F bf16_to_f32(__m128i h) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }

  static float half(uint16_t h) { return _cvtsh_ss(h); }
  static F zero() { return _mm256_setzero_ps(); }
  static F set1(float s) { return _mm256_set1_ps(s); }
  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static F load(const impl::Bf16* p) {
    return bf16_to_f32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static F load(const impl::Fp16* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static __m256i bytes8(const void* p) {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(static_cast<const __m128i*>(p)));
  }
  static F load(const impl::NibLo* p) {
    return _mm256_cvtepi32_ps(_mm256_and_si256(bytes8(p), _mm256_set1_epi32(15)));
  }
  static F load(const impl::NibHi* p) {
    return _mm256_cvtepi32_ps(_mm256_srli_epi32(bytes8(p), 4));
  }
  static F load(const impl::Int8* p) {
    return _mm256_cvtepi32_ps(
        _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
  static F load_n(const float* p, int n) { return _mm256_maskload_ps(p, mask(n)); }
  static F load_n(const impl::Bf16* p, int n) {
    return bf16_to_f32(load16_n(reinterpret_cast<const uint16_t*>(p), n));
  }
  static F load_n(const impl::Fp16* p, int n) {
    return _mm256_cvtph_ps(load16_n(reinterpret_cast<const uint16_t*>(p), n));
  }
  static void store(float* p, F a) { _mm256_storeu_ps(p, a); }
  static void store_n(float* p, F a, int n) { _mm256_maskstore_ps(p, mask(n), a); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F div(F a, F b) { return _mm256_div_ps(a, b); }
  static F min(F a, F b) { return _mm256_min_ps(a, b); }
  static F max(F a, F b) { return _mm256_max_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F round(F a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static F pow2i(F n) {
    __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
  }
  static float reduce(F a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float reduce_max(F a) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  // Three horizontal adds reduce four vectors at once (a quarter of the cost of four reduce()s).
  static void reduce4(F a, F b, F c, F d, float* out) {
    __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1)));
  }
};

}  // namespace
}  // namespace lc::ops
