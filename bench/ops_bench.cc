// Microbenchmarks for the per-ISA kernels (Google Benchmark). Every configuration is checked
// against the reference before it is timed; use --benchmark_repetitions=N for median/stddev
// and --benchmark_format=json (or --benchmark_out=FILE) for JSON.
//
//  decode/<dtype>/<isa>/...  one decode step of a 110M llama2.c-shaped model (dim 768, hidden
//      2048, 12 layers, vocab 32000): the 85 weight matrices (438 MB f32, 219 MB bf16/f16) are
//      multiplied by a vector in model order, 2 threads. GB/s = weight bytes / time, to compare
//      with bench/bandwidth. "resident:R" streams everything past the first R MiB of weights with
//      the non-temporal gemm_*_nt kernels so that those R MiB can stay in L3 across tokens;
//      "plain" uses the default kernels for everything; "matmul" goes through lc::ops::matmul.
//  decode/f32/llama2c   the same step with llama2.c's matmul loop (-Ofast, AVX2) for reference.
//  prefill/<dtype>/<isa>/<M>x<K>/N:<N>   X[N,K] * W[M,K]^T with 2 threads (LONGCTX_BENCH_THREADS);
//      also based-360m's fc1, fc2 and classifier at N = 1348, the batch of
//      docs/perf/based_vs_llama.md (b);
//  GFLOP/s = 2*M*K*N / t. kernel/<name>/<isa>/<n>   the small element-wise kernels.
//  qgemm/<dtype>/<table>/<M>x<K>/N:<N>[/cold]   X quantized and one call of a quantized table's
//      gemm (ops/quant, one thread, CPU time), checked against the generic table first. GB/s =
//      weight bytes / t; "cold" cycles through copies of W totalling 256 MiB so that W comes from
//      DRAM (or a large L3) rather than L2. qquant/<q8x|q8k>/<table>/<K>   the activation
//      quantizers.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/aligned.h"
#include "core/cpu.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "ops/ops.h"
#include "ops/quant/kernels.h"
#include "ops/reference.h"

namespace {

using lc::DType;
using lc::Isa;
namespace ops = lc::ops;

// LONGCTX_BENCH_THREADS overrides the default of 2 (e.g. 1 to measure one core).
int threads() {
  const char* env = std::getenv("LONGCTX_BENCH_THREADS");
  int n = env ? std::atoi(env) : 2;
  return n >= 1 && n <= 256 ? n : 2;
}
constexpr int64_t kDim = 768, kHidden = 2048, kLayers = 12, kVocab = 32000;

lc::ThreadPool& pool() {
  static lc::ThreadPool p(threads());
  return p;
}

// Fills n elements of type t with pseudo-random values in [-1, 1).
void fill(void* dst, DType t, int64_t n, uint64_t seed) {
  lc::Rng rng(seed);
  for (int64_t i = 0; i < n; ++i) {
    float v = rng.uniform() * 2.0f - 1.0f;
    if (t == DType::F32)
      static_cast<float*>(dst)[i] = v;
    else if (t == DType::BF16)
      static_cast<uint16_t*>(dst)[i] = lc::f32_to_bf16(v);
    else
      static_cast<uint16_t*>(dst)[i] = lc::f32_to_f16(v);
  }
}

struct Matrix {
  lc::AlignedBuffer<uint8_t> storage;
  ops::WeightView view;
  bool stream_nt = false;  // read with the experimental gemm_*_nt kernels
};

// The decode working set of one dtype; only one is kept alive at a time to bound memory.
struct WorkingSet {
  DType t;
  std::vector<Matrix> mats;
  size_t bytes = 0;
};

WorkingSet& working_set(DType t) {
  static std::unique_ptr<WorkingSet> ws;
  if (ws && ws->t == t) return *ws;
  ws.reset();
  ws = std::make_unique<WorkingSet>();
  ws->t = t;
  auto add = [&](int64_t rows, int64_t cols) {
    Matrix m;
    m.storage.resize(static_cast<size_t>(rows * cols) * lc::dtype_size(t));
    fill(m.storage.data(), t, rows * cols, ws->mats.size() + 1);
    m.view = ops::WeightView{t, m.storage.data(), rows, cols};
    ws->bytes += m.storage.size();
    ws->mats.push_back(std::move(m));
  };
  for (int64_t l = 0; l < kLayers; ++l) {
    for (int i = 0; i < 4; ++i) add(kDim, kDim);  // wq, wk, wv, wo
    add(kHidden, kDim);                           // w1
    add(kHidden, kDim);                           // w3
    add(kDim, kHidden);                           // w2
  }
  add(kVocab, kDim);  // classifier
  return *ws;
}

// lc::ops::matmul for an explicit table, optionally non-temporal (same partition).
void matmul_with(const ops::KernelTable& kt, const ops::WeightView& W, const float* X, int64_t N,
                 float* Y, bool stream_nt = false) {
  ops::GemmFn fn = ops::gemm_for(kt, W.dtype, stream_nt);
  pool().parallel_for(W.rows, 16, [&](int64_t m0, int64_t m1) {
    fn(W.data, W.cols, X, W.cols, N, Y, W.rows, m0, m1);
  });
}

// llama2.c's matmul (run.c), compiled as its Makefile's `runomp` would on a modern x86-64: the
// same loop, vectorised by the compiler thanks to -Ofast, rows split statically across threads.
__attribute__((target("avx2,fma"), optimize("O3", "fast-math"))) void llama2c_rows(
    float* xout, const float* x, const float* w, int n, int d0, int d1) {
  for (int i = d0; i < d1; i++) {
    float val = 0.0f;
    for (int j = 0; j < n; j++) val += w[i * n + j] * x[j];
    xout[i] = val;
  }
}

// Max |y - ref| / (K * eps * sum|x||w|) over a few rows of W; <= 1 passes.
double check_rows(const ops::KernelTable* kt, const ops::WeightView& W, const float* X, int64_t N,
                  bool llama2c, bool stream_nt) {
  int64_t rows = W.rows < 40 ? W.rows : 40;
  std::vector<float> y(N * W.rows), ref(N * W.rows);
  if (llama2c) {
    llama2c_rows(y.data(), X, static_cast<const float*>(W.data), static_cast<int>(W.cols), 0,
                 static_cast<int>(rows));
  } else {
    ops::gemm_for(*kt, W.dtype, stream_nt)(W.data, W.cols, X, W.cols, N, y.data(), W.rows, 0, rows);
  }
  ops::ref::gemm(W.data, W.dtype, W.cols, X, W.cols, N, ref.data(), W.rows, 0, rows);
  double worst = 0.0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < rows; ++m) {
      double s = 0.0;
      for (int64_t k = 0; k < W.cols; ++k)
        s += std::fabs(X[n * W.cols + k] * ops::ref::load(W.data, W.dtype, m * W.cols + k));
      double tol = (W.cols + 2) * 1.2e-7 * s + 1e-30;
      double r = std::fabs(y[n * W.rows + m] - ref[n * W.rows + m]) / tol;
      if (!(r <= worst)) worst = r;  // also catches NaN
    }
  return worst;
}

enum class DecodeMode { Plain, Resident, Matmul, Llama2c };

void bm_decode(benchmark::State& state, Isa isa, DType t, DecodeMode mode, int resident_mib) {
  WorkingSet& ws = working_set(t);
  const ops::KernelTable& kt = ops::kernels_for(isa);
  // Everything past the first resident_mib MiB (in model order) streams non-temporally.
  size_t seen = 0;
  for (Matrix& m : ws.mats) {
    m.stream_nt =
        mode == DecodeMode::Resident && seen + m.storage.size() > (size_t{1} << 20) * resident_mib;
    seen += m.storage.size();
  }
  lc::AlignedBuffer<float> x(kHidden), y(kVocab);
  lc::Rng rng(5);
  for (int64_t i = 0; i < kHidden; ++i) x[i] = rng.normal();
  for (const Matrix* m : {&ws.mats.front(), &ws.mats.back()}) {
    double worst = check_rows(&kt, m->view, x.data(), 1, mode == DecodeMode::Llama2c, m->stream_nt);
    if (worst > 1.0) {
      state.SkipWithError(
          ("result differs from the reference (" + std::to_string(worst) + " x tolerance)")
              .c_str());
      return;
    }
  }
  auto step = [&] {
    for (const Matrix& m : ws.mats) {
      const ops::WeightView& W = m.view;
      switch (mode) {
        case DecodeMode::Matmul:
          ops::matmul(pool(), W, x.data(), 1, y.data());
          break;
        case DecodeMode::Llama2c:
          pool().parallel_for(W.rows, 1, [&](int64_t m0, int64_t m1) {
            llama2c_rows(y.data(), x.data(), static_cast<const float*>(W.data),
                         static_cast<int>(W.cols), static_cast<int>(m0), static_cast<int>(m1));
          });
          break;
        default:
          matmul_with(kt, W, x.data(), 1, y.data(), m.stream_nt);
      }
    }
  };
  for (int i = 0; i < 3; ++i) step();  // warm-up: settle what stays in L3
  for (auto _ : state) {
    step();
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(ws.bytes) / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void bm_prefill(benchmark::State& state, Isa isa, DType t, int64_t M, int64_t K, int64_t N) {
  const ops::KernelTable& kt = ops::kernels_for(isa);
  lc::AlignedBuffer<uint8_t> w(static_cast<size_t>(M * K) * lc::dtype_size(t));
  fill(w.data(), t, M * K, 17);
  ops::WeightView W{t, w.data(), M, K};
  lc::AlignedBuffer<float> x(N * K), y(N * M);
  fill(x.data(), DType::F32, N * K, 18);
  double worst = check_rows(&kt, W, x.data(), N < 8 ? N : 8, false, false);
  if (worst > 1.0) {
    state.SkipWithError("result differs from the reference");
    return;
  }
  matmul_with(kt, W, x.data(), N, y.data());
  for (auto _ : state) {
    matmul_with(kt, W, x.data(), N, y.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * M * K * N / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void bm_kernel(benchmark::State& state, Isa isa, const std::string& name, int64_t n) {
  const ops::KernelTable& kt = ops::kernels_for(isa);
  lc::AlignedBuffer<float> a(n + 64), b(n + 64), c(n + 64);
  fill(a.data(), DType::F32, n, 1);
  fill(b.data(), DType::F32, n, 2);
  float sink = 0.0f;
  for (auto _ : state) {
    if (name == "rmsnorm")
      kt.rmsnorm(a.data(), b.data(), c.data(), n, 1e-5f);
    else if (name == "softmax")
      kt.softmax(c.data(), n);
    else if (name == "silu_mul")
      kt.silu_mul(c.data(), b.data(), n);
    else if (name == "gelu_tanh_mul")
      kt.gelu_tanh_mul(c.data(), b.data(), n);
    else if (name == "dot")
      sink += kt.dot(a.data(), b.data(), n);
    else if (name == "axpy")
      kt.axpy(1e-3f, a.data(), c.data(), n);
    benchmark::DoNotOptimize(sink);
    benchmark::ClobberMemory();
  }
  state.counters["elems/s"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
}

// Quantized weights for the qgemm cases: random bytes with every fp16 scale field set to a small
// finite value (d, and m for the types with a min, at the start of each 32-element block).
void fill_quant(uint8_t* w, DType t, int64_t bytes, uint64_t seed) {
  lc::Rng rng(seed);
  for (int64_t i = 0; i < bytes; ++i) w[i] = static_cast<uint8_t>(rng.next_u64());
  const int64_t bb = lc::dtype_block_bytes(t);
  const int n_scales = t == DType::Q4_1 || t == DType::Q5_1 ? 2 : 1;
  for (int64_t b = 0; b < bytes / bb; ++b)
    for (int j = 0; j < n_scales; ++j) {
      const uint16_t h = lc::f32_to_f16((rng.uniform() - 0.5f) * 0.02f);
      std::memcpy(w + b * bb + 2 * j, &h, 2);
    }
}

void bm_qgemm(benchmark::State& state, Isa isa, DType t, int64_t M, int64_t K, int64_t N,
              bool cold) {
  namespace q = lc::ops::quant;
  const q::QuantKernels& qk = q::quant_kernels_for(isa);
  const int64_t w_bytes = lc::dtype_bytes(t, M * K);
  const int64_t copies = cold ? ((int64_t{256} << 20) + w_bytes - 1) / w_bytes : 1;
  lc::AlignedBuffer<uint8_t> w(static_cast<size_t>(w_bytes * copies));
  fill_quant(w.data(), t, w_bytes, 17);
  for (int64_t c = 1; c < copies; ++c) std::memcpy(w.data() + c * w_bytes, w.data(), w_bytes);
  lc::AlignedBuffer<float> x(N * K), y(N * M), ref(N * M);
  fill(x.data(), DType::F32, N * K, 18);
  lc::AlignedBuffer<uint8_t> xq(static_cast<size_t>(N * q::x_row_bytes(t, K)));
  q::quantize_rows(qk, t, x.data(), K, N, K, xq.data());
  const q::QGemmFn fn = qk.gemm[static_cast<int>(t)];
  const q::QuantKernels& generic = q::quant_kernels_for(Isa::Generic);
  fn(w.data(), K, xq.data(), N, y.data(), M, 0, M);
  generic.gemm[static_cast<int>(t)](w.data(), K, xq.data(), N, ref.data(), M, 0, M);
  for (int64_t i = 0; i < N * M; ++i)
    if (!(std::fabs(y[i] - ref[i]) <= 1e-4 * (std::fabs(ref[i]) + 1.0))) {
      state.SkipWithError("result differs from the generic table");
      return;
    }
  int64_t c = 0;
  for (auto _ : state) {
    // X is quantized in the loop too, as in ops::matmul (and in ggml's mul_mat).
    q::quantize_rows(qk, t, x.data(), K, N, K, xq.data());
    fn(w.data() + c * w_bytes, K, xq.data(), N, y.data(), M, 0, M);
    c = c + 1 < copies ? c + 1 : 0;
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(w_bytes) / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GOP/s"] =
      benchmark::Counter(2.0 * M * K * N / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void bm_qquant(benchmark::State& state, Isa isa, bool q8k, int64_t K) {
  namespace q = lc::ops::quant;
  const q::QuantKernels& qk = q::quant_kernels_for(isa);
  lc::AlignedBuffer<float> x(K);
  fill(x.data(), DType::F32, K, 3);
  const DType t = q8k ? DType::Q4_K : DType::Q4_0;
  lc::AlignedBuffer<uint8_t> out(static_cast<size_t>(q::x_row_bytes(t, K)));
  for (auto _ : state) {
    qk.quantize_for(t)(x.data(), K, out.data());
    benchmark::ClobberMemory();
  }
  state.counters["elems/s"] =
      benchmark::Counter(static_cast<double>(K), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512}) {
    if (lc::isa_supported(isa))
      isas.push_back(isa);
    else
      std::fprintf(stderr, "skipping ISA %s: not supported here\n", lc::isa_name(isa));
  }
  auto reg = [](const std::string& name, auto fn) {
    return benchmark::RegisterBenchmark(name.c_str(), fn)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  };
  for (DType t : {DType::F32, DType::BF16, DType::F16}) {
    const std::string d = lc::dtype_name(t);
    if (t == DType::F32 && lc::isa_supported(Isa::Avx2))
      reg("decode/f32/llama2c",
          [](benchmark::State& s) { bm_decode(s, Isa::Avx2, DType::F32, DecodeMode::Llama2c, 0); });
    for (Isa isa : isas) {
      const std::string base = "decode/" + d + "/" + lc::isa_name(isa);
      reg(base + "/plain",
          [=](benchmark::State& s) { bm_decode(s, isa, t, DecodeMode::Plain, 0); });
      if (isa == lc::selected_isa())
        reg(base + "/matmul",
            [=](benchmark::State& s) { bm_decode(s, isa, t, DecodeMode::Matmul, 0); });
      for (int mib : {0, 128, 192})
        reg(base + "/resident:" + std::to_string(mib),
            [=](benchmark::State& s) { bm_decode(s, isa, t, DecodeMode::Resident, mib); });
    }
  }
  for (DType t : {DType::F32, DType::BF16, DType::F16})
    for (Isa isa : isas)
      for (auto [M, K] : {std::pair<int64_t, int64_t>{kHidden, kDim}, {kDim, kHidden}})
        for (int64_t N : {16, 64, 256})
          reg("prefill/" + std::string(lc::dtype_name(t)) + "/" + lc::isa_name(isa) + "/" +
                  std::to_string(M) + "x" + std::to_string(K) + "/N:" + std::to_string(N),
              [=](benchmark::State& s) { bm_prefill(s, isa, t, M, K, N); })
              ->Unit(benchmark::kMicrosecond);
  // The matrices of based-360m's batched decode step (docs/perf/based_vs_llama.md (b), batch
  // 1348): fc1 [2h, d], fc2 [d, h], the classifier [vocab, d], on the best ISA only.
  for (DType t : {DType::F32, DType::BF16})
    for (auto [M, K] : {std::pair<int64_t, int64_t>{4096, 1024}, {1024, 2048}, {50257, 1024}})
      reg("prefill/" + std::string(lc::dtype_name(t)) + "/" + lc::isa_name(isas.back()) + "/" +
              std::to_string(M) + "x" + std::to_string(K) + "/N:1348",
          [=, isa = isas.back()](benchmark::State& s) { bm_prefill(s, isa, t, M, K, 1348); })
          ->Unit(benchmark::kMicrosecond);
  for (Isa isa : isas)
    for (const char* name : {"rmsnorm", "softmax", "silu_mul", "gelu_tanh_mul", "dot", "axpy"})
      for (int64_t n : {768, 32000})
        reg(std::string("kernel/") + name + "/" + lc::isa_name(isa) + "/" + std::to_string(n),
            [=](benchmark::State& s) { bm_kernel(s, isa, name, n); })
            ->Unit(benchmark::kMicrosecond);
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::IQ4_NL})
    for (Isa isa : isas)
      for (auto [M, K] : {std::pair<int64_t, int64_t>{576, 1536}, {1536, 576}})
        for (int64_t N : {1, 16, 64})
          for (bool cold : {false, true}) {
            if (cold && N == 64) continue;
            const std::string name = "qgemm/" + std::string(lc::dtype_name(t)) + "/" +
                                     lc::ops::quant::quant_kernels_for(isa).name + "/" +
                                     std::to_string(M) + "x" + std::to_string(K) +
                                     "/N:" + std::to_string(N) + (cold ? "/cold" : "");
            // One thread: CPU time, which other jobs on a shared machine disturb less.
            benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& s) {
              bm_qgemm(s, isa, t, M, K, N, cold);
            })->Unit(benchmark::kMicrosecond);
          }
  for (Isa isa : isas)
    for (bool q8k : {false, true})
      benchmark::RegisterBenchmark((std::string("qquant/") + (q8k ? "q8k/" : "q8x/") +
                                    lc::ops::quant::quant_kernels_for(isa).name + "/4096")
                                       .c_str(),
                                   [=](benchmark::State& s) { bm_qquant(s, isa, q8k, 4096); })
          ->Unit(benchmark::kMicrosecond);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
