// Chunked prefill (spec form 2) and recurrent decode (form 3) over one TaylorState.
//
// The carried state is the recurrent one, in feature space: KV = sum_j phi(k_j) v_j^T holds the
// spec's S0 (feature 0), S1 (features 1..f) and S2 (the packed quadratic features), Kz holds z0,
// z1, z2. For a chunk of C queries, per head:
//   num_i = phi(q_i)^T KV  +  sum_{j in chunk, j <= i} w_ij v_j,   den_i = phi(q_i) . Kz + sum_j
//   w_ij y_i   = num_i / (den_i + eps),   then KV += Phi_k^T V_chunk,  Kz += sum_j phi(k_j).
// The inter-chunk terms are two matrix products against the chunk's features, which exist only
// for the current chunk in per-thread scratch (C x D floats, L1/L2-resident), never for the whole
// sequence; the intra-chunk terms use the scalar polynomial (taylor_block.h).
#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/thread_pool.h"
#include "linear/taylor.h"
#include "linear/taylor_block.h"
#include "ops/ops.h"

namespace lc {

namespace {

int64_t round_up16(int64_t x) { return (x + 15) / 16 * 16; }

// Per-thread scratch of the prefill, every region 64-byte aligned relative to its start.
struct ChunkScratch {
  int64_t D, Dp, Cp;
  float *kc, *w, *phi_q, *phi_kt, *tmp, *den, *phi;

  // Lays the regions out from `base` (nullptr: only computes the size).
  ChunkScratch(const TaylorShape& s, int64_t chunk, float* base, int64_t* floats) {
    D = taylor_features(s.feature_dim);
    Dp = round_up16(D);
    Cp = round_up16(chunk);
    int64_t at = 0;
    auto take = [&](int64_t n) {
      float* p = base ? base + at : nullptr;
      at += round_up16(n);
      return p;
    };
    kc = take(chunk * s.feature_dim);             // [C][f] keys of the chunk
    w = take(chunk * chunk);                      // [C][C] polynomial weights
    phi_q = take(chunk * Dp);                     // [C][Dp] query features
    phi_kt = take(D * Cp);                        // [D][Cp] key features, transposed
    tmp = take(std::max(D, chunk) * s.head_dim);  // [max(D, C)][dv]
    den = take(chunk);                            // [C]
    phi = take(Dp);                               // [Dp] one token's features
    *floats = at;
  }
};

void check_args(const TaylorState& st, int64_t n, int64_t chunk) {
  check(st.n_features() > 0, "linear attention: state not initialised");
  check(n >= 0, "linear attention: n = ", n, " tokens");
  check(chunk >= 1, "linear attention: chunk = ", chunk, " must be >= 1");
}

// One chunk of one head. q, k point at the chunk's first row of this head (row strides ldq,
// ldq), v and out likewise (row stride ldv).
void prefill_chunk(TaylorState& st, int64_t h, const float* q, const float* k, const float* v,
                   int64_t nc, int64_t ldq, int64_t ldv, float* out, ChunkScratch& cs) {
  const ops::KernelTable& K = ops::kernels();
  const int64_t f = st.shape().feature_dim, dv = st.shape().head_dim, D = cs.D;
  float* kv = st.kv(h);  // [D][dv]
  float* kz = st.kz(h);  // [D]
  const taylor_detail::FeatureScales sc(f);
  // Features of the chunk; keys also copied contiguous for the intra-chunk product.
  for (int64_t i = 0; i < nc; ++i) {
    taylor_detail::feature_map(q + i * ldq, f, sc, cs.phi_q + i * cs.Dp);
    std::memcpy(cs.kc + i * f, k + i * ldq, sizeof(float) * f);
    taylor_detail::feature_map(k + i * ldq, f, sc, cs.phi);
    for (int64_t d = 0; d < D; ++d) cs.phi_kt[d * cs.Cp + i] = cs.phi[d];
  }
  // Earlier chunks (and earlier calls): phi(q_i)^T KV and phi(q_i) . Kz.
  K.weighted_sum(cs.phi_q, cs.Dp, nc, kv, dv, D, dv, out, ldv);
  for (int64_t i = 0; i < nc; ++i) cs.den[i] = K.dot(cs.phi_q + i * cs.Dp, kz, D);
  // This chunk, causally: the scalar polynomial.
  taylor_detail::poly_block(q, ldq, nc, cs.kc, nc, v, ldv, f, dv, 0, cs.w, cs.tmp, out, ldv,
                            cs.den);
  for (int64_t i = 0; i < nc; ++i) {
    const float den = cs.den[i] + kTaylorEps;
    for (int64_t c = 0; c < dv; ++c) out[i * ldv + c] /= den;
  }
  // Absorb the chunk: KV += Phi_k^T V, Kz += column sums of Phi_k.
  K.weighted_sum(cs.phi_kt, cs.Cp, D, v, ldv, nc, dv, cs.tmp, dv);
  K.axpy(1.0f, cs.tmp, kv, D * dv);
  for (int64_t d = 0; d < D; ++d) {
    const float* row = cs.phi_kt + d * cs.Cp;
    float sum = 0.0f;
    for (int64_t i = 0; i < nc; ++i) sum += row[i];
    kz[d] += sum;
  }
}

}  // namespace

int64_t taylor_scratch_floats(const TaylorShape& s, int64_t chunk, int n_threads) {
  check(chunk >= 1, "linear attention: chunk = ", chunk, " must be >= 1");
  int64_t per_thread = 0;
  ChunkScratch(s, chunk, nullptr, &per_thread);
  return per_thread * std::max(1, n_threads);
}

void taylor_prefill(ThreadPool& pool, TaylorState& state, const float* q, const float* k,
                    const float* v, int64_t n, int64_t chunk, float* out, float* scratch) {
  check_args(state, n, chunk);
  if (n == 0) return;
  const TaylorShape& s = state.shape();
  const int64_t qd = s.n_heads * s.feature_dim, vd = s.n_heads * s.head_dim;
  int64_t per_thread = 0;
  ChunkScratch(s, chunk, nullptr, &per_thread);
  // Multiply-adds per token and head: readout and update (2 D dv), intra-chunk (~C (f + dv)).
  const int64_t D = state.n_features();
  const int64_t work = n * s.n_heads * (2 * D * s.head_dim + chunk * (s.feature_dim + s.head_dim));
  pool.run_sized(work, [&](int t, int nt) {
    int64_t b, e, unused;
    ThreadPool::split_range(s.n_heads, 1, t, nt, &b, &e);
    ChunkScratch cs(s, chunk, scratch + t * per_thread, &unused);
    for (int64_t h = b; h < e; ++h)
      for (int64_t c0 = 0; c0 < n; c0 += chunk) {
        const int64_t nc = std::min(chunk, n - c0);
        prefill_chunk(state, h, q + c0 * qd + h * s.feature_dim, k + c0 * qd + h * s.feature_dim,
                      v + c0 * vd + h * s.head_dim, nc, qd, vd, out + c0 * vd + h * s.head_dim, cs);
      }
  });
  state.add_tokens(n);
}

void taylor_decode(ThreadPool& pool, TaylorState& state, const float* q, const float* k,
                   const float* v, float* out, float* scratch) {
  check_args(state, 1, 1);
  const ops::KernelTable& K = ops::kernels();
  const TaylorShape& s = state.shape();
  const int64_t f = s.feature_dim, dv = s.head_dim, D = state.n_features(), Dp = round_up16(D);
  const taylor_detail::FeatureScales sc(f);
  pool.run_sized(2 * s.n_heads * D * dv, [&](int t, int nt) {
    int64_t b, e;
    ThreadPool::split_range(s.n_heads, 1, t, nt, &b, &e);
    // Decode uses the first 2 Dp floats of each thread's share (any chunk's share is larger).
    float* phi_q = scratch + t * 2 * Dp;
    float* phi_k = phi_q + Dp;
    for (int64_t h = b; h < e; ++h) {
      const float* vh = v + h * dv;
      float* kv = state.kv(h);
      float* kz = state.kz(h);
      float* y = out + h * dv;
      taylor_detail::feature_map(q + h * f, f, sc, phi_q);
      taylor_detail::feature_map(k + h * f, f, sc, phi_k);
      // KV += phi(k) v^T, Kz += phi(k): the current token is attended too.
      for (int64_t d = 0; d < D; ++d) {
        K.axpy(phi_k[d], vh, kv + d * dv, dv);
        kz[d] += phi_k[d];
      }
      K.weighted_sum(phi_q, Dp, 1, kv, dv, D, dv, y, dv);
      const float den = K.dot(phi_q, kz, D) + kTaylorEps;
      for (int64_t c = 0; c < dv; ++c) y[c] /= den;
    }
  });
  state.add_tokens(1);
}

}  // namespace lc
