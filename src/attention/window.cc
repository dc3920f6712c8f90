// `window` W: query i attends to i - W < j <= i at the true distance (spec table). The cache is a
// ring of W + block_tokens - 1 slots: a block of n queries appends n keys before attending, and
// its first query still needs the W - 1 keys before it.
#include <algorithm>

#include "attention/policy.h"
#include "attention/policy_table.h"
#include "core/error.h"

namespace lc {

namespace {

class WindowPolicy final : public AttentionPolicy {
 public:
  WindowPolicy(int64_t window, int64_t block) : window_(window) {
    geo_ = CacheGeometry{0, window + block - 1, 0};
    max_block_ = block;
    label_ = "window(W=" + std::to_string(window) + ")";
  }
  RowPlan plan(int64_t i) const override {
    return RowPlan{std::max<int64_t>(0, i - window_ + 1), 0, i, false};
  }

 private:
  int64_t window_;
};

}  // namespace

std::unique_ptr<AttentionPolicy> make_window_policy(int64_t window, int64_t block_tokens) {
  check(window >= 1, "window: W = ", window, " must be >= 1");
  return std::make_unique<WindowPolicy>(window, block_tokens);
}

std::unique_ptr<AttentionPolicy> resolve_window(const AttentionConfig& c, const PolicyContext& pc) {
  return make_window_policy(c.window > 0 ? c.window : pc.trained_ctx, pc.block_tokens);
}

}  // namespace lc
