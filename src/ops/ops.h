// Model-agnostic math. Every kernel has a slow, obvious reference (reference.h); fast per-ISA
// versions live in kernels_{generic,avx2,avx512}.cc, all behind one dispatch table chosen at run
// time from cpuid (core/cpu.h), overridable with LONGCTX_ISA.
//
// Conventions: matrices are row-major. A weight matrix W is [M, K] (M output rows, K inputs),
// stored as f32, bf16, f16 (the GemmFn kernels here) or one of ggml's block-quantized types
// (ops/quant/kernels.h; reached through matmul); activations are always f32 at this interface
// and accumulation is always f32.
#pragma once
#include <cstdint>

#include "core/cpu.h"
#include "core/dtype.h"

namespace lc {
class ThreadPool;
}

namespace lc::ops {

// A non-owning view of a row-major [rows, cols] weight matrix (e.g. inside an mmap).
struct WeightView {
  DType dtype = DType::F32;
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  const void* row(int64_t r) const {
    return static_cast<const uint8_t*>(data) + r * dtype_bytes(dtype, cols);
  }
};

enum class RopeStyle : uint8_t {
  AdjacentPairs,  // rotates (x[2i], x[2i+1]) by angle pos*theta^(-2i/d): llama2.c, GGUF, Meta
  RotateHalf,     // rotates (x[i], x[i+d/2]) by the same angle: Hugging Face
};

// Y[n, m] = sum_k X[n*ldx + k] * W[m, k] for n in [0, N), m in [m0, m1); Y row stride ldy.
// W has K columns. Rows outside [m0, m1) of Y are not touched (so threads can split M).
using GemmFn = void (*)(const void* W, int64_t K, const float* X, int64_t ldx, int64_t N, float* Y,
                        int64_t ldy, int64_t m0, int64_t m1);

// Y[n, m] as GemmFn, with X given as xt (KernelTable::gemm_xt_*, pack_xt) and Y's row stride ldy.
using GemmXtFn = void (*)(const void* W, int64_t K, const float* xt, int64_t N, float* Y,
                          int64_t ldy, int64_t m0, int64_t m1);

// C[m*ldc + k] += sum_n A[n*lda + m] * B[n*ldb + k] for m in [m0, m1), k < K, n < N: a linear
// layer's weight gradient dW += dY^T X with dY and X read as stored. Each element's sum runs over
// n in ascending order inside blocks of kGemmTnBlock rows, and the blocks' sums are added to C in
// order, so the result does not depend on how threads split [m0, m1) (kernels_gemm_tn.h).
using GemmTnFn = void (*)(const float* A, int64_t lda, const float* B, int64_t ldb, int64_t N,
                          int64_t K, float* C, int64_t ldc, int64_t m0, int64_t m1);
constexpr int64_t kGemmTnBlock = 128;

// out[r*ldo + d] = sum_j p[r*ldp + j] * v[j*ldv + d] for r < n_rows, d < d_cols, j < n_keys:
// the value pass of attention (probabilities times the value rows), overwriting out. v holds
// elements of the kernel's type (f32, bf16 or f16); ldv counts elements.
using WeightedSumFn = void (*)(const float* p, int64_t ldp, int64_t n_rows, const void* v,
                               int64_t ldv, int64_t n_keys, int64_t d_cols, float* out,
                               int64_t ldo);

// Flash attention (attention/flash.h), one tile: a block of m query vectors against nk <=
// kFlashKeys keys, with the query index along the vector lanes. Arrays indexed by query have a row
// stride of ldm floats (m rounded up to the lanes, <= KernelTable::flash_max_m; lanes past m are
// computed and ignored). The tile updates each query's running softmax state:
//   s[j][i] = <q_i, k_j> + bias[j * ldm + i]   (bias nullptr: none; -inf masks a key)
//   mx' = max(mx, max_j s), alpha = exp(mx - mx'), p = exp(s - mx'),
//   l' = alpha * l + sum_j p,  ot'[d][i] = alpha * ot[d][i] + sum_j p_j * v_j[d].
// mx starts at kFlashStart (finite, below any score, so a query whose keys are all masked so far
// keeps alpha = 1 and p = 0), l and ot at 0; the output is ot / l.
constexpr int64_t kFlashKeys = 32;
constexpr int64_t kFlashMaxM = 64;  // the widest flash_max_m of any ISA (scratch sizing)
constexpr float kFlashStart = -1e30f;
struct FlashTile {
  const float* qt;      // [hd][ldm] queries (already scaled by 1/sqrt(hd))
  int64_t ldm, hd, nk;  //
  const void* k;        // [nk][hd] key rows of type kt (f32, bf16 or f16)
  const void* v;        // [nk][hd] value rows of type vt (f32, bf16 or f16)
  DType kt, vt;
  const float* bias;  // [nk][ldm] or nullptr
  float* mx;          // [ldm]
  float* l;           // [ldm]
  float* ot;          // [hd][ldm]
  // flash_work_floats(hd) floats: the scores [kFlashKeys][kFlashMaxM], then f32 key and value
  // rows [kFlashKeys][hd] each (converted there when kt / vt is not f32). A caller may stage f32
  // rows in those two parts itself and pass them as k / v with type f32.
  float* work;
};
constexpr int64_t flash_work_floats(int64_t hd) { return kFlashKeys * (kFlashMaxM + 2 * hd); }
inline float* flash_work_keys(float* work) { return work + kFlashKeys * kFlashMaxM; }
inline float* flash_work_values(float* work, int64_t hd) {
  return flash_work_keys(work) + kFlashKeys * hd;
}

struct KernelTable {
  Isa isa;
  GemmFn gemm_f32;
  GemmFn gemm_bf16;
  GemmFn gemm_f16;
  // y = x / sqrt(mean(x^2) + eps) * w, length n. y may alias x.
  void (*rmsnorm)(const float* x, const float* w, float* y, int64_t n, float eps);
  // In-place numerically stable softmax over n values (n >= 1).
  void (*softmax)(float* x, int64_t n);
  // a[i] = silu(a[i]) * b[i]  (the SwiGLU gate), silu(x) = x / (1 + exp(-x)).
  void (*silu_mul)(float* a, const float* b, int64_t n);
  // a[i] = gelu_tanh(a[i]) * b[i]  (the GeGLU gate, Gemma), with the tanh approximation of GELU
  // (torch's approximate='tanh', gelu_pytorch_tanh): gelu_tanh(x) = x/2 * (1 + tanh(u)),
  // u = sqrt(2/pi) * (x + 0.044715 x^3).
  void (*gelu_tanh_mul)(float* a, const float* b, int64_t n);
  // sum_i a[i] * b[i]
  float (*dot)(const float* a, const float* b, int64_t n);
  // y[i] += alpha * x[i]
  void (*axpy)(float alpha, const float* x, float* y, int64_t n);
  // Rotates n_heads consecutive heads of x (each head_dim floats) by the angles whose cosines and
  // sines are given (head_dim/2 each, from rope_angles()).
  void (*rope)(float* x, int64_t n_heads, int64_t head_dim, const float* cos, const float* sin,
               RopeStyle style);
  // The attention value pass (WeightedSumFn) over f32 value rows.
  WeightedSumFn weighted_sum;
  // EXPERIMENTAL, not for the default path. Same results as gemm_* (bit for bit); for N == 1
  // they read W with non-temporal prefetches (prefetchnta), whose lines are not kept in L2/L3, so
  // that a model larger than L3 could stream its excess weights without evicting the part meant
  // to stay L3-resident across tokens. Measured on the dev machine (2-vCPU Sapphire Rapids VM,
  // bench/ops_bench decode/*/resident:*): a loss -- NTA lines are limited by the L1 fill buffers
  // (~8 GB/s per core vs ~15 GB/s for the plain prefetched stream) and the shared L3 served no
  // faster than DRAM. Only worth trying where L3 is private and fast; re-measure first.
  // For N > 1 identical to gemm_*.
  GemmFn gemm_f32_nt;
  GemmFn gemm_bf16_nt;
  GemmFn gemm_f16_nt;
  // weighted_sum with bf16 / f16 value rows (a KV cache of that type), converted as loaded.
  WeightedSumFn weighted_sum_bf16;
  WeightedSumFn weighted_sum_f16;
  // A q8_0 KV cache read in place (head_dim hd a multiple of 32, rows of hd/32 blocks; each
  // value is scaled by its block's fp16 scale as it is loaded):
  // scores[h * ld + j] = <q_h, key_j> for h < group, j < n (q: [group, hd]), and the value pass
  // out[r * ldo + d] = sum_j p[r * ldp + j] * value_j[d] (overwrites out; zeros for n_keys 0).
  void (*q8_scores)(const void* keys, int64_t hd, const float* q, int64_t group, float* scores,
                    int64_t ld, int64_t n);
  void (*q8_weighted_sum)(const float* p, int64_t ldp, int64_t n_rows, const void* v, int64_t hd,
                          int64_t n_keys, float* out, int64_t ldo);
  // The 4-bit KV cache (attention/kivi.h): scores of the query heads h < group against keys
  // [j0, j1) of one KIVI key group (32 keys quantized per channel: hd fp16 scales, hd fp16
  // minimums, 16 bytes of levels per channel):
  // scores[h * ld + j - j0] = <q_h, key_j>; and the value pass over Q4_1 value rows (one row per
  // token, hd a multiple of 32), as q8_weighted_sum.
  void (*kivi_scores)(const void* grp, int64_t hd, const float* q, int64_t group, int64_t j0,
                      int64_t j1, float* scores, int64_t ld);
  void (*q4_weighted_sum)(const float* p, int64_t ldp, int64_t n_rows, const void* v, int64_t hd,
                          int64_t n_keys, float* out, int64_t ldo);
  // One flash-attention tile (FlashTile); ldm is a multiple of flash_lanes, at most flash_max_m.
  void (*flash_tile)(const FlashTile& t);
  int64_t flash_lanes;
  int64_t flash_max_m;
  // EXPERIMENTAL, not on matmul's path. Prefill products over transposed activations
  // (kernels_gemm_xt.h), nullptr where the ISA has none (generic). xt holds X in blocks of
  // xt_block rows, block b a [K][xt_block] array at xt + b * K * xt_block (lanes past N zero);
  // pack_xt writes it. Measured (docs/perf/prefill.md, "GEMM over transposed activations"):
  // 1.1-1.45x the gemm_* kernels in bench/kernel_lab with W in cache, but no faster in a SmolLM2
  // f32 prefill (W streamed from memory), so matmul keeps gemm_*.
  GemmXtFn gemm_xt_f32;
  GemmXtFn gemm_xt_bf16;
  GemmXtFn gemm_xt_f16;
  int64_t xt_block;
  // The weight gradient (GemmTnFn); the trainer's linear_backward.
  GemmTnFn gemm_tn;
  // flash_tile's score pass alone: s[j * ldm + i] = sum_d k_j[d] * qt[d * ldm + i] for nk <=
  // kFlashKeys key rows of type kt (f32, bf16, f16; converted into flash_work_keys(work)), lanes
  // i < ldm (a multiple of flash_lanes, <= flash_max_m). For the top-k middle keys (flash.cc).
  void (*flash_scores)(const float* qt, int64_t ldm, int64_t hd, const void* k, DType kt,
                       int64_t nk, float* s, float* work);
};

// xt (KernelTable::gemm_xt_*) from X[N, K] (row stride ldx): ceil(N / block) * K * block floats.
void pack_xt(const float* X, int64_t ldx, int64_t N, int64_t K, int64_t block, float* xt);

// The table for the selected ISA (computed once; thread-safe).
const KernelTable& kernels();
// The table for a given ISA; only call with isa_supported(isa).
const KernelTable& kernels_for(Isa isa);

// The kernel for a plain (f32/bf16/f16) weight type; stream_nt picks the experimental
// gemm_*_nt kernels (see KernelTable). Quantized types go through matmul.
inline GemmFn gemm_for(const KernelTable& k, DType t, bool stream_nt = false) {
  if (stream_nt) {
    return t == DType::F32 ? k.gemm_f32_nt : t == DType::BF16 ? k.gemm_bf16_nt : k.gemm_f16_nt;
  }
  return t == DType::F32 ? k.gemm_f32 : t == DType::BF16 ? k.gemm_bf16 : k.gemm_f16;
}

// The experimental transposed-activation kernel for a plain weight type (nullptr where the table
// has none).
inline GemmXtFn gemm_xt_for(const KernelTable& k, DType t) {
  return t == DType::F32 ? k.gemm_xt_f32 : t == DType::BF16 ? k.gemm_xt_bf16 : k.gemm_xt_f16;
}

// cos/sin of pos * theta^(-2i/head_dim), i in [0, head_dim/2), computed in double precision so
// that positions beyond 10^8 stay exact to float rounding.
void rope_angles(double pos, int64_t head_dim, double theta, float* cos, float* sin);

// LayerNorm without bias (MPT's no_bias): y = (x - mean(x)) / sqrt(var(x) + eps) * w.
void layernorm(const float* x, const float* w, float* y, int64_t n, float eps);
// Exact GELU in place: x * Phi(x) = x/2 * (1 + erf(x / sqrt(2))) (torch's approximate='none').
void gelu(float* x, int64_t n);

// Threaded Y[N, W.rows] = X[N, W.cols] * W^T, splitting the rows of W across the pool. For a
// quantized W, each row of X is quantized once (into a per-thread buffer that only grows). Where
// the CPU has AMX (ops/amx/amx.h, with the error bounds), every product of a bf16 W (here and in
// matmul_shared; X rounded to bf16) and the many-rows products of an f16 W run on its tiles.
void matmul(ThreadPool& pool, const WeightView& W, const float* X, int64_t N, float* Y);

// Whether any product in this process so far rounded its activations to bf16 (a bf16 W on AMX).
// Such a model's logits move by up to a few percent between paths that differ only in the order
// of f32 sums (a last-bit difference moves a bf16 rounding of X), so correctness checks between
// such paths (eval/bench.cc) need a wider tolerance.
bool activations_rounded_to_bf16();

// One of several products that share their input X.
struct MatmulJob {
  const WeightView* w;
  float* y;
};
// Y_j = X W_j^T for every job. Decode (N == 1): X is quantized once per activation format and
// one parallel section covers all jobs (one synchronisation instead of one per matrix).
void matmul_shared(ThreadPool& pool, const MatmulJob* jobs, int n_jobs, const float* X, int64_t N);

}  // namespace lc::ops
