#include "attention/policy.h"

#include "core/error.h"

namespace lc {

std::unique_ptr<AttentionPolicy> make_policy(const AttentionConfig& c, const PolicyContext& pc) {
  check(pc.trained_ctx > 0, "attention: the model's trained context is unknown (", pc.trained_ctx,
        ")");
  check(pc.block_tokens >= 1, "attention: block of ", pc.block_tokens, " tokens");
  check(c.topk >= 0 && c.topk <= 65536, "--topk ", c.topk, ": expected a count in [0, 65536]");
  if (c.topk > 0 && c.policy != AttnPolicy::Lambda)
    fail("--topk ", c.topk, ": expected --attn lambda (LM-Infinite's top-k), got ",
         policy_name(c.policy));
  if (c.middle_pool > 0 && c.topk == 0)
    fail("--middle-pool ", c.middle_pool, ": expected --topk K >= 1 too (top-k reads the pool)");
  check(c.middle_pool >= 0, "--middle-pool ", c.middle_pool, ": expected a count >= 1");
  check(c.window >= 0, "--window ", c.window, " must be positive");
  const int64_t window = c.window > 0 ? c.window : pc.trained_ctx;
  switch (c.policy) {
    case AttnPolicy::Full:
      if (c.model_window && pc.model_window > 0 && c.ceiling < 0)
        return make_window_policy(pc.model_window, pc.block_tokens);
      check(pc.ctx > 0, "attention: context of ", pc.ctx, " tokens");
      return make_full_policy(pc.ctx, c.ceiling < 0 ? AttentionConfig::kNoCeiling : c.ceiling);
    case AttnPolicy::Window:
      return make_window_policy(window, pc.block_tokens);
    case AttnPolicy::Streaming:
      return make_streaming_policy(c.sinks < 0 ? 4 : c.sinks, window, pc.block_tokens);
    case AttnPolicy::Lambda: {
      // D defaults to L (= L_pre unless L is set), the official code's choice. Middle tokens are
      // scored at the fixed distance L_pre / 2 (spec, "Optional: top-k middle tokens").
      MiddleTopK topk;
      topk.k = c.topk;
      topk.from_layer = c.topk_from_layer;
      topk.distance = pc.trained_ctx / 2;
      topk.pool = c.middle_pool;
      return make_lambda_policy(c.sinks < 0 ? 10 : c.sinks, window,
                                c.ceiling < 0 ? window : c.ceiling, pc.block_tokens, topk,
                                c.trams_score);
    }
    case AttnPolicy::Trams: {
      // The official code's M = 400, R = 150, m = 200 (spec trams.md).
      TramsSelect sel;
      sel.pool = c.trams_pool < 0 ? 400 : c.trams_pool;
      sel.recent = c.trams_recent < 0 ? 150 : c.trams_recent;
      sel.select = c.trams_select < 0 ? 200 : c.trams_select;
      sel.compacted = c.trams_compacted;
      return make_trams_policy(sel, c.trams_score, pc.block_tokens);
    }
  }
  fail("attention: unknown policy");
}

}  // namespace lc
