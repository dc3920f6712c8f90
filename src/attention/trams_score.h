// The TRAMS score (Yu et al. 2023; ../shared/specs/trams.md): a query-independent importance of
// a cached key, computed once when the token enters the cache. For query head h the reformulated
// key is K'_j = W_Q,h^T k_j (a d_model vector; k_j the unrotated key), and
//   paper: cos<K', 1> * |K'| = sum_d K'[d] / sqrt(d_model) = <u_h, k_j> / sqrt(d_model)
//   code:  |K'| * |sum_d K'[d]|                  = sqrt(k_j^T G_h k_j) * |<u_h, k_j>|
// with u_h = W_Q,h 1 (row sums of head h's rows of W_Q) and G_h = W_Q,h W_Q,h^T, both precomputed
// once per model, so a score costs O(head_dim^2) per query head instead of O(head_dim * d_model).
// GQA: a kv head's score is the max over its query heads. A q bias (Qwen2) is not part of W_Q and
// is left out, as in the reformulation q.k = h W_Q (m W_K)^T.
#pragma once
#include <cstdint>
#include <vector>

#include "attention/config.h"
#include "ops/ops.h"

namespace lc {

struct TramsLayerWeights {
  int64_t n_heads = 0, head_dim = 0, d_model = 0;
  std::vector<double> u;     // [n_heads, head_dim]
  std::vector<double> gram;  // [n_heads, head_dim, head_dim]
};

// From W_Q [n_heads * head_dim, d_model] (any dtype), accumulated in double.
TramsLayerWeights trams_layer_weights(const ops::WeightView& wq, int64_t n_heads, int64_t head_dim);

// Scores [n_kv_heads] of one token's unrotated keys k [n_kv_heads, head_dim].
void trams_scores(const TramsLayerWeights& w, TramsScore kind, int64_t n_kv_heads, const float* k,
                  float* out);

}  // namespace lc
