// ISA-independent pieces of ops.h: RoPE angles and the threaded matmul driver.
#include <algorithm>
#include <atomic>
#include <cmath>

#include "core/aligned.h"
#include "core/thread_pool.h"
#include "ops/amx/amx.h"
#include "ops/ops.h"
#include "ops/quant/kernels.h"

namespace lc::ops {

void rope_angles(double pos, int64_t head_dim, double theta, float* cos, float* sin) {
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    double inv_freq =
        std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    double angle = std::fmod(pos * inv_freq, 2.0 * M_PI);
    cos[i] = static_cast<float>(std::cos(angle));
    sin[i] = static_cast<float>(std::sin(angle));
  }
}

namespace {

// The chunk of rows the threads take from a shared counter: about 6 chunks per thread, each a
// multiple of 16 rows (whole row tiles of every kernel; a grain of 64 left K and V of SmolLM2,
// 192 rows, in 3 chunks: 2 to 1 on two threads).
int64_t row_chunk(int64_t rows, int threads) {
  constexpr int64_t kGrain = 16;
  const int64_t target = (rows + 6 * threads - 1) / (6 * threads);
  return (target + kGrain - 1) / kGrain * kGrain;
}

// The rows of Y computed by calling fn for [m0, m1) ranges of W's rows.
template <class Fn>
void split_rows(ThreadPool& pool, const WeightView& W, int64_t N, Fn&& fn) {
  if (N == 1) {
    // Decode: a static split (16-row grain, a multiple of the kernels' row tiles) keeps each
    // thread on the same rows every token.
    pool.run_sized(W.rows * W.cols, [&](int t, int nt) {
      int64_t m0, m1;
      ThreadPool::split_range(W.rows, 16, t, nt, &m0, &m1);
      if (m0 < m1) fn(m0, m1);
    });
    return;
  }
  // Many rows (prefill, batched decode): the threads take chunks of W's rows from a shared
  // counter. The two cores of the dev VM do not run at the same speed (a static half left the
  // calling thread waiting 5.9% of a 2K BASED prefill; docs/perf/based_vs_llama.md, "follow-up
  // 2"), and each row of Y is the same sum whichever thread computes it, so the result does not
  // change.
  const int64_t chunk = row_chunk(W.rows, pool.size());
  std::atomic<int64_t> next{0};
  pool.run_sized(W.rows * W.cols * N, [&](int, int nt) {
    if (nt == 1) return fn(int64_t{0}, W.rows);
    for (;;) {
      const int64_t m0 = next.fetch_add(chunk, std::memory_order_relaxed);
      if (m0 >= W.rows) return;
      fn(m0, m0 + chunk < W.rows ? m0 + chunk : W.rows);
    }
  });
}

// Per-thread buffers for quantized (slots 0, 1) or AMX-packed (2) activations: they grow to the
// largest product seen and are then reused, so steady-state decode allocates nothing.
uint8_t* x_scratch(int slot, int64_t bytes) {
  thread_local AlignedBuffer<uint8_t> bufs[3];
  AlignedBuffer<uint8_t>& b = bufs[slot];
  if (static_cast<int64_t>(b.size()) < bytes) b.resize(static_cast<size_t>(bytes));
  return b.data();
}

// A W computed on AMX tiles (ops/amx/amx.h).
//  * bf16: every product -- prefill, few rows and decode -- so that a token's logits do not depend
//    on the path that computed them: each output is the same tile sum whatever the number of
//    rows of X. (Decode through the f32 kernel on X rounded to bf16 ran 5% faster, but summed in
//    another order, and a last-bit difference that moves a bf16 rounding of X moved SmolLM2's
//    logits by 1.4%.)
//  * f16: only the many-rows path of matmul (prefill blocks). Each block of W is split into two
//    bf16 parts per product, which costs as much as the tiles save unless many rows of X share
//    it (decode ran at 30 tok/s against the f32 kernel's 85); its result differs from the f32
//    kernels' by about 2^-15, the order of f32 summation differences, not bf16's 2^-8.
bool on_amx(const WeightView& w, bool many_rows) {
  if (!amx::takes(w.cols) || !(w.dtype == DType::BF16 || (w.dtype == DType::F16 && many_rows)))
    return false;
  return amx::enabled();
}

// X [N, K] packed for the AMX products into this thread's scratch slot 2: bf16(x) (amx::pack_x),
// followed, where an f16 W needs it, by the residual (amx::pack_x_split).
struct AmxX {
  const uint32_t* hi = nullptr;
  const uint32_t* lo = nullptr;
};
AmxX pack_for_amx(const float* X, int64_t N, int64_t K, bool split) {
  const int64_t bytes = amx::packed_x_bytes(N, K);
  auto* xp = reinterpret_cast<uint32_t*>(x_scratch(2, split ? 2 * bytes : bytes));
  if (!split) {
    amx::pack_x(X, K, N, K, xp);
    return {xp, nullptr};
  }
  amx::pack_x_split(X, K, N, K, xp, xp + bytes / 4);
  return {xp, xp + bytes / 4};
}

// X packed once for the jobs on AMX (all jobs share X; few rows or decode: bf16 only).
AmxX pack_for_amx_jobs(const MatmulJob* jobs, int n_jobs, const float* X, int64_t N) {
  for (int j = 0; j < n_jobs; ++j)
    if (on_amx(*jobs[j].w, false)) return pack_for_amx(X, N, jobs[j].w->cols, false);
  return AmxX{};
}

std::atomic<bool> g_bf16_activations{false};  // ops::activations_rounded_to_bf16()

void gemm_amx(const WeightView& w, const AmxX& x, int64_t N, float* y, int64_t m0, int64_t m1) {
  const auto* wd = static_cast<const uint16_t*>(w.data);
  if (w.dtype == DType::F16) {
    amx::gemm_f16(wd, w.cols, x.hi, x.lo, N, y, w.rows, m0, m1);
    return;
  }
  if (!g_bf16_activations.load(std::memory_order_relaxed))
    g_bf16_activations.store(true, std::memory_order_relaxed);
  amx::gemm_bf16(wd, w.cols, x.hi, N, y, w.rows, m0, m1);
}

// X quantized for W's type into a per-thread scratch slot (rows split over the pool).
const void* quantize_input(ThreadPool& pool, const quant::QuantKernels& qk, DType w, const float* X,
                           int64_t N, int64_t K, int slot) {
  const int64_t rb = quant::x_row_bytes(w, K);
  uint8_t* xq = x_scratch(slot, N * rb);
  const quant::QuantizeXFn f = qk.quantize_for(w);
  if (N == 1) {
    f(X, K, xq);
  } else {
    for_rows(pool, N, 4 * K, [&](int64_t n) { f(X + n * K, K, xq + n * rb); });
  }
  return xq;
}

// Few activation rows (batched decode): products this small lose more to their hand-offs than
// they gain from splitting the quantization, so there is one parallel section for all the jobs
// (Q, K and V; gate and up): each thread quantizes X itself into its own scratch (N x K of at
// most kFewRowsElems, a few microseconds), then takes chunks of 16 rows of the jobs' rows, in
// job order, from a shared counter. Every row is the same sum whichever thread computes it.
constexpr int64_t kFewRowsElems = 1 << 15;

bool few_rows(int64_t N, int64_t K) { return N > 1 && N * K <= kFewRowsElems; }

void matmul_few_rows(ThreadPool& pool, const MatmulJob* jobs, int n_jobs, const float* X,
                     int64_t N) {
  const KernelTable& kt = kernels();
  const quant::QuantKernels& qk = quant::quant_kernels();
  int64_t rows = 0, work = 0;
  for (int j = 0; j < n_jobs; ++j) {
    rows += jobs[j].w->rows;
    work += jobs[j].w->rows * jobs[j].w->cols * N;
  }
  const AmxX xp = pack_for_amx_jobs(jobs, n_jobs, X, N);
  const int64_t chunk = row_chunk(rows, pool.size());
  std::atomic<int64_t> next{0};
  pool.run_sized(work, [&](int, int) {
    const void* xq[2] = {nullptr, nullptr};  // [BlockQ8x rows, BlockQ8K rows], this thread's
    for (int j = 0; j < n_jobs; ++j) {
      const WeightView& w = *jobs[j].w;
      if (!dtype_quantized(w.dtype)) continue;
      const int slot = quant::uses_q8k(w.dtype) ? 1 : 0;
      if (xq[slot]) continue;
      const int64_t rb = quant::x_row_bytes(w.dtype, w.cols);
      uint8_t* q = x_scratch(slot, N * rb);
      for (int64_t n = 0; n < N; ++n) qk.quantize_for(w.dtype)(X + n * w.cols, w.cols, q + n * rb);
      xq[slot] = q;
    }
    auto run = [&](int j, int64_t m0, int64_t m1) {
      const WeightView& w = *jobs[j].w;
      if (dtype_quantized(w.dtype))
        qk.gemm[static_cast<int>(w.dtype)](w.data, w.cols, xq[quant::uses_q8k(w.dtype) ? 1 : 0], N,
                                           jobs[j].y, w.rows, m0, m1);
      else if (on_amx(w, false))
        gemm_amx(w, xp, N, jobs[j].y, m0, m1);
      else
        gemm_for(kt, w.dtype)(w.data, w.cols, X, w.cols, N, jobs[j].y, w.rows, m0, m1);
    };
    for (;;) {
      int64_t g0 = next.fetch_add(chunk, std::memory_order_relaxed);
      if (g0 >= rows) return;
      const int64_t g1 = std::min(rows, g0 + chunk);
      int64_t base = 0;  // the chunk, cut at the jobs' boundaries
      for (int j = 0; j < n_jobs && g0 < g1; ++j) {
        const int64_t r = jobs[j].w->rows;
        if (g0 < base + r) {
          const int64_t e = std::min(g1, base + r);
          run(j, g0 - base, e - base);
          g0 = e;
        }
        base += r;
      }
    }
  });
}

}  // namespace

bool activations_rounded_to_bf16() { return g_bf16_activations.load(std::memory_order_relaxed); }

void matmul(ThreadPool& pool, const WeightView& W, const float* X, int64_t N, float* Y) {
  if (few_rows(N, W.cols)) {
    const MatmulJob job{&W, Y};
    return matmul_few_rows(pool, &job, 1, X, N);
  }
  if (dtype_quantized(W.dtype)) {
    const quant::QuantKernels& qk = quant::quant_kernels();
    const void* xq = quantize_input(pool, qk, W.dtype, X, N, W.cols, 0);
    const quant::QGemmFn fn = qk.gemm[static_cast<int>(W.dtype)];
    split_rows(pool, W, N,
               [&](int64_t m0, int64_t m1) { fn(W.data, W.cols, xq, N, Y, W.rows, m0, m1); });
    return;
  }
  if (on_amx(W, N > 1)) {
    // X rounded to bf16 and packed once, on this thread (a few microseconds for 64 tokens).
    const AmxX xp = pack_for_amx(X, N, W.cols, W.dtype == DType::F16);
    split_rows(pool, W, N, [&](int64_t m0, int64_t m1) { gemm_amx(W, xp, N, Y, m0, m1); });
    return;
  }
  GemmFn fn = gemm_for(kernels(), W.dtype);
  split_rows(pool, W, N,
             [&](int64_t m0, int64_t m1) { fn(W.data, W.cols, X, W.cols, N, Y, W.rows, m0, m1); });
}

void matmul_shared(ThreadPool& pool, const MatmulJob* jobs, int n_jobs, const float* X, int64_t N) {
  bool few = N > 1;
  for (int j = 0; j < n_jobs; ++j) few = few && few_rows(N, jobs[j].w->cols);
  if (few) return matmul_few_rows(pool, jobs, n_jobs, X, N);
  if (N > 1) {
    // Many rows: each product is long enough to pay for its own hand-off, and matmul balances
    // the threads dynamically.
    for (int j = 0; j < n_jobs; ++j) matmul(pool, *jobs[j].w, X, N, jobs[j].y);
    return;
  }
  // Decode: X quantized once per activation format the jobs need, then one parallel section in
  // which each thread takes its slice of the rows of every matrix.
  const KernelTable& K = kernels();
  const quant::QuantKernels& qk = quant::quant_kernels();
  const void* xq[2] = {nullptr, nullptr};  // [BlockQ8x rows, BlockQ8K rows]
  int64_t work = 0;
  for (int j = 0; j < n_jobs; ++j) {
    const WeightView& w = *jobs[j].w;
    work += w.rows * w.cols;
    if (!dtype_quantized(w.dtype)) continue;
    const int slot = quant::uses_q8k(w.dtype) ? 1 : 0;
    if (!xq[slot]) xq[slot] = quantize_input(pool, qk, w.dtype, X, 1, w.cols, slot);
  }
  const AmxX xp = pack_for_amx_jobs(jobs, n_jobs, X, 1);
  pool.run_sized(work, [&](int t, int nt) {
    for (int j = 0; j < n_jobs; ++j) {
      const WeightView& w = *jobs[j].w;
      int64_t b, e;
      ThreadPool::split_range(w.rows, 16, t, nt, &b, &e);
      if (b >= e) continue;
      if (dtype_quantized(w.dtype))
        qk.gemm[static_cast<int>(w.dtype)](w.data, w.cols, xq[quant::uses_q8k(w.dtype) ? 1 : 0], 1,
                                           jobs[j].y, w.rows, b, e);
      else if (on_amx(w, false))
        gemm_amx(w, xp, 1, jobs[j].y, b, e);
      else
        gemm_for(K, w.dtype)(w.data, w.cols, X, w.cols, 1, jobs[j].y, w.rows, b, e);
    }
  });
}

// Experimental, not on matmul's path (KernelTable::gemm_xt_*): bench/kernel_lab and the tests.
void pack_xt(const float* X, int64_t ldx, int64_t N, int64_t K, int64_t block, float* xt) {
  // 16 columns of X at a time: each row's 16 values are one contiguous read, and the 16 rows of
  // the block they land in (16 x block floats) stay in L1 while n runs.
  constexpr int64_t kCols = 16;
  for (int64_t n0 = 0; n0 < N; n0 += block) {
    float* b = xt + n0 * K;
    const int64_t nl = std::min(block, N - n0);
    for (int64_t k0 = 0; k0 < K; k0 += kCols) {
      const int64_t kl = std::min(kCols, K - k0);
      for (int64_t n = 0; n < nl; ++n) {
        const float* x = X + (n0 + n) * ldx + k0;
        for (int64_t k = 0; k < kl; ++k) b[(k0 + k) * block + n] = x[k];
      }
      for (int64_t k = 0; k < kl; ++k)
        for (int64_t n = nl; n < block; ++n) b[(k0 + k) * block + n] = 0.0f;
    }
  }
}

}  // namespace lc::ops
