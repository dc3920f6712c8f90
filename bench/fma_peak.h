// The single-thread f32 FMA peak, measured: 24 independent accumulator chains of vfmadd231ps
// (zmm for AVX-512, ymm for AVX2) hide the instruction latency, so the loop runs at the FMA
// units' throughput. Per-function target attributes: include it from a file built with the
// baseline flags and check the CPU (lc::isa_supported) before calling either. isa_probe and
// kernel_lab use it.
#pragma once
#include <chrono>

#include "core/immintrin_quiet.h"  // GCC 12.2's AVX-512 header warnings silenced

namespace lc::bench {

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline volatile float g_fma_sink;  // keeps the accumulators live

// clang-format 14 reflows this macro differently on every run.
// clang-format off
#define LC_X24(M) \
  M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15) M(16) \
  M(17) M(18) M(19) M(20) M(21) M(22) M(23)
// clang-format on

// GFLOP/s (2 per multiply-add) of `iters` x 24 FMAs, 16 lanes; the asm barrier keeps each
// accumulator in its register and stops the compiler from folding the loop.
__attribute__((target("avx512f"))) inline double fma512_gflops(long iters) {
#define LC_DECL512(j) __m512 a##j = _mm512_set1_ps(j * 1e-9f);
  LC_X24(LC_DECL512)
  const __m512 x = _mm512_set1_ps(1.0001f), y = _mm512_set1_ps(0.9999f);
  const double t0 = now_s();
  for (long i = 0; i < iters; ++i) {
#define LC_FMA512(j) a##j = _mm512_fmadd_ps(x, y, a##j);
    LC_X24(LC_FMA512)
    __asm__ volatile("" ::"v"(x));
  }
  const double t = now_s() - t0;
  float sink = 0.0f;
#define LC_SUM512(j) sink += _mm512_reduce_add_ps(a##j);
  LC_X24(LC_SUM512)
  g_fma_sink = sink;
  return iters * 24.0 * 16 * 2 / t / 1e9;
}

// The same with 8-lane ymm registers (16 of them: AVX2 has no more).
__attribute__((target("avx2,fma"))) inline double fma256_gflops(long iters) {
#define LC_X16(M) \
  M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15)
#define LC_DECL256(j) __m256 a##j = _mm256_set1_ps(j * 1e-9f);
  LC_X16(LC_DECL256)
  const __m256 x = _mm256_set1_ps(1.0001f), y = _mm256_set1_ps(0.9999f);
  const double t0 = now_s();
  for (long i = 0; i < iters; ++i) {
#define LC_FMA256(j) a##j = _mm256_fmadd_ps(x, y, a##j);
    LC_X16(LC_FMA256)
    __asm__ volatile("" ::"x"(x));
  }
  const double t = now_s() - t0;
  float lanes[8] = {};
#define LC_SUM256(j) _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_loadu_ps(lanes), a##j));
  LC_X16(LC_SUM256)
  g_fma_sink = lanes[0] + lanes[7];
  return iters * 16.0 * 8 * 2 / t / 1e9;
}

}  // namespace lc::bench
