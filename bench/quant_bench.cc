// Microbenchmarks of the quantized-weight products (ops/quant/kernels.h), per type and ISA table
// (Google Benchmark). Each configuration is first checked against the generic table.
//
//  quant/<type>/<isa>/<M>x<K>/N:<N>  one thread, table.gemm over all M rows: N = 1 is decode of
//      a cache-resident matrix (GB/s = weight bytes / time: the kernel's own speed), N = 64 a
//      prefill batch (GFLOP/s = 2 M K N / time).
//  quant_dram/<type>/<isa>/N:1  decode through ~512 MB of weights (2048-column rows, far past
//      the caches), 2 threads (LONGCTX_BENCH_THREADS): GB/s to compare with bench/bandwidth.
// Keep runs short on shared machines: --benchmark_filter=... --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/aligned.h"
#include "core/cpu.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "ops/quant/kernels.h"
#include "ops/quant/validate.h"

namespace {

using lc::DType;
using lc::Isa;
namespace quant = lc::ops::quant;

int threads() {
  const char* env = std::getenv("LONGCTX_BENCH_THREADS");
  const int n = env ? std::atoi(env) : 2;
  return n >= 1 && n <= 256 ? n : 2;
}

// rows x K weights of type t: pseudo-random bits with every fp16 scale set to a normal value
// (random bits would give NaN/Inf/subnormal scales, which the float steps may handle slowly).
void fill_weights(lc::AlignedBuffer<uint8_t>& w, DType t, int64_t rows, int64_t K) {
  const int64_t nb = rows * K / lc::dtype_block(t), bb = lc::dtype_block_bytes(t);
  w.resize(static_cast<size_t>(nb * bb));
  uint64_t s = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i + 8 <= w.size(); i += 8) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    std::memcpy(w.data() + i, &s, 8);
  }
  const quant::ScaleFields f = quant::scale_fields(t);
  const uint16_t v = lc::f32_to_f16(0.01f);
  for (int64_t i = 0; i < nb; ++i)
    for (int off : {f.a, f.b})
      if (off >= 0) std::memcpy(w.data() + i * bb + off, &v, 2);
}

struct Problem {
  DType t;
  int64_t M, K, N;
  lc::AlignedBuffer<uint8_t> w, xq;
  std::vector<float> y;
};

Problem make_problem(const quant::QuantKernels& qk, DType t, int64_t M, int64_t K, int64_t N) {
  Problem p{t, M, K, N, {}, {}, std::vector<float>(static_cast<size_t>(M * N))};
  fill_weights(p.w, t, M, K);
  std::vector<float> x(static_cast<size_t>(N * K));
  lc::Rng rng(7);
  for (auto& v : x) v = rng.normal();
  p.xq.resize(static_cast<size_t>(N * quant::x_row_bytes(t, K)));
  quant::quantize_rows(qk, t, x.data(), K, N, K, p.xq.data());
  return p;
}

// Max relative difference from the generic table over the first rows.
bool matches_generic(const quant::QuantKernels& qk, Problem& p) {
  const int64_t rows = p.M < 64 ? p.M : 64;
  std::vector<float> ref(p.y.size());
  quant::quant_kernels_for(Isa::Generic)
      .gemm[static_cast<int>(p.t)](p.w.data(), p.K, p.xq.data(), p.N, ref.data(), p.M, 0, rows);
  qk.gemm[static_cast<int>(p.t)](p.w.data(), p.K, p.xq.data(), p.N, p.y.data(), p.M, 0, rows);
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t m = 0; m < rows; ++m) {
      const float a = p.y[n * p.M + m], b = ref[n * p.M + m];
      if (!(std::fabs(a - b) <= 1e-4f * (std::fabs(b) + 1.0f))) return false;
    }
  return true;
}

void bm_gemm(benchmark::State& state, Isa isa, DType t, int64_t M, int64_t K, int64_t N) {
  const quant::QuantKernels& qk = quant::quant_kernels_for(isa);
  Problem p = make_problem(qk, t, M, K, N);
  if (!matches_generic(qk, p)) {
    state.SkipWithError("result differs from the generic table");
    return;
  }
  const quant::QGemmFn fn = qk.gemm[static_cast<int>(t)];
  fn(p.w.data(), K, p.xq.data(), N, p.y.data(), M, 0, M);  // warm-up
  for (auto _ : state) {
    fn(p.w.data(), K, p.xq.data(), N, p.y.data(), M, 0, M);
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(p.w.size()) / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * M * K * N / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void bm_dram(benchmark::State& state, Isa isa, DType t) {
  const quant::QuantKernels& qk = quant::quant_kernels_for(isa);
  constexpr int64_t kK = 2048;
  const int64_t rows = (int64_t{512} << 20) / lc::dtype_bytes(t, kK);
  Problem p = make_problem(qk, t, rows, kK, 1);
  if (!matches_generic(qk, p)) {
    state.SkipWithError("result differs from the generic table");
    return;
  }
  static lc::ThreadPool pool(threads());
  const quant::QGemmFn fn = qk.gemm[static_cast<int>(t)];
  auto step = [&] {
    pool.parallel_for(rows, 16, [&](int64_t m0, int64_t m1) {
      fn(p.w.data(), kK, p.xq.data(), 1, p.y.data(), rows, m0, m1);
    });
  };
  step();
  for (auto _ : state) {
    step();
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(p.w.size()) / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512})
    if (lc::isa_supported(isa)) isas.push_back(isa);
  const DType types[] = {DType::Q4_K, DType::Q6_K, DType::Q5_K,
                         DType::Q3_K, DType::Q2_K, DType::IQ4_XS};
  for (DType t : types)
    for (Isa isa : isas) {
      const std::string base =
          std::string(lc::dtype_name(t)) + "/" + quant::quant_kernels_for(isa).name;
      for (auto [M, K] : {std::pair<int64_t, int64_t>{768, 2048}, {2048, 768}})
        for (int64_t N : {1, 64})
          benchmark::RegisterBenchmark(("quant/" + base + "/" + std::to_string(M) + "x" +
                                        std::to_string(K) + "/N:" + std::to_string(N))
                                           .c_str(),
                                       [=](benchmark::State& s) { bm_gemm(s, isa, t, M, K, N); })
              ->UseRealTime()
              ->Unit(benchmark::kMicrosecond);
      benchmark::RegisterBenchmark(("quant_dram/" + base + "/N:1").c_str(),
                                   [=](benchmark::State& s) { bm_dram(s, isa, t); })
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
