// `streaming` (StreamingLLM): S attention sinks (the first S tokens, pinned) plus the last W
// tokens after them, with positions re-assigned inside the cache. The cache is read as the
// contiguous sequence of what it holds, so the newest token sits at min(i, S + W - 1): recent
// tokens keep their true distance i - j, and sink j is at distance min(i, S + W - 1) - j. Before
// the cache fills (i < S + W) that is plain full attention.
//
// Sink logits are <R(min(i, S+W-1)) q, R(j) k_j>: the sink keys stay rotated at their own
// positions and the query is rotated a second time, to its in-cache position.
#include <algorithm>

#include "attention/policy.h"
#include "attention/policy_table.h"
#include "core/error.h"

namespace lc {

namespace {

class StreamingPolicy final : public AttentionPolicy {
 public:
  StreamingPolicy(int64_t sinks, int64_t window, int64_t block) : sinks_(sinks), window_(window) {
    // The ring holds positions >= S only: W recent ones, plus block - 1 for a prefill block.
    geo_ = CacheGeometry{sinks, window + block - 1, 0};
    max_block_ = block;
    needs_global_query_ = sinks > 0;
    label_ = "streaming(S=" + std::to_string(sinks) + ",W=" + std::to_string(window) + ")";
  }
  RowPlan plan(int64_t i) const override {
    RowPlan p;
    p.local_lo = std::max(sinks_, i - window_ + 1);
    p.n_global = std::min(sinks_, i + 1);
    p.global_pos = std::min(i, sinks_ + window_ - 1);
    p.global_raw = false;
    return p;
  }

 private:
  int64_t sinks_, window_;
};

}  // namespace

std::unique_ptr<AttentionPolicy> make_streaming_policy(int64_t sinks, int64_t window,
                                                       int64_t block_tokens) {
  check(sinks >= 0, "streaming: S = ", sinks, " must be >= 0");
  check(window >= 1, "streaming: W = ", window, " must be >= 1");
  return std::make_unique<StreamingPolicy>(sinks, window, block_tokens);
}

std::unique_ptr<AttentionPolicy> resolve_streaming(const AttentionConfig& c,
                                                   const PolicyContext& pc) {
  return make_streaming_policy(c.sinks < 0 ? 4 : c.sinks, c.window > 0 ? c.window : pc.trained_ctx,
                               pc.block_tokens);
}

}  // namespace lc
