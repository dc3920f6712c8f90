// Standalone: what the matrix-matrix path could use on this machine. Reports
//  * AMX: the cpuid bits (leaf 7: AMX-BF16 edx bit 22, AMX-TILE bit 24) and whether Linux grants
//    the tile-data permission (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA));
//  * the single-thread throughput of the f32 FMA (vfmadd231ps zmm) and of the AVX512-BF16 dot
//    product (vdpbf16ps zmm: 32 bf16 products summed in pairs into 16 f32 lanes), each as 24
//    independent accumulator chains, in GFLOP/s (2 per multiply-add).
// Usage: isa_probe [seconds per measurement, default 1]. docs/perf/based_vs_llama.md quotes it.
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fma_peak.h"

namespace {

constexpr long kArchReqXcompPerm = 0x1023;  // linux/arch/x86/include/uapi/asm/prctl.h
constexpr long kXfeatureXtiledata = 18;

using lc::bench::g_fma_sink;
using lc::bench::now_s;

// The f32 FMA peak (bench/fma_peak.h) over about `seconds`: a short call sizes the long one.
double fma_gflops(double seconds) {
  const long probe = 100000;
  const double t0 = now_s();
  lc::bench::fma512_gflops(probe);
  const double dt = now_s() - t0;
  const long iters = static_cast<long>(probe * seconds / (dt > 1e-6 ? dt : 1e-6));
  return lc::bench::fma512_gflops(iters > probe ? iters : probe);
}

__attribute__((target("avx512f,avx512bf16"))) double dpbf16_gflops(double seconds) {
#define LC_DECL(j) __m512 a##j = _mm512_set1_ps(j * 1e-9f);
  LC_X24(LC_DECL)
  const __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80), y = x;  // bf16 1.0
  long iters = 0;
  const double t0 = now_s();
  double t = t0;
  while (t - t0 < seconds) {
    for (int i = 0; i < 100000; ++i) {
#define LC_DP(j) a##j = _mm512_dpbf16_ps(a##j, x, y);
      LC_X24(LC_DP)
      __asm__ volatile("" ::"v"(x));
    }
    iters += 100000;
    t = now_s();
  }
  float sink = 0.0f;
#define LC_SUM(j) sink += _mm512_reduce_add_ps(a##j);
  LC_X24(LC_SUM)
  g_fma_sink = sink;
  return iters * 24.0 * 32 * 2 / (t - t0) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  unsigned a = 0, b = 0, c = 0, d = 0;
  __get_cpuid_count(7, 0, &a, &b, &c, &d);
  const bool amx_bf16 = d & (1u << 22), amx_tile = d & (1u << 24), avx512f = b & (1u << 16);
  __get_cpuid_count(7, 1, &a, &b, &c, &d);
  const bool avx512bf16 = a & (1u << 5);
  const long r = syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata);
  std::printf("cpuid: amx-tile %d, amx-bf16 %d, avx512f %d, avx512-bf16 %d\n", amx_tile, amx_bf16,
              avx512f, avx512bf16);
  std::printf("arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA): %s\n",
              r == 0 ? "granted" : std::strerror(errno));
  if (avx512f)
    std::printf("f32 FMA (vfmadd231ps zmm), 1 thread:   %.1f GFLOP/s\n", fma_gflops(seconds));
  if (avx512bf16)
    std::printf("bf16 dot (vdpbf16ps zmm), 1 thread:    %.1f GFLOP/s\n", dpbf16_gflops(seconds));
  return 0;
}
