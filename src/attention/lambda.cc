// `lambda` (LM-Infinite, Han et al. 2024): a Λ-shaped mask -- the G starting tokens (global) plus
// the last L tokens (local) -- and a distance ceiling D for the global ones:
//   local  i - L < j <= i:            <R(i) q, R(j) k_j>   (true distance, <= L - 1)
//   global j < G and j <= i - L:      <R(D) q, k_j>        (k_j unrotated: distance D)
// A starting token inside the local window is attended once, as a local key. With D = none the
// global tokens are at their true distance (the "Λ-mask without ceiling" ablation).
//
// Cache: G pinned slots (with unrotated key copies when there is a ceiling) and a ring of
// L + block_tokens - 1 slots for positions >= G; memory O(G + L) for any stream length.
//
// Top-k middle tokens (spec "Optional: top-k middle tokens"): in layers >= H each query head also
// attends to the k middle tokens G <= j <= i - L with the largest logits <R(L_pre/2) q, k_j>
// (k_j unrotated), in the same softmax and with that logit. Deliberate deviation from the
// official code, which does this for the last query row of each forward call only: here every
// row does it, so that a prompt prefilled in one call and the same text decoded token by token
// give the same logits (decode-vs-prefill). The middle keys (unrotated) and values of layers >= H
// live in the cache's MiddleStore: every position >= G, unbounded (O(n), the paper's behaviour),
// or the P best by TRAMS score with a bounded middle pool (O(G + L + P): the ring keeps a score
// per slot and hands a token to the pool when it leaves the window); layers < H stay O(G + L).
#include <algorithm>

#include "attention/policy.h"
#include "attention/policy_table.h"
#include "core/error.h"

namespace lc {

namespace {

class LambdaPolicy final : public AttentionPolicy {
 public:
  LambdaPolicy(int64_t global, int64_t local, int64_t ceiling, int64_t block,
               const MiddleTopK& topk, TramsScore score)
      : global_(global), local_(local), ceiling_(ceiling) {
    const bool clip = ceiling != AttentionConfig::kNoCeiling;
    geo_ = CacheGeometry{global, local + block - 1, clip ? global : 0};
    max_block_ = block;
    needs_global_query_ = clip && global > 0;
    label_ = "lambda(G=" + std::to_string(global) + ",L=" + std::to_string(local) +
             ",D=" + (clip ? std::to_string(ceiling) : std::string("none")) + ")";
    if (topk.k > 0) {
      middle_ = topk;
      middle_.first = global;
      score_kind_ = score;
      geo_.middle_from_layer = topk.from_layer;
      geo_.middle_first = global;
      if (topk.pool > 0) {
        // A bounded pool takes a token when it leaves the window (lag L, from its ring slot and
        // slot score) and holds the best P + block - 1: the last row of a block is up to
        // block - 1 tokens ahead of the first, which still finds its best P (middle_store.h).
        geo_.middle_capacity = topk.pool + block - 1;
        geo_.middle_lag = local;
        geo_.slot_scores = true;
      }
      label_ += "+top" + std::to_string(topk.k) + "@" + std::to_string(topk.from_layer);
      if (topk.pool > 0)
        label_ += "+pool" + std::to_string(topk.pool) + "(" + trams_score_name(score) + ")";
    }
  }
  RowPlan plan(int64_t i) const override {
    RowPlan p;
    p.local_lo = std::max<int64_t>(0, i - local_ + 1);
    p.n_global = std::min(global_, p.local_lo);
    const bool clip = ceiling_ != AttentionConfig::kNoCeiling;
    p.global_pos = clip ? ceiling_ : i;
    p.global_raw = clip;
    return p;
  }

 private:
  int64_t global_, local_, ceiling_;
};

}  // namespace

std::unique_ptr<AttentionPolicy> make_lambda_policy(int64_t global, int64_t local, int64_t ceiling,
                                                    int64_t block_tokens, const MiddleTopK& topk,
                                                    TramsScore score) {
  check(global >= 0, "lambda: G = ", global, " must be >= 0");
  check(local >= 1, "lambda: L = ", local, " must be >= 1");
  check(ceiling >= 0, "lambda: D = ", ceiling, " must be >= 0 (or none)");
  check(topk.k >= 0, "--topk ", topk.k, ": expected a count >= 0");
  check(topk.from_layer >= 0, "--topk-from-layer ", topk.from_layer, ": expected a layer >= 0");
  check(topk.distance >= 0, "lambda: top-k distance ", topk.distance, " must be >= 0");
  check(topk.pool >= 0, "--middle-pool ", topk.pool, ": expected a count >= 1");
  return std::make_unique<LambdaPolicy>(global, local, ceiling, block_tokens, topk, score);
}

std::unique_ptr<AttentionPolicy> resolve_lambda(const AttentionConfig& c, const PolicyContext& pc) {
  // D defaults to L (= L_pre unless L is set), the official code's choice. Middle tokens are
  // scored at the fixed distance L_pre / 2 (spec, "Optional: top-k middle tokens").
  const int64_t window = c.window > 0 ? c.window : pc.trained_ctx;
  MiddleTopK topk;
  topk.k = c.topk;
  topk.from_layer = c.topk_from_layer;
  topk.distance = pc.trained_ctx / 2;
  topk.pool = c.middle_pool;
  return make_lambda_policy(c.sinks < 0 ? 10 : c.sinks, window, c.ceiling < 0 ? window : c.ceiling,
                            pc.block_tokens, topk, c.trams_score);
}

}  // namespace lc
