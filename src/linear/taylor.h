// BASED linear attention with the 2nd-order Taylor feature map (../shared/specs/based.md,
// "Linear attention with the Taylor feature map"):
//
//   y_n = sum_{m<=n} (1 + s_nm + s_nm^2/2) v_m / (sum_{m<=n} (1 + s_nm + s_nm^2/2) + eps),
//   s_nm = q_n . k_m / sqrt(f),  eps = 1e-12.
//
// Three forms, tested against each other (tests/linear_taylor_test.cc):
//   taylor_attention_reference  the explicit causal n x n polynomial, in double (slow);
//   taylor_quadratic            the same n x n form in f32, blocked and threaded (benchmarks);
//   taylor_prefill              chunked (IO-aware): one recurrent state carried across chunks of
//                               C tokens, the scalar polynomial inside a chunk;
//   taylor_decode               recurrent, O(1) per token: KV += phi(k) v^T, Kz += phi(k).
//
// Feature map: the *symmetric packing* of phi (spec: "either is acceptable"), D = 1 + f +
// f(f+1)/2 features (153 for f = 16 instead of 273):
//   [ 1,  x_a / f^(1/4) (a < f),  x_a^2 / (sqrt(2) sqrt(f)) (a == b),  x_a x_b / sqrt(f) (a < b) ]
// so that phi(q) . phi(k) = 1 + s + s^2/2 exactly as with the full vec(x x^T) / (sqrt(2) sqrt(f)).
// The state after any prefill is built from phi(k) (never raw k), so decode continues it.
//
// Layouts: q, k: [n, n_heads * feature_dim]; v, out: [n, n_heads * head_dim] (head_dim = dv, the
// value head dimension). No RoPE, no 1/sqrt(head_dim) scale: the feature map carries its own.
#pragma once
#include <cstdint>

#include "core/aligned.h"

namespace lc {

class ThreadPool;

struct TaylorShape {
  int64_t n_heads = 0;
  int64_t feature_dim = 0;  // f: query/key dimension per head
  int64_t head_dim = 0;     // dv: value dimension per head
};

inline constexpr float kTaylorEps = 1e-12f;

// D = 1 + f + f(f+1)/2, the length of the packed feature vector.
inline int64_t taylor_features(int64_t f) { return 1 + f + f * (f + 1) / 2; }
// 1 + f + f^2, the length of the spec's full feature vector.
inline int64_t taylor_features_full(int64_t f) { return 1 + f + f * f; }

// phi(x) for one head (f values) in the packed layout above; writes taylor_features(f) floats.
void taylor_feature_map(const float* x, int64_t f, float* phi);
// The spec's full phi(x) = [1, x / f^(1/4), vec(x x^T) / (sqrt(2) sqrt(f))], 1 + f + f^2 floats
// (row-major vec). Only for references and tests; the engine uses the packed map.
void taylor_feature_map_full(const float* x, int64_t f, float* phi);

// The recurrent state of one layer: per head KV = sum_m phi(k_m) v_m^T, stored feature-major as
// [D][head_dim], and Kz = sum_m phi(k_m), [D]. Allocated once; prefill and decode only update it.
// (Spec's "KV (dv x 273)": the same matrix, transposed, packed.)
class TaylorState {
 public:
  TaylorState() = default;
  explicit TaylorState(const TaylorShape& s);

  // Forgets every token (zeros the state).
  void reset();

  const TaylorShape& shape() const { return shape_; }
  int64_t n_features() const { return n_features_; }
  // Tokens absorbed since construction / reset().
  int64_t tokens() const { return tokens_; }
  void add_tokens(int64_t n) { tokens_ += n; }

  float* kv(int64_t head) { return kv_.data() + head * n_features_ * shape_.head_dim; }
  const float* kv(int64_t head) const { return kv_.data() + head * n_features_ * shape_.head_dim; }
  float* kz(int64_t head) { return kz_.data() + head * kz_stride_; }
  const float* kz(int64_t head) const { return kz_.data() + head * kz_stride_; }
  size_t bytes() const { return kv_.bytes() + kz_.bytes(); }

 private:
  TaylorShape shape_;
  int64_t n_features_ = 0, kz_stride_ = 0, tokens_ = 0;
  AlignedBuffer<float> kv_;  // [n_heads][D][head_dim]
  AlignedBuffer<float> kz_;  // [n_heads][kz_stride_ >= D]
};

// Floats of scratch taylor_prefill needs for chunks of `chunk` tokens on `n_threads` threads;
// also enough for taylor_decode (any chunk >= 1).
int64_t taylor_scratch_floats(const TaylorShape& s, int64_t chunk, int n_threads);

// Chunked prefill of n >= 0 tokens that continue the sequence held in `state` (fresh after
// reset(), or after earlier prefills / decodes), leaving it ready for decode. Threads split the
// heads. q, k: [n, n_heads*f]; v, out: [n, n_heads*dv]; out must not overlap the inputs.
// scratch: taylor_scratch_floats(state.shape(), chunk, pool.size()) floats.
void taylor_prefill(ThreadPool& pool, TaylorState& state, const float* q, const float* k,
                    const float* v, int64_t n, int64_t chunk, float* out, float* scratch);

// One token (the spec's recurrent form). q, k: [n_heads*f]; v, out: [n_heads*dv]. No allocation.
// scratch: as for taylor_prefill (any chunk).
void taylor_decode(ThreadPool& pool, TaylorState& state, const float* q, const float* k,
                   const float* v, float* out, float* scratch);

// The explicit causal n x n form in f32 over a fresh sequence: query blocks x key blocks of the
// scalar polynomial, threads over heads. Allocates its own scratch; for tests and benchmarks.
void taylor_quadratic(ThreadPool& pool, const TaylorShape& s, const float* q, const float* k,
                      const float* v, int64_t n, float* out);

// The same, computed the slow obvious way in double (weights, sums and the division), for tests.
void taylor_attention_reference(const TaylorShape& s, const float* q, const float* k,
                                const float* v, int64_t n, float* out);

}  // namespace lc
