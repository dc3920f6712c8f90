// The AVX-512 (F/BW/VL/DQ) vector wrapper for kernels_impl.h. Included (inside an anonymous
// namespace, so every instantiation stays internal) by kernels_avx512.cc and by the AMX attention
// tile (amx/flash_amx.cc, for vexp); only files compiled with the AVX-512 flags may include it.
#pragma once
#include "core/immintrin_quiet.h"
#include "ops/kernels_impl.h"

namespace lc::ops {
namespace {

struct VAvx512 {
  using F = __m512;
  static constexpr int kLanes = 16;
  static constexpr int kGemmRN = 6;  // 24 accumulators + 6 X + 1 W = 31 of 32 zmm registers
  // Flash tiles of up to 4 query vectors (64 queries): 4 x 6 accumulators.
  static constexpr int kFlashChunks = 4;
  static constexpr bool kFlashOutlined = true;
  // gemm_xt: 6 rows of W x 4 vectors of tokens (64) = 24 accumulators + 4 + 1 broadcast.
  static constexpr int kXtRows = 6;
  static constexpr int kXtChunks = 4;  // kernels_flash.h, flash_outer_outlined
  // gemm_tn: 6 rows x 4 vectors = 24 accumulators + 4 loaded + 1 broadcast.
  static constexpr int kTnRows = 6;
  static constexpr int kTnChunks = 4;

  static __mmask16 mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static F bf16_to_f32(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }

  static F cvtph(__m256i h) { return _mm512_cvtph_ps(h); }

  static float half(uint16_t h) { return _cvtsh_ss(h); }
  static F zero() { return _mm512_setzero_ps(); }
  static F set1(float s) { return _mm512_set1_ps(s); }
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static F load(const impl::Bf16* p) {
    return bf16_to_f32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static F load(const impl::Fp16* p) {
    return cvtph(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static __m512i bytes16(const void* p) {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(static_cast<const __m128i*>(p)));
  }
  static F load(const impl::NibLo* p) {
    return _mm512_cvtepi32_ps(_mm512_and_si512(bytes16(p), _mm512_set1_epi32(15)));
  }
  static F load(const impl::NibHi* p) {
    return _mm512_cvtepi32_ps(_mm512_srli_epi32(bytes16(p), 4));
  }
  static F load(const impl::Int8* p) {
    return _mm512_cvtepi32_ps(
        _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
  }
  static F load_n(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static F load_n(const impl::Bf16* p, int n) {
    return bf16_to_f32(_mm256_maskz_loadu_epi16(mask(n), p));
  }
  static F load_n(const impl::Fp16* p, int n) {
    return cvtph(_mm256_maskz_loadu_epi16(mask(n), p));
  }
  static void store(float* p, F a) { _mm512_storeu_ps(p, a); }
  static void store_n(float* p, F a, int n) { _mm512_mask_storeu_ps(p, mask(n), a); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F div(F a, F b) { return _mm512_div_ps(a, b); }
  static F min(F a, F b) { return _mm512_min_ps(a, b); }
  static F max(F a, F b) { return _mm512_max_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F round(F a) {
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static F pow2i(F n) {
    __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
  }
  static __m256 fold(F a) {
    return _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
  }
  static float reduce(F a) {
    __m256 h = fold(a);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float reduce_max(F a) {
    __m256 h = _mm256_max_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  // Fold each vector to 256 bits, then three horizontal adds reduce all four at once.
  static void reduce4(F a, F b, F c, F d, float* out) {
    __m256 ab = _mm256_hadd_ps(fold(a), fold(b)), cd = _mm256_hadd_ps(fold(c), fold(d));
    __m256 abcd = _mm256_hadd_ps(ab, cd);
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1)));
  }
};

}  // namespace
}  // namespace lc::ops
