// `lambda` (LM-Infinite, Han et al. 2024): a Λ-shaped mask -- the G starting tokens (global) plus
// the last L tokens (local) -- and a distance ceiling D for the global ones:
//   local  i - L < j <= i:            <R(i) q, R(j) k_j>   (true distance, <= L - 1)
//   global j < G and j <= i - L:      <R(D) q, k_j>        (k_j unrotated: distance D)
// A starting token inside the local window is attended once, as a local key. With D = none the
// global tokens are at their true distance (the "Λ-mask without ceiling" ablation).
//
// Cache: G pinned slots (with unrotated key copies when there is a ceiling) and a ring of
// L + block_tokens - 1 slots for positions >= G; memory O(G + L) for any stream length.
#include <algorithm>

#include "attention/policy.h"
#include "core/error.h"

namespace lc {

namespace {

class LambdaPolicy final : public AttentionPolicy {
 public:
  LambdaPolicy(int64_t global, int64_t local, int64_t ceiling, int64_t block)
      : global_(global), local_(local), ceiling_(ceiling) {
    const bool clip = ceiling != AttentionConfig::kNoCeiling;
    geo_ = CacheGeometry{global, local + block - 1, clip ? global : 0};
    max_block_ = block;
    needs_global_query_ = clip && global > 0;
    label_ = "lambda(G=" + std::to_string(global) + ",L=" + std::to_string(local) +
             ",D=" + (clip ? std::to_string(ceiling) : std::string("none")) + ")";
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
                                                    int64_t block_tokens) {
  check(global >= 0, "lambda: G = ", global, " must be >= 0");
  check(local >= 1, "lambda: L = ", local, " must be >= 1");
  check(ceiling >= 0, "lambda: D = ", ceiling, " must be >= 0 (or none)");
  return std::make_unique<LambdaPolicy>(global, local, ceiling, block_tokens);
}

}  // namespace lc
