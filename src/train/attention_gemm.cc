// Causal softmax attention for training in float, per (sequence, head) with matrix kernels
// instead of the row-by-row dot/axpy of attention_forward_ref (layers.cc), which stays the
// reference (and the double path used by the gradient checks).
//
// Per unit, row blocks of kRowBlock queries [i0, i1):
//   S[i0:i1, 0:i1] = Q K^T                 gemm_f32 (K copied to a contiguous [T, hd] tile)
//   P = softmax(scale * S) over keys lo(i) <= j <= i, zeros elsewhere in [0, i1)
//   O[i0:i1] = P[i0:i1, lo(i0):i1] V       weighted_sum (V read in place at stride ld)
// Backward (one unit per (sequence, kv head), so dK/dV of a head have one writer):
//   dP = dO V^T (gemm_f32), dS = P o (dP - rowsum(dO o O)) * scale   (the softmax Jacobian)
//   dQ = dS K,  dK += dS^T Q,  dV += P^T dO   (weighted_sum; dS^T and P^T one row panel at a time)
// Every unit runs on one thread in a fixed order, so results do not depend on the thread count.
// Scratch is per thread (thread_local), grown on first use and then reused: no allocation per
// step after the first. S and dS are [T, T], hence the fast path only for seq <= kAttnGemmMaxSeq.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/thread_pool.h"
#include "ops/ops.h"
#include "train/layers.h"

namespace lc::train {

namespace {

constexpr int64_t kRowBlock = 32;

struct AttnScratch {
  std::vector<float> s;      // [T, T] scores, then probabilities P
  std::vector<float> ds;     // [T, T] dP, then dS
  std::vector<float> panel;  // [kRowBlock, T] rows of P^T or dS^T
  std::vector<float> kc;     // [T, hd] the unit's keys, contiguous
  std::vector<float> vc;     // [T, hd] the unit's values, contiguous
  std::vector<float> tmp;    // [T, hd] dK or dV of one query head (GQA sums the group)
};

float* grown(std::vector<float>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
  return v.data();
}

AttnScratch& scratch() {
  thread_local AttnScratch s;
  return s;
}

// The first key that query i attends.
inline int64_t first_key(const AttnShape& s, int64_t i) {
  return s.window > 0 ? std::max<int64_t>(0, i - s.window + 1) : 0;
}

// Copies rows [0, T) of one head (hd floats at stride ld) into a contiguous [T, hd] tile.
void gather_head(const float* x, int64_t ld, int64_t T, int64_t hd, float* out) {
  for (int64_t t = 0; t < T; ++t) std::memcpy(out + t * hd, x + t * ld, sizeof(float) * hd);
}

// P[i, j] (row stride T) for the queries q (rows at stride ld) against the keys kc [T, hd]:
// row i holds the softmax over its keys [first_key(i), i] and zeros elsewhere in [0, i1).
void probabilities(const AttnShape& s, const float* q, int64_t ld, const float* kc, float* P) {
  const ops::KernelTable& ks = ops::kernels();
  const int64_t T = s.seq, hd = s.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (int64_t i0 = 0; i0 < T; i0 += kRowBlock) {
    const int64_t i1 = std::min(T, i0 + kRowBlock);
    ks.gemm_f32(kc, hd, q + i0 * ld, ld, i1 - i0, P + i0 * T, T, 0, i1);
    for (int64_t i = i0; i < i1; ++i) {
      float* row = P + i * T;
      const int64_t lo = first_key(s, i);
      for (int64_t j = lo; j <= i; ++j) row[j] *= scale;
      ks.softmax(row + lo, i - lo + 1);
      std::fill(row, row + lo, 0.0f);
      std::fill(row + i + 1, row + i1, 0.0f);
    }
  }
}

// out[j, :] = sum_i M[i, j] x[i, :] for j in [0, T) (M lower-triangular within the causal mask,
// rows at stride T; x rows at stride ldx): M^T x, transposing one panel of kRowBlock rows of M^T
// at a time. Overwrites out ([T, hd]).
void transposed_product(const AttnShape& s, const float* M, const float* x, int64_t ldx,
                        float* panel, float* out) {
  const ops::KernelTable& ks = ops::kernels();
  const int64_t T = s.seq, hd = s.head_dim;
  for (int64_t j0 = 0; j0 < T; j0 += kRowBlock) {
    const int64_t j1 = std::min(T, j0 + kRowBlock);
    // Queries i that attend some key in [j0, j1): i in [j0, i_end).
    const int64_t i_end = s.window > 0 ? std::min(T, j1 - 1 + s.window) : T;
    // panel[jj, i] = M[i, j0 + jj]; entries with i < j are zero in M (same row block as j).
    for (int64_t i = j0; i < i_end; ++i)
      for (int64_t j = j0; j < j1; ++j) panel[(j - j0) * T + i] = M[i * T + j];
    ks.weighted_sum(panel + j0, T, j1 - j0, x + j0 * ldx, ldx, i_end - j0, hd, out + j0 * hd, hd);
  }
}

}  // namespace

void attention_forward_gemm(ThreadPool& pool, const AttnShape& s, const float* q, const float* k,
                            const float* v, int64_t ld, float* out) {
  const int64_t T = s.seq, hd = s.head_dim, group = s.n_heads / s.n_kv_heads, ldo = s.n_heads * hd;
  for_rows(pool, s.batch * s.n_heads, 2 * T * T * hd, [&](int64_t unit) {
    const int64_t b = unit / s.n_heads, h = unit % s.n_heads, kh = h / group;
    AttnScratch& sc = scratch();
    float* P = grown(sc.s, T * T);
    float* kc = grown(sc.kc, T * hd);
    gather_head(k + b * T * ld + kh * hd, ld, T, hd, kc);
    probabilities(s, q + b * T * ld + h * hd, ld, kc, P);
    const ops::KernelTable& ks = ops::kernels();
    const float* vh = v + b * T * ld + kh * hd;
    for (int64_t i0 = 0; i0 < T; i0 += kRowBlock) {
      const int64_t i1 = std::min(T, i0 + kRowBlock), lo = first_key(s, i0);
      ks.weighted_sum(P + i0 * T + lo, T, i1 - i0, vh + lo * ld, ld, i1 - lo, hd,
                      out + (b * T + i0) * ldo + h * hd, ldo);
    }
  });
}

void attention_backward_gemm(ThreadPool& pool, const AttnShape& s, const float* q, const float* k,
                             const float* v, int64_t ld, const float* out, const float* dout,
                             float* dq, float* dk, float* dv) {
  const int64_t T = s.seq, hd = s.head_dim, group = s.n_heads / s.n_kv_heads, ldo = s.n_heads * hd;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for_rows(pool, s.batch * s.n_kv_heads, 5 * group * T * T * hd, [&](int64_t unit) {
    const int64_t b = unit / s.n_kv_heads, kh = unit % s.n_kv_heads;
    const ops::KernelTable& ks = ops::kernels();
    AttnScratch& sc = scratch();
    float* P = grown(sc.s, T * T);
    float* dS = grown(sc.ds, T * T);
    float* panel = grown(sc.panel, kRowBlock * T);
    float* kc = grown(sc.kc, T * hd);
    float* vc = grown(sc.vc, T * hd);
    float* tmp = grown(sc.tmp, T * hd);
    const float* kh_rows = k + b * T * ld + kh * hd;
    gather_head(kh_rows, ld, T, hd, kc);
    gather_head(v + b * T * ld + kh * hd, ld, T, hd, vc);
    float* dkh = dk + b * T * ld + kh * hd;
    float* dvh = dv + b * T * ld + kh * hd;
    for (int64_t t = 0; t < T; ++t) {
      std::fill(dkh + t * ld, dkh + t * ld + hd, 0.0f);
      std::fill(dvh + t * ld, dvh + t * ld + hd, 0.0f);
    }
    for (int64_t h = kh * group; h < (kh + 1) * group; ++h) {
      const float* qh = q + b * T * ld + h * hd;
      const float* oh = out + b * T * ldo + h * hd;
      const float* doh = dout + b * T * ldo + h * hd;
      probabilities(s, qh, ld, kc, P);
      for (int64_t i0 = 0; i0 < T; i0 += kRowBlock) {
        const int64_t i1 = std::min(T, i0 + kRowBlock);
        ks.gemm_f32(vc, hd, doh + i0 * ldo, ldo, i1 - i0, dS + i0 * T, T, 0, i1);  // dP
        for (int64_t i = i0; i < i1; ++i) {
          const float D = ks.dot(doh + i * ldo, oh + i * ldo, hd);  // sum_j P_ij dP_ij
          const float* p = P + i * T;
          float* d = dS + i * T;
          for (int64_t j = 0; j < i1; ++j) d[j] = p[j] * (d[j] - D) * scale;
        }
        const int64_t lo = first_key(s, i0);
        ks.weighted_sum(dS + i0 * T + lo, T, i1 - i0, kh_rows + lo * ld, ld, i1 - lo, hd,
                        dq + (b * T + i0) * ld + h * hd, ld);
      }
      transposed_product(s, dS, qh, ld, panel, tmp);
      for (int64_t t = 0; t < T; ++t)
        for (int64_t x = 0; x < hd; ++x) dkh[t * ld + x] += tmp[t * hd + x];
      transposed_product(s, P, doh, ldo, panel, tmp);
      for (int64_t t = 0; t < T; ++t)
        for (int64_t x = 0; x < hd; ++x) dvh[t * ld + x] += tmp[t * hd + x];
    }
  });
}

}  // namespace lc::train
