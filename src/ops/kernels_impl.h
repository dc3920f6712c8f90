// The bodies of every kernel in ops.h, written once against a tiny vector wrapper `V` and
// instantiated per instruction set by kernels_{generic,avx2,avx512}.cc (CTranslate2 style).
//
// Rules that keep this safe to include from translation units compiled with different -m flags:
//  * everything here is a template on V, and each ISA defines its V in an anonymous namespace, so
//    every instantiation has internal linkage and the linker can never pick, say, the AVX-512
//    copy of a function for a generic caller;
//  * no inline non-template functions and no std:: algorithm templates (std::min etc. would be
//    emitted as shared COMDATs compiled with whichever flags came first).
//
// What V must provide (F is its float vector type, kLanes its width):
//   zero, set1, load/load_n (float, Bf16, Fp16 sources; load also Int8, NibLo, NibHi; load_n reads
//   n < kLanes elements and zero-fills), store/store_n, add, sub, mul, div, min, max, fmadd(a, b,
//   c) = a*b + c, round (to nearest integer), pow2i (2^n for an integral vector n in [-127, 127];
//   -127 -> 0), half (one IEEE fp16 value to float), reduce (sum of lanes), reduce_max, reduce4(a,
//   b, c, d, out) (out[i] = sum of lanes of the i-th argument), kGemmRN (X rows per prefill
//   micro-tile; limited by the register count), kFlashChunks (query vectors per flash tile,
//   kernels_flash.h), kFlashOutlined (whether the flash tile's passes are called out of line),
//   kXtRows and kXtChunks (gemm_xt's micro-kernel, kernels_gemm_xt.h; kXtChunks 0: none).
//
// The flash-attention tile is in kernels_flash.h, and the table of every kernel in
// kernels_table.h, which the per-ISA files include.
#pragma once
#include <cstdint>
#include <type_traits>

#include "core/dtype.h"
#include "ops/ops.h"

namespace lc::ops::impl {

// Tags for 16-bit weight element types so that V can overload its loads on them.
struct Bf16 {
  uint16_t bits;
};
struct Fp16 {
  uint16_t bits;
};
// Signed 8-bit elements (the quants of a Q8_0 block), converted to float as loaded.
struct Int8 {
  int8_t v;
};
// Unsigned 4-bit elements packed two per byte (ggml's Q4 blocks: element t < 16 in the low nibble
// of byte t, element t + 16 in its high nibble); a load reads kLanes bytes and takes one nibble of
// each.
struct NibLo {
  uint8_t b;
};
struct NibHi {
  uint8_t b;
};

template <typename T>
constexpr T imin(T a, T b) {
  return a < b ? a : b;
}

// ------------------------------------------------------------------------------------------
// Element-wise kernels and reductions.

// exp(x) after Cephes expf: x = n*ln2 + r with |r| <= ln2/2, exp(r) by a degree-6 polynomial
// (relative error ~2 ulp), 2^n built in the exponent bits. Inputs are clamped to [-88, 88]: below
// -87.68 the result is 0 (exact for -inf, used by masked softmax), above 88 it is exp(88) ~ 1.65e38
// rather than overflowing -- harmless for softmax (arguments <= 0) and silu (exp(-a) for a < -88
// only scales an already ~0 output).
template <class V>
typename V::F vexp(typename V::F x) {
  using F = typename V::F;
  x = V::min(V::max(x, V::set1(-88.0f)), V::set1(88.0f));
  F n = V::round(V::mul(x, V::set1(1.44269504088896341f)));
  // Two-constant Cody-Waite reduction keeps r accurate: C1 has few mantissa bits, so n*C1 is exact.
  F r = V::fmadd(n, V::set1(-0.693359375f), x);
  r = V::fmadd(n, V::set1(2.12194440e-4f), r);
  F p = V::set1(1.9875691500e-4f);
  p = V::fmadd(p, r, V::set1(1.3981999507e-3f));
  p = V::fmadd(p, r, V::set1(8.3334519073e-3f));
  p = V::fmadd(p, r, V::set1(4.1665795894e-2f));
  p = V::fmadd(p, r, V::set1(1.6666665459e-1f));
  p = V::fmadd(p, r, V::set1(5.0000001201e-1f));
  p = V::fmadd(p, V::mul(r, r), V::add(r, V::set1(1.0f)));
  return V::mul(p, V::pow2i(n));
}

template <class V>
float dot(const float* a, const float* b, int64_t n) {
  constexpr int64_t L = V::kLanes;
  // Four independent accumulators hide the FMA latency.
  typename V::F s0 = V::zero(), s1 = V::zero(), s2 = V::zero(), s3 = V::zero();
  int64_t i = 0;
  for (; i + 4 * L <= n; i += 4 * L) {
    s0 = V::fmadd(V::load(a + i), V::load(b + i), s0);
    s1 = V::fmadd(V::load(a + i + L), V::load(b + i + L), s1);
    s2 = V::fmadd(V::load(a + i + 2 * L), V::load(b + i + 2 * L), s2);
    s3 = V::fmadd(V::load(a + i + 3 * L), V::load(b + i + 3 * L), s3);
  }
  for (; i + L <= n; i += L) s0 = V::fmadd(V::load(a + i), V::load(b + i), s0);
  if (i < n) {
    int r = static_cast<int>(n - i);
    s1 = V::fmadd(V::load_n(a + i, r), V::load_n(b + i, r), s1);
  }
  return V::reduce(V::add(V::add(s0, s1), V::add(s2, s3)));
}

template <class V>
void axpy(float alpha, const float* x, float* y, int64_t n) {
  constexpr int64_t L = V::kLanes;
  typename V::F a = V::set1(alpha);
  int64_t i = 0;
  for (; i + L <= n; i += L) V::store(y + i, V::fmadd(a, V::load(x + i), V::load(y + i)));
  if (i < n) {
    int r = static_cast<int>(n - i);
    V::store_n(y + i, V::fmadd(a, V::load_n(x + i, r), V::load_n(y + i, r)), r);
  }
}

template <class V>
void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  if (n <= 0) return;
  float ss = dot<V>(x, x, n);
  // Scale in float: mean(x^2) is accumulated in f32 like every other reduction here.
  typename V::F scale = V::set1(1.0f / __builtin_sqrtf(ss / static_cast<float>(n) + eps));
  constexpr int64_t L = V::kLanes;
  int64_t i = 0;
  for (; i + L <= n; i += L) V::store(y + i, V::mul(V::mul(V::load(x + i), scale), V::load(w + i)));
  if (i < n) {
    int r = static_cast<int>(n - i);
    V::store_n(y + i, V::mul(V::mul(V::load_n(x + i, r), scale), V::load_n(w + i, r)), r);
  }
}

template <class V>
void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  using F = typename V::F;
  constexpr int64_t L = V::kLanes;
  // Pass 1: max. The partial tail is padded with x[0] so that it cannot win spuriously.
  F mx = V::set1(x[0]);
  int64_t i = 0;
  for (; i + L <= n; i += L) mx = V::max(mx, V::load(x + i));
  for (int64_t j = i; j < n; ++j) mx = V::max(mx, V::set1(x[j]));
  F m = V::set1(V::reduce_max(mx));
  // Pass 2: exponentiate in place and sum. Pass 3: normalise.
  F sum = V::zero();
  for (i = 0; i + L <= n; i += L) {
    F e = vexp<V>(V::sub(V::load(x + i), m));
    V::store(x + i, e);
    sum = V::add(sum, e);
  }
  if (i < n) {
    int r = static_cast<int>(n - i);
    // load_n zero-fills, and exp(0 - m) would add junk: store only r lanes, sum the stored values.
    F e = vexp<V>(V::sub(V::load_n(x + i, r), m));
    V::store_n(x + i, e, r);
    sum = V::add(sum, V::load_n(x + i, r));
  }
  F inv = V::set1(1.0f / V::reduce(sum));
  for (i = 0; i + L <= n; i += L) V::store(x + i, V::mul(V::load(x + i), inv));
  if (i < n) {
    int r = static_cast<int>(n - i);
    V::store_n(x + i, V::mul(V::load_n(x + i, r), inv), r);
  }
}

template <class V>
void silu_mul(float* a, const float* b, int64_t n) {
  using F = typename V::F;
  constexpr int64_t L = V::kLanes;
  auto f = [](F av, F bv) {
    F one = V::set1(1.0f);
    F e = vexp<V>(V::sub(V::zero(), av));
    return V::mul(V::div(av, V::add(one, e)), bv);
  };
  int64_t i = 0;
  for (; i + L <= n; i += L) V::store(a + i, f(V::load(a + i), V::load(b + i)));
  if (i < n) {
    int r = static_cast<int>(n - i);
    V::store_n(a + i, f(V::load_n(a + i, r), V::load_n(b + i, r)), r);
  }
}

// GeGLU gate with tanh-approximate GELU. x/2 * (1 + tanh(u)) == x * sigmoid(2u) == x / (1 +
// exp(-2u)) exactly, so one vexp serves (no tanh): for x -> -inf exp clamps and the result is ~0,
// for x -> +inf exp(-2u) -> 0 and the result is x.
template <class V>
void gelu_tanh_mul(float* a, const float* b, int64_t n) {
  using F = typename V::F;
  constexpr int64_t L = V::kLanes;
  auto f = [](F av, F bv) {
    // -2u = x * (-2 sqrt(2/pi) - 2 * 0.044715 sqrt(2/pi) x^2)
    F x2 = V::mul(av, av);
    F m2u = V::mul(av, V::fmadd(x2, V::set1(-0.0713548162726f), V::set1(-1.5957691216057f)));
    F e = vexp<V>(m2u);
    return V::mul(V::div(av, V::add(V::set1(1.0f), e)), bv);
  };
  int64_t i = 0;
  for (; i + L <= n; i += L) V::store(a + i, f(V::load(a + i), V::load(b + i)));
  if (i < n) {
    int r = static_cast<int>(n - i);
    V::store_n(a + i, f(V::load_n(a + i, r), V::load_n(b + i, r)), r);
  }
}

// RoPE (Su et al. 2021, eq. 34). RotateHalf pairs are contiguous halves, so they vectorise
// directly; AdjacentPairs interleave, and at O(head_dim) per head per token the scalar loop is
// not worth a shuffle-based version.
template <class V>
void rope(float* x, int64_t n_heads, int64_t head_dim, const float* cos, const float* sin,
          RopeStyle style) {
  const int64_t half = head_dim / 2;
  constexpr int64_t L = V::kLanes;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* v = x + h * head_dim;
    if (style == RopeStyle::AdjacentPairs) {
      for (int64_t i = 0; i < half; ++i) {
        float x0 = v[2 * i], x1 = v[2 * i + 1];
        v[2 * i] = x0 * cos[i] - x1 * sin[i];
        v[2 * i + 1] = x0 * sin[i] + x1 * cos[i];
      }
      continue;
    }
    float* lo = v;
    float* hi = v + half;
    auto rot = [&](int64_t i, int r) {
      auto ld = [&](const float* p) { return r == L ? V::load(p) : V::load_n(p, r); };
      auto st = [&](float* p, typename V::F val) {
        if (r == L)
          V::store(p, val);
        else
          V::store_n(p, val, r);
      };
      typename V::F c = ld(cos + i), s = ld(sin + i), x0 = ld(lo + i), x1 = ld(hi + i);
      st(lo + i, V::sub(V::mul(x0, c), V::mul(x1, s)));
      st(hi + i, V::fmadd(x0, s, V::mul(x1, c)));
    };
    int64_t i = 0;
    for (; i + L <= half; i += L) rot(i, static_cast<int>(L));
    if (i < half) rot(i, static_cast<int>(half - i));
  }
}

// ------------------------------------------------------------------------------------------
// Decode: matrix-vector product (N == 1), memory-bound.
//
// Four rows at a time, two vectors of K per row per step (8 independent accumulators), one
// reduce4 per 4 rows. Each row is its own sequential stream; we software-prefetch every stream
// kPrefetchBytes ahead, and past the end of a row we prefetch the start of the same row of the
// next 4-row group (which is where that stream continues), so no stream starts cold.
// kNT selects prefetchnta: those lines bypass L2/L3 (non-inclusive L3), so weights read that
// way do not evict the weights that are meant to stay resident in L3 across tokens.
constexpr int64_t kPrefetchBytes = 1024;

template <bool kNT>
inline void prefetch(const void* p) {
  if constexpr (kNT)
    __builtin_prefetch(p, 0, 0);
  else
    __builtin_prefetch(p, 0, 3);
}

template <class V, class WT, bool kNT>
void gemv(const WT* W, int64_t K, const float* x, float* y, int64_t m0, int64_t m1) {
  using F = typename V::F;
  constexpr int64_t L = V::kLanes;
  constexpr int64_t kStepBytes = 2 * L * static_cast<int64_t>(sizeof(WT));
  constexpr int64_t kPfElems = kPrefetchBytes / static_cast<int64_t>(sizeof(WT));
  const int64_t row_bytes = K * static_cast<int64_t>(sizeof(WT));
  int64_t m = m0;
  for (; m + 4 <= m1; m += 4) {
    const WT* w0 = W + m * K;
    const bool has_next = m + 8 <= m1;
    F a00 = V::zero(), a01 = V::zero(), a10 = V::zero(), a11 = V::zero();
    F a20 = V::zero(), a21 = V::zero(), a30 = V::zero(), a31 = V::zero();
    int64_t k = 0;
    for (; k + 2 * L <= K; k += 2 * L) {
      const char* pf = nullptr;
      if (k + kPfElems < K)
        pf = reinterpret_cast<const char*>(w0 + k + kPfElems);
      else if (has_next)
        pf = reinterpret_cast<const char*>(w0 + k + kPfElems + 3 * K);
      if (pf) {
        for (int64_t b = 0; b < kStepBytes; b += 64)
          for (int r = 0; r < 4; ++r) prefetch<kNT>(pf + r * row_bytes + b);
      }
      F x0 = V::load(x + k), x1 = V::load(x + k + L);
      a00 = V::fmadd(V::load(w0 + k), x0, a00);
      a01 = V::fmadd(V::load(w0 + k + L), x1, a01);
      a10 = V::fmadd(V::load(w0 + K + k), x0, a10);
      a11 = V::fmadd(V::load(w0 + K + k + L), x1, a11);
      a20 = V::fmadd(V::load(w0 + 2 * K + k), x0, a20);
      a21 = V::fmadd(V::load(w0 + 2 * K + k + L), x1, a21);
      a30 = V::fmadd(V::load(w0 + 3 * K + k), x0, a30);
      a31 = V::fmadd(V::load(w0 + 3 * K + k + L), x1, a31);
    }
    for (; k < K; k += L) {
      int r = static_cast<int>(imin<int64_t>(L, K - k));
      F x0 = r == L ? V::load(x + k) : V::load_n(x + k, r);
      auto ld = [&](const WT* p) { return r == L ? V::load(p) : V::load_n(p, r); };
      a00 = V::fmadd(ld(w0 + k), x0, a00);
      a10 = V::fmadd(ld(w0 + K + k), x0, a10);
      a20 = V::fmadd(ld(w0 + 2 * K + k), x0, a20);
      a30 = V::fmadd(ld(w0 + 3 * K + k), x0, a30);
    }
    V::reduce4(V::add(a00, a01), V::add(a10, a11), V::add(a20, a21), V::add(a30, a31), y + m);
  }
  for (; m < m1; ++m) {
    const WT* w = W + m * K;
    F a0 = V::zero(), a1 = V::zero();
    int64_t k = 0;
    for (; k + 2 * L <= K; k += 2 * L) {
      if (k + kPfElems < K) prefetch<kNT>(w + k + kPfElems);
      a0 = V::fmadd(V::load(w + k), V::load(x + k), a0);
      a1 = V::fmadd(V::load(w + k + L), V::load(x + k + L), a1);
    }
    for (; k < K; k += L) {
      int r = static_cast<int>(imin<int64_t>(L, K - k));
      if (r == L)
        a0 = V::fmadd(V::load(w + k), V::load(x + k), a0);
      else
        a0 = V::fmadd(V::load_n(w + k, r), V::load_n(x + k, r), a0);
    }
    y[m] = V::reduce(V::add(a0, a1));
  }
}

// ------------------------------------------------------------------------------------------
// Prefill: N > 1, compute-bound.
//
// Micro-tile: 4 rows of W x RN rows of X, both contiguous along K, 4*RN vector accumulators
// (AVX-512: 24 accumulators + 6 X + 1 W = 31 of 32 registers). Each W vector feeds RN FMAs and
// each X vector 4, so loads stay below FMAs; one reduce4 per X row turns the 4 accumulators into
// the 4 consecutive outputs Y[n, m..m+4). Loop nest (outer to inner): N blocks of kNb rows (their
// K-block of X stays in L2), 4-row groups of W, K blocks of kKb (a converted bf16/f16 W tile,
// 4 x kKb floats = 16 KiB, lives on the stack and in L1), then the micro-tiles along N, which
// reuse that W tile from L1. Partial sums over K blocks accumulate in Y.
constexpr int64_t kKb = 1024;

template <class V, int RN>
inline void micro_tile(const float* const* w, const float* x, int64_t ldx, int64_t K,
                       float (*out)[4]) {
  using F = typename V::F;
  constexpr int64_t L = V::kLanes;
  F acc[4][RN];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < RN; ++j) acc[i][j] = V::zero();
  int64_t k = 0;
  for (; k + L <= K; k += L) {
    F xv[RN];
    for (int j = 0; j < RN; ++j) xv[j] = V::load(x + j * ldx + k);
    for (int i = 0; i < 4; ++i) {
      F wv = V::load(w[i] + k);
      for (int j = 0; j < RN; ++j) acc[i][j] = V::fmadd(wv, xv[j], acc[i][j]);
    }
  }
  if (k < K) {
    int r = static_cast<int>(K - k);
    F xv[RN];
    for (int j = 0; j < RN; ++j) xv[j] = V::load_n(x + j * ldx + k, r);
    for (int i = 0; i < 4; ++i) {
      F wv = V::load_n(w[i] + k, r);
      for (int j = 0; j < RN; ++j) acc[i][j] = V::fmadd(wv, xv[j], acc[i][j]);
    }
  }
  for (int j = 0; j < RN; ++j) V::reduce4(acc[0][j], acc[1][j], acc[2][j], acc[3][j], out[j]);
}

// Runs the micro-tile for the last `rn` (< RN) rows of an N block: picks the instantiation.
template <class V, int RN>
inline void micro_tile_tail(int rn, const float* const* w, const float* x, int64_t ldx, int64_t K,
                            float (*out)[4]) {
  if constexpr (RN > 1) {
    if (rn == RN - 1) return micro_tile<V, RN - 1>(w, x, ldx, K, out);
    return micro_tile_tail<V, RN - 1>(rn, w, x, ldx, K, out);
  }
}

template <class V, class WT>
void gemm_tiled(const WT* W, int64_t K, const float* X, int64_t ldx, int64_t N, float* Y,
                int64_t ldy, int64_t m0, int64_t m1) {
  constexpr int RN = V::kGemmRN;
  constexpr int64_t kNb = RN * 20;
  constexpr bool kConvert = !std::is_same_v<WT, float>;
  // f32 weights are used in place; a bf16/f16 W tile is converted once per (group, K block) and
  // then reused by every micro-tile along N.
  alignas(64) float wbuf[kConvert ? 4 * kKb : 1];
  float out[RN][4];
  for (int64_t nb = 0; nb < N; nb += kNb) {
    const int64_t ne = imin(N, nb + kNb);
    for (int64_t m = m0; m < m1; m += 4) {
      const int rows = static_cast<int>(imin<int64_t>(4, m1 - m));
      for (int64_t k0 = 0; k0 < K; k0 += kKb) {
        const int64_t kl = imin(kKb, K - k0);
        const float* w[4];
        for (int i = 0; i < 4; ++i) {
          // Rows past m1 repeat the last valid row; their results are discarded.
          const WT* src = W + (m + imin(i, rows - 1)) * K + k0;
          if constexpr (kConvert) {
            float* dst = wbuf + i * kKb;
            if (i < rows) {
              int64_t k = 0;
              for (; k + V::kLanes <= kl; k += V::kLanes) V::store(dst + k, V::load(src + k));
              if (k < kl) {
                int r = static_cast<int>(kl - k);
                V::store_n(dst + k, V::load_n(src + k, r), r);
              }
            }
            w[i] = i < rows ? dst : w[rows - 1];
          } else {
            w[i] = src;
          }
        }
        auto emit = [&](int64_t n, int rn) {
          for (int j = 0; j < rn; ++j) {
            float* yr = Y + (n + j) * ldy + m;
            for (int i = 0; i < rows; ++i) yr[i] = k0 == 0 ? out[j][i] : yr[i] + out[j][i];
          }
        };
        int64_t n = nb;
        for (; n + RN <= ne; n += RN) {
          micro_tile<V, RN>(w, X + n * ldx + k0, ldx, kl, out);
          emit(n, RN);
        }
        if (n < ne) {
          int rn = static_cast<int>(ne - n);
          micro_tile_tail<V, RN>(rn, w, X + n * ldx + k0, ldx, kl, out);
          emit(n, rn);
        }
      }
    }
  }
}

template <class V, class WT, bool kNT>
void gemm(const void* W, int64_t K, const float* X, int64_t ldx, int64_t N, float* Y, int64_t ldy,
          int64_t m0, int64_t m1) {
  if (N <= 0 || m1 <= m0) return;
  const WT* w = static_cast<const WT*>(W);
  if (K <= 0) {
    for (int64_t n = 0; n < N; ++n)
      for (int64_t m = m0; m < m1; ++m) Y[n * ldy + m] = 0.0f;
    return;
  }
  if (N == 1) return gemv<V, WT, kNT>(w, K, X, Y, m0, m1);
  // Prefill reuses every W tile across N, so the non-temporal hint has nothing to protect.
  gemm_tiled<V, WT>(w, K, X, ldx, N, Y, ldy, m0, m1);
}

// The attention value pass. Each output row block (up to 4 rows) x column chunk (up to 4
// vectors) keeps its 16 accumulators in registers while streaming the value rows once, so each
// value vector loaded feeds up to 4 FMAs and no horizontal reduction is needed.
template <class V, int kChunks, class T>
void weighted_sum_block(const float* p, int64_t ldp, int rows, const T* v, int64_t ldv,
                        int64_t n_keys, int64_t d0, int64_t d_cols, float* out, int64_t ldo) {
  using F = typename V::F;
  constexpr int64_t L = V::kLanes;
  F acc[4][kChunks];
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < kChunks; ++c) acc[r][c] = V::zero();
  // The last chunk may be partial: it is loaded and stored with load_n/store_n.
  const int tail = static_cast<int>(d_cols - d0 - (kChunks - 1) * L);
  const bool full = tail >= L;
  for (int64_t j = 0; j < n_keys; ++j) {
    const T* vj = v + j * ldv + d0;
    F x[kChunks];
    for (int c = 0; c + 1 < kChunks; ++c) x[c] = V::load(vj + c * L);
    x[kChunks - 1] =
        full ? V::load(vj + (kChunks - 1) * L) : V::load_n(vj + (kChunks - 1) * L, tail);
    for (int r = 0; r < 4; ++r) {
      if (r >= rows) break;
      F w = V::set1(p[r * ldp + j]);
      for (int c = 0; c < kChunks; ++c) acc[r][c] = V::fmadd(w, x[c], acc[r][c]);
    }
  }
  for (int r = 0; r < rows; ++r) {
    float* o = out + r * ldo + d0;
    for (int c = 0; c + 1 < kChunks; ++c) V::store(o + c * L, acc[r][c]);
    if (full)
      V::store(o + (kChunks - 1) * L, acc[r][kChunks - 1]);
    else
      V::store_n(o + (kChunks - 1) * L, acc[r][kChunks - 1], tail);
  }
}

template <class V, class T>
void weighted_sum(const float* p, int64_t ldp, int64_t n_rows, const void* vp, int64_t ldv,
                  int64_t n_keys, int64_t d_cols, float* out, int64_t ldo) {
  constexpr int64_t L = V::kLanes;
  const T* v = static_cast<const T*>(vp);
  for (int64_t r0 = 0; r0 < n_rows; r0 += 4) {
    int rows = static_cast<int>(imin<int64_t>(4, n_rows - r0));
    const float* pr = p + r0 * ldp;
    float* o = out + r0 * ldo;
    for (int64_t d0 = 0; d0 < d_cols; d0 += 4 * L) {
      int64_t chunks = imin<int64_t>(4, (d_cols - d0 + L - 1) / L);
      switch (chunks) {
        case 1:
          weighted_sum_block<V, 1, T>(pr, ldp, rows, v, ldv, n_keys, d0, d_cols, o, ldo);
          break;
        case 2:
          weighted_sum_block<V, 2, T>(pr, ldp, rows, v, ldv, n_keys, d0, d_cols, o, ldo);
          break;
        case 3:
          weighted_sum_block<V, 3, T>(pr, ldp, rows, v, ldv, n_keys, d0, d_cols, o, ldo);
          break;
        default:
          weighted_sum_block<V, 4, T>(pr, ldp, rows, v, ldv, n_keys, d0, d_cols, o, ldo);
          break;
      }
    }
  }
}

// Attention scores straight from Q8_0 key rows (no dequantized tile): scores[h * ld + j] =
// <q_h, d_j * int8_j> for h < group, j < n; rows of hd elements (hd a multiple of 32), hd/32 blocks
// of 34 bytes each. 4 keys x 4 query heads per micro-tile (16 accumulators), one reduce4 per
// head; tails repeat the last key / head and drop the results.
template <class V>
void q8_scores(const void* keys, int64_t hd, const float* q, int64_t group, float* scores,
               int64_t ld, int64_t n) {
  using F = typename V::F;
  constexpr int L = V::kLanes;
  const int64_t nb = hd / 32, rb = nb * 34;
  const uint8_t* base = static_cast<const uint8_t*>(keys);
  for (int64_t h0 = 0; h0 < group; h0 += 4) {
    const int nh = static_cast<int>(imin<int64_t>(4, group - h0));
    const float* qh[4];
    for (int i = 0; i < 4; ++i) qh[i] = q + (h0 + imin(i, nh - 1)) * hd;
    for (int64_t j = 0; j < n; j += 4) {
      const int nk = static_cast<int>(imin<int64_t>(4, n - j));
      const uint8_t* kr[4];
      for (int k = 0; k < 4; ++k) kr[k] = base + (j + imin(k, nk - 1)) * rb;
      F acc[4][4];
      for (int k = 0; k < 4; ++k)
        for (int i = 0; i < 4; ++i) acc[k][i] = V::zero();
      for (int64_t b = 0; b < nb; ++b) {
        F d[4];
        for (int k = 0; k < 4; ++k) {
          uint16_t h;
          __builtin_memcpy(&h, kr[k] + b * 34, 2);
          d[k] = V::set1(V::half(h));
        }
        for (int c = 0; c < 32; c += L) {
          F qv[4];
          for (int i = 0; i < 4; ++i) qv[i] = V::load(qh[i] + b * 32 + c);
          for (int k = 0; k < 4; ++k) {
            const F x =
                V::mul(d[k], V::load(reinterpret_cast<const Int8*>(kr[k] + b * 34 + 2 + c)));
            for (int i = 0; i < 4; ++i) acc[k][i] = V::fmadd(x, qv[i], acc[k][i]);
          }
        }
      }
      float out[4];
      for (int i = 0; i < nh; ++i) {
        V::reduce4(acc[0][i], acc[1][i], acc[2][i], acc[3][i], out);
        for (int k = 0; k < nk; ++k) scores[(h0 + i) * ld + j + k] = out[k];
      }
    }
  }
}

// Value rows of a quantized KV cache: load() dequantizes the kChunks vectors [d0, d0 + kChunks *
// kLanes) of one row as they are loaded (hd a multiple of 32, kLanes dividing 32: a vector never
// straddles a block). Q8_0: blocks of 34 bytes (fp16 scale d, 32 int8 q): d * q.
template <class V, int kChunks>
struct Q8Values {
  static constexpr int64_t kBlockBytes = 34;
  static void load(const uint8_t* row, int64_t d0, typename V::F* x) {
    constexpr int64_t L = V::kLanes;
    for (int c = 0; c < kChunks; ++c) {
      const int64_t at = d0 + c * L, blk = at / 32;
      uint16_t h;
      __builtin_memcpy(&h, row + blk * 34, 2);
      x[c] = V::mul(V::set1(V::half(h)),
                    V::load(reinterpret_cast<const Int8*>(row + blk * 34 + 2 + at % 32)));
    }
  }
};

// Q4_1: blocks of 20 bytes (fp16 scale d, fp16 minimum m, 16 bytes of 4-bit levels u): d * u + m,
// each block's scale and minimum converted once.
template <class V, int kChunks>
struct Q4Values {
  static constexpr int64_t kBlockBytes = 20;
  static void load(const uint8_t* row, int64_t d0, typename V::F* x) {
    using F = typename V::F;
    constexpr int64_t L = V::kLanes;
    F d = V::zero(), m = V::zero();
    for (int c = 0; c < kChunks; ++c) {
      const int64_t at = d0 + c * L, o = at % 32;
      const uint8_t* blk = row + at / 32 * 20;
      if (c == 0 || o == 0) {  // a new block
        uint16_t dh, mh;
        __builtin_memcpy(&dh, blk, 2);
        __builtin_memcpy(&mh, blk + 2, 2);
        d = V::set1(V::half(dh));
        m = V::set1(V::half(mh));
      }
      const F u = o < 16 ? V::load(reinterpret_cast<const NibLo*>(blk + 4 + o))
                         : V::load(reinterpret_cast<const NibHi*>(blk + 4 + o - 16));
      x[c] = V::fmadd(d, u, m);
    }
  }
};

// The attention value pass straight from quantized value rows of rb bytes:
// out[r * ldo + d] = sum_j p[r * ldp + j] * value_j[d] for up to 4 rows and the kChunks vectors
// from d0, overwriting out. As weighted_sum_block: 4 rows x kChunks accumulators per pass.
template <class V, int kChunks, template <class, int> class Row>
void quant_weighted_sum_block(const float* p, int64_t ldp, int rows, const uint8_t* v, int64_t rb,
                              int64_t n_keys, int64_t d0, float* out, int64_t ldo) {
  using F = typename V::F;
  constexpr int64_t L = V::kLanes;
  F acc[4][kChunks];
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < kChunks; ++c) acc[r][c] = V::zero();
  for (int64_t j = 0; j < n_keys; ++j) {
    F x[kChunks];
    Row<V, kChunks>::load(v + j * rb, d0, x);
    for (int r = 0; r < 4; ++r) {
      if (r >= rows) break;
      const F w = V::set1(p[r * ldp + j]);
      for (int c = 0; c < kChunks; ++c) acc[r][c] = V::fmadd(w, x[c], acc[r][c]);
    }
  }
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < kChunks; ++c) V::store(out + r * ldo + d0 + c * L, acc[r][c]);
}

// The value pass over a quantized cache's rows (q8_weighted_sum, q4_weighted_sum): rows in blocks
// of up to 4, columns in spans of up to 4 vectors (hd is a multiple of 32 and kLanes divides 32:
// every span is whole vectors); overwrites out (zeros for n_keys 0).
template <class V, template <class, int> class Row>
void quant_weighted_sum(const float* p, int64_t ldp, int64_t n_rows, const void* vp, int64_t hd,
                        int64_t n_keys, float* out, int64_t ldo) {
  constexpr int64_t L = V::kLanes;
  const uint8_t* v = static_cast<const uint8_t*>(vp);
  const int64_t rb = hd / 32 * Row<V, 1>::kBlockBytes;
  for (int64_t r0 = 0; r0 < n_rows; r0 += 4) {
    const int rows = static_cast<int>(imin<int64_t>(4, n_rows - r0));
    const float* pr = p + r0 * ldp;
    float* o = out + r0 * ldo;
    for (int64_t d0 = 0; d0 < hd; d0 += 4 * L) {
      switch (imin<int64_t>(4, (hd - d0) / L)) {
        case 1:
          quant_weighted_sum_block<V, 1, Row>(pr, ldp, rows, v, rb, n_keys, d0, o, ldo);
          break;
        case 2:
          quant_weighted_sum_block<V, 2, Row>(pr, ldp, rows, v, rb, n_keys, d0, o, ldo);
          break;
        case 3:
          quant_weighted_sum_block<V, 3, Row>(pr, ldp, rows, v, rb, n_keys, d0, o, ldo);
          break;
        default:
          quant_weighted_sum_block<V, 4, Row>(pr, ldp, rows, v, rb, n_keys, d0, o, ldo);
          break;
      }
    }
  }
}

// A KIVI key group (attention/kivi.h) read in place: 32 keys quantized per channel, stored as
// the hd fp16 scales d_c, the hd fp16 minimums m_c, then 16 bytes of 4-bit levels u per channel
// (token t < 16 in the low nibble of byte t, t + 16 in its high nibble). For h < group and j in
// [j0, j1): scores[h * ld + j - j0] = sum_c q_h[c] * (d_c u_c[j] + m_c), computed as
// sum_c (q_h[c] d_c) u_c[j] + <q_h, m>: the scaled queries and the bias once per group, then per
// channel the levels of all 32 tokens unpacked once for up to 4 heads, one broadcast FMA each.
template <class V>
void kivi_scores(const void* grp, int64_t hd, const float* q, int64_t group, int64_t j0, int64_t j1,
                 float* scores, int64_t ld) {
  using F = typename V::F;
  constexpr int L = V::kLanes, kC = 32 / L;
  constexpr int64_t kSpan = 128;  // channels per pass (a multiple of 32, as hd is)
  const auto* d16 = static_cast<const Fp16*>(grp);
  const Fp16* m16 = d16 + hd;
  const uint8_t* nib = static_cast<const uint8_t*>(grp) + 4 * hd;
  for (int64_t h0 = 0; h0 < group; h0 += 4) {
    const int nh = static_cast<int>(imin<int64_t>(4, group - h0));
    F acc[4][kC];
    F bias[4];
    for (int i = 0; i < 4; ++i) {
      bias[i] = V::zero();
      for (int k = 0; k < kC; ++k) acc[i][k] = V::zero();
    }
    for (int64_t c0 = 0; c0 < hd; c0 += kSpan) {
      const int64_t cn = imin(kSpan, hd - c0);
      alignas(64) float qd[4][kSpan];
      for (int i = 0; i < nh; ++i) {
        const float* qh = q + (h0 + i) * hd + c0;
        for (int64_t c = 0; c < cn; c += L) {
          const F qv = V::load(qh + c);
          V::store(qd[i] + c, V::mul(qv, V::load(d16 + c0 + c)));
          bias[i] = V::fmadd(qv, V::load(m16 + c0 + c), bias[i]);
        }
      }
      for (int64_t c = 0; c < cn; ++c) {
        const uint8_t* b = nib + (c0 + c) * 16;
        F x[kC];
        for (int k = 0; k < kC; ++k)
          x[k] = k * L < 16 ? V::load(reinterpret_cast<const NibLo*>(b + k * L))
                            : V::load(reinterpret_cast<const NibHi*>(b + k * L - 16));
        for (int i = 0; i < nh; ++i) {
          const F w = V::set1(qd[i][c]);
          for (int k = 0; k < kC; ++k) acc[i][k] = V::fmadd(w, x[k], acc[i][k]);
        }
      }
    }
    for (int i = 0; i < nh; ++i) {
      alignas(64) float row[32];
      for (int k = 0; k < kC; ++k) V::store(row + k * L, acc[i][k]);
      const float bi = V::reduce(bias[i]);
      float* out = scores + (h0 + i) * ld - j0;
      for (int64_t j = j0; j < j1; ++j) out[j] = row[j] + bi;
    }
  }
}

}  // namespace lc::ops::impl
