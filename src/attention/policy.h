// An attention policy resolved for one session: the KV-cache geometry it needs and, for a query
// at absolute position i, which cached keys it attends to and at what distance (the table in
// ../shared/specs/lm-infinite.md, "Policies"). One file per policy: full.cc, window.cc,
// streaming.cc, lambda.cc, trams.cc; the kernel that executes any plan is attend_policy
// (policy_attend.cc).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "attention/config.h"
#include "attention/kv_cache.h"

namespace lc {

// How the query at position i sees the cache. Every key is either
//   local:  positions [local_lo, i] (empty when local_lo > i), logit <R(i) q, R(j) k_j> (true
//           distance i - j; ALiBi bias -m * (i - j)); or
//   global: positions [0, n_global), all below local_lo, logit <R(global_pos) q, k'_j> where
//           k'_j is the unrotated key when global_raw (distance global_pos: the LM-Infinite
//           ceiling D) and the key rotated at j otherwise (distance global_pos - j: StreamingLLM's
//           re-assigned positions, or the true distance when global_pos == i).
// All columns share one softmax.
struct RowPlan {
  int64_t local_lo = 0;
  int64_t n_global = 0;
  int64_t global_pos = 0;
  bool global_raw = false;
};

// LM-Infinite's top-k middle tokens (spec lm-infinite.md, "Optional: top-k middle tokens"): in
// layers >= from_layer a query at i also attends, per query head, to the k middle tokens
// first <= j < RowPlan::local_lo with the largest logits <R(distance) q, k_j> (k_j unrotated;
// ALiBi: bias -m * distance), in the same softmax. pool > 0: only the pool tokens with the best
// TRAMS score among those middle tokens are candidates (the bounded middle pool).
struct MiddleTopK {
  int64_t k = 0;  // 0 = off
  int64_t from_layer = 0;
  int64_t first = 0;
  int64_t distance = 0;
  int64_t pool = 0;  // 0 = every middle token
  bool active(int64_t layer) const { return k > 0 && layer >= from_layer; }
};

// TRAMS memory selection (spec trams.md): besides its local keys [RowPlan::local_lo, i] (itself
// and the `recent` before it) the query at i attends to the best `select - recent` of the older
// pool [i - pool, local_lo) by the per-(layer, kv head) score the cache keeps per slot.
// compacted: a selected key's distance is its rank as if the attended keys were contiguous.
struct TramsSelect {
  int64_t pool = 0;  // 0 = off
  int64_t recent = 0;
  int64_t select = 0;
  bool compacted = false;
  int64_t extra() const { return select - recent; }
};

class AttentionPolicy {
 public:
  virtual ~AttentionPolicy() = default;
  virtual RowPlan plan(int64_t i) const = 0;

  const CacheGeometry& geometry() const { return geo_; }
  // Bounded policies keep O(sinks + window) keys and stream indefinitely.
  bool bounded() const { return geo_.ring > 0; }
  // Plain causal attention over every earlier key (full without a ceiling).
  bool plain_causal() const { return plain_causal_; }
  // The largest number of tokens one forward may append such that every query of the block still
  // finds all its local keys in the ring (the ring is sized window + block_tokens - 1).
  int64_t max_block() const { return max_block_; }
  // Whether some row may score global keys with the query rotated to a position other than its
  // own (then the model supplies a second, differently rotated copy of the queries).
  bool needs_global_query() const { return needs_global_query_; }
  // E.g. "lambda(G=10,L=512,D=512)", with every default resolved.
  const std::string& label() const { return label_; }
  const MiddleTopK& middle() const { return middle_; }
  const TramsSelect& trams() const { return trams_; }
  // Which TRAMS score the cache keeps (geometry().slot_scores, or a bounded middle pool).
  TramsScore score_kind() const { return score_kind_; }
  // Stores keys and values as k / v (kv_types.h); the label gains kv_types_label(k, v).
  void set_kv_types(DType k, DType v);
  // Whether the model must compute token scores for `layer`.
  bool scores_layer(int64_t layer) const {
    return geo_.slot_scores || (middle_.pool > 0 && middle_.active(layer));
  }

 protected:
  CacheGeometry geo_;
  int64_t max_block_ = 0;
  bool plain_causal_ = false;
  bool needs_global_query_ = false;
  std::string label_;
  MiddleTopK middle_;
  TramsSelect trams_;
  TramsScore score_kind_ = TramsScore::Paper;
};

// What a policy's defaults resolve against.
struct PolicyContext {
  int64_t trained_ctx = 0;   // the model's trained context L_pre
  int64_t ctx = 0;           // capacity of an unbounded (full) cache
  int64_t block_tokens = 1;  // most tokens per forward
  int64_t model_window = 0;  // the window the model was trained with (Mistral); 0 = none
};

// Resolves defaults (spec: lambda G = 10, L = L_pre, D = L; streaming S = 4, W = L_pre; window
// W = L_pre) and validates; throws lc::Error naming the setting on a nonsensical value.
std::unique_ptr<AttentionPolicy> make_policy(const AttentionConfig& c, const PolicyContext& pc);

// The individual policies (arguments already resolved).
std::unique_ptr<AttentionPolicy> make_full_policy(int64_t ctx, int64_t ceiling);
std::unique_ptr<AttentionPolicy> make_window_policy(int64_t window, int64_t block_tokens);
std::unique_ptr<AttentionPolicy> make_streaming_policy(int64_t sinks, int64_t window,
                                                       int64_t block_tokens);
// topk: k == 0 for plain lambda; else distance, from_layer and pool as resolved (first = global).
std::unique_ptr<AttentionPolicy> make_lambda_policy(int64_t global, int64_t local, int64_t ceiling,
                                                    int64_t block_tokens,
                                                    const MiddleTopK& topk = {},
                                                    TramsScore score = TramsScore::Paper);
std::unique_ptr<AttentionPolicy> make_trams_policy(const TramsSelect& sel, TramsScore score,
                                                   int64_t block_tokens);

}  // namespace lc
