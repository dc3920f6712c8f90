#include "attention/policy.h"

#include "core/error.h"

namespace lc {

std::unique_ptr<AttentionPolicy> make_policy(const AttentionConfig& c, const PolicyContext& pc) {
  check(pc.trained_ctx > 0, "attention: the model's trained context is unknown (", pc.trained_ctx,
        ")");
  check(pc.block_tokens >= 1, "attention: block of ", pc.block_tokens, " tokens");
  if (c.topk > 0)
    fail("--attn ", c.label(), ": top-k middle tokens are not implemented yet (drop --topk)");
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
    case AttnPolicy::Lambda:
      // D defaults to L (= L_pre unless L is set), the official code's choice.
      return make_lambda_policy(c.sinks < 0 ? 10 : c.sinks, window,
                                c.ceiling < 0 ? window : c.ceiling, pc.block_tokens);
  }
  fail("attention: unknown policy");
}

}  // namespace lc
