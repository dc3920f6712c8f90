// An attention policy resolved for one session: the KV-cache geometry it needs and, for a query
// at absolute position i, which cached keys it attends to and at what distance (the table in
// ../shared/specs/lm-infinite.md, "Policies"). One file per policy: full.cc, window.cc,
// streaming.cc, lambda.cc; the kernel that executes any plan is attend_policy (policy_attend.cc).
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

 protected:
  CacheGeometry geo_;
  int64_t max_block_ = 0;
  bool plain_causal_ = false;
  bool needs_global_query_ = false;
  std::string label_;
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
std::unique_ptr<AttentionPolicy> make_lambda_policy(int64_t global, int64_t local, int64_t ceiling,
                                                    int64_t block_tokens);

}  // namespace lc
