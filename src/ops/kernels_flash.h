// The flash-attention tile (ops.h, FlashTile; attention/flash.h drives it), written once against
// the vector wrapper V of kernels_impl.h, under the same rules (templates on V only).
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "ops/kernels_impl.h"
#include "ops/ops.h"

namespace lc::ops::impl {

// ------------------------------------------------------------------------------------------
// Flash attention (FlashTile in ops.h). The query index runs along the vector, so every pass is
// an outer product: a scalar of a key or value row broadcast against C query vectors, J rows at
// a time (J x C accumulators), with no horizontal reductions; the softmax state is per lane.

// f32 rows of a tile: in place, or converted into buf.
template <class V>
const float* flash_rows(const void* src, DType t, int64_t n, float* buf) {
  if (t == DType::F32) return static_cast<const float*>(src);
  constexpr int64_t L = V::kLanes;
  auto convert = [&](const auto* x) {
    int64_t i = 0;
    for (; i + L <= n; i += L) V::store(buf + i, V::load(x + i));
    if (i < n)
      V::store_n(buf + i, V::load_n(x + i, static_cast<int>(n - i)), static_cast<int>(n - i));
  };
  if (t == DType::BF16)
    convert(static_cast<const Bf16*>(src));
  else
    convert(static_cast<const Fp16*>(src));
  return buf;
}

// out[r][c] (+)= sum_t a[r * sr + t * st] * b[t * ldb + c-th vector] for JN rows r, C vectors,
// t < T; init: the starting values (nullptr: zero), each vector scaled by scale[c]. mx (nullptr:
// none) takes the lane-wise max of the results: mx[c] = max(mx[c], out[r][c] over r).
template <class V, int C, int JN>
inline void flash_outer(const float* const* a, int64_t st, const float* b, int64_t ldb, int64_t T,
                        const float* const* init, const typename V::F* scale, float* const* out,
                        typename V::F* mx) {
  using F = typename V::F;
  constexpr int64_t L = V::kLanes;
  F acc[JN][C];
  for (int r = 0; r < JN; ++r)
    for (int c = 0; c < C; ++c)
      acc[r][c] = init ? V::mul(V::load(init[r] + c * L), scale[c]) : V::zero();
  for (int64_t t = 0; t < T; ++t) {
    F bv[C];
    for (int c = 0; c < C; ++c) bv[c] = V::load(b + t * ldb + c * L);
    for (int r = 0; r < JN; ++r) {
      const F x = V::set1(a[r][t * st]);
      for (int c = 0; c < C; ++c) acc[r][c] = V::fmadd(x, bv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < JN; ++r)
    for (int c = 0; c < C; ++c) V::store(out[r] + c * L, acc[r][c]);
  if (mx)
    for (int c = 0; c < C; ++c)
      for (int r = 0; r < JN; ++r) mx[c] = V::max(mx[c], acc[r][c]);
}

// flash_outer, called out of line where V::kFlashOutlined says so: inlined into flash_tile_c,
// GCC 12 keeps two of AVX-512's three b vectors on the stack in the value pass (a store and a
// reload per step); out of line it does not (bench/kernel_lab: 12% faster, docs/perf/prefill.md).
template <class V, int C, int JN>
[[gnu::noinline]] void flash_outer_outlined(const float* const* a, int64_t st, const float* b,
                                            int64_t ldb, int64_t T, const float* const* init,
                                            const typename V::F* scale, float* const* out,
                                            typename V::F* mx) {
  flash_outer<V, C, JN>(a, st, b, ldb, T, init, scale, out, mx);
}

template <class V, int C, int JN>
inline void flash_pass(const float* const* a, int64_t st, const float* b, int64_t ldb, int64_t T,
                       const float* const* init, const typename V::F* scale, float* const* out,
                       typename V::F* mx) {
  if constexpr (V::kFlashOutlined)
    flash_outer_outlined<V, C, JN>(a, st, b, ldb, T, init, scale, out, mx);
  else
    flash_outer<V, C, JN>(a, st, b, ldb, T, init, scale, out, mx);
}

// s[j * ldm + lane] = <k_j, qt[.][lane]> for nk f32 key rows kf (row stride hd), J keys at a
// time; mx (nullptr: none) also takes the lane-wise max of the scores.
template <class V, int C>
void flash_score_pass(const float* kf, int64_t hd, const float* qt, int64_t ldm, int64_t nk,
                      float* s, typename V::F* mx) {
  constexpr int J = (4 * V::kGemmRN) / C > 1 ? (4 * V::kGemmRN) / C : 1;
  const float* a[J];
  float* o[J];
  int64_t j = 0;
  for (; j + J <= nk; j += J) {
    for (int r = 0; r < J; ++r) {
      a[r] = kf + (j + r) * hd;
      o[r] = s + (j + r) * ldm;
    }
    flash_pass<V, C, J>(a, 1, qt, ldm, hd, nullptr, nullptr, o, mx);
  }
  for (; j < nk; ++j) {
    a[0] = kf + j * hd;
    o[0] = s + j * ldm;
    flash_pass<V, C, 1>(a, 1, qt, ldm, hd, nullptr, nullptr, o, mx);
  }
}

template <class V, int C>
void flash_tile_c(const FlashTile& t) {
  using F = typename V::F;
  constexpr int64_t L = V::kLanes;
  constexpr int J = (4 * V::kGemmRN) / C > 1 ? (4 * V::kGemmRN) / C : 1;
  const int64_t hd = t.hd, nk = t.nk, ldm = t.ldm;
  float* s = t.work;
  // The work area's parts (ops.h), computed here: no inline non-template function of ops.h may be
  // called from these instantiations (the rules at the top of kernels_impl.h).
  float* kbuf = t.work + kFlashKeys * kFlashMaxM;
  const float* kf = flash_rows<V>(t.k, t.kt, nk * hd, kbuf);
  const float* vf = flash_rows<V>(t.v, t.vt, nk * hd, kbuf + kFlashKeys * hd);
  // Scores: s[j] = sum_d k_j[d] * qt[d], J keys at a time, then the bias. Without a bias the
  // passes also take the new running max (m); with one, a pass after the bias does.
  F m[C];
  for (int c = 0; c < C; ++c) m[c] = V::load(t.mx + c * L);
  flash_score_pass<V, C>(kf, hd, t.qt, ldm, nk, s, t.bias ? nullptr : m);
  if (t.bias) {
    for (int64_t i = 0; i < nk * ldm; i += L)
      V::store(s + i, V::add(V::load(s + i), V::load(t.bias + i)));
    for (int c = 0; c < C; ++c)
      for (int64_t jj = 0; jj < nk; ++jj) m[c] = V::max(m[c], V::load(s + jj * ldm + c * L));
  }
  // The running softmax state, lane by lane; s becomes the probabilities.
  F alpha[C];
  for (int c = 0; c < C; ++c) {
    alpha[c] = vexp<V>(V::sub(V::load(t.mx + c * L), m[c]));
    F sum = V::zero();
    for (int64_t jj = 0; jj < nk; ++jj) {
      const F p = vexp<V>(V::sub(V::load(s + jj * ldm + c * L), m[c]));
      V::store(s + jj * ldm + c * L, p);
      sum = V::add(sum, p);
    }
    V::store(t.l + c * L, V::fmadd(V::load(t.l + c * L), alpha[c], sum));
    V::store(t.mx + c * L, m[c]);
  }
  // Values: ot[d] = alpha * ot[d] + sum_j v_j[d] * p_j, J channels at a time.
  const float* a[J];
  float* o[J];
  int64_t d = 0;
  for (; d + J <= hd; d += J) {
    for (int r = 0; r < J; ++r) {
      a[r] = vf + d + r;
      o[r] = t.ot + (d + r) * ldm;
    }
    flash_pass<V, C, J>(a, hd, s, ldm, nk, o, alpha, o, nullptr);
  }
  for (; d < hd; ++d) {
    a[0] = vf + d;
    o[0] = t.ot + d * ldm;
    flash_pass<V, C, 1>(a, hd, s, ldm, nk, o, alpha, o, nullptr);
  }
}

template <class V>
void flash_tile(const FlashTile& t) {
  switch (t.ldm / V::kLanes) {
    case 1:
      return flash_tile_c<V, 1>(t);
    case 2:
      return flash_tile_c<V, 2>(t);
    case 3:
      if constexpr (V::kFlashChunks >= 3) return flash_tile_c<V, 3>(t);
      break;
    case 4:
      if constexpr (V::kFlashChunks >= 4) return flash_tile_c<V, 4>(t);
      break;
    default:
      break;
  }
  __builtin_trap();  // the caller sizes ldm by flash_max_m
}

template <class V, int C>
void flash_scores_c(const float* qt, int64_t ldm, int64_t hd, const void* k, DType kt, int64_t nk,
                    float* s, float* work) {
  // The work area's key rows (ops.h), computed here as flash_tile_c does.
  const float* kf = flash_rows<V>(k, kt, nk * hd, work + kFlashKeys * kFlashMaxM);
  flash_score_pass<V, C>(kf, hd, qt, ldm, nk, s, nullptr);
}

template <class V>
void flash_scores(const float* qt, int64_t ldm, int64_t hd, const void* k, DType kt, int64_t nk,
                  float* s, float* work) {
  switch (ldm / V::kLanes) {
    case 1:
      return flash_scores_c<V, 1>(qt, ldm, hd, k, kt, nk, s, work);
    case 2:
      return flash_scores_c<V, 2>(qt, ldm, hd, k, kt, nk, s, work);
    case 3:
      if constexpr (V::kFlashChunks >= 3)
        return flash_scores_c<V, 3>(qt, ldm, hd, k, kt, nk, s, work);
      break;
    case 4:
      if constexpr (V::kFlashChunks >= 4)
        return flash_scores_c<V, 4>(qt, ldm, hd, k, kt, nk, s, work);
      break;
    default:
      break;
  }
  __builtin_trap();  // the caller sizes ldm by flash_max_m
}

}  // namespace lc::ops::impl
