// Compact attention-policy test cases: {policy, sinks, window, ceiling} with explicit values
// (ceiling kNone = no ceiling) and the AttentionConfig it stands for; lambda with top-k.
#pragma once
#include <cstdint>

#include "attention/config.h"

namespace lc::test {

inline constexpr int64_t kNone = AttentionConfig::kNoCeiling;

struct Pol {
  AttnPolicy policy;
  int64_t sinks, window, ceiling;
};

inline AttentionConfig config_of(const Pol& p) {
  AttentionConfig c;
  c.policy = p.policy;
  c.sinks = p.sinks;
  c.window = p.window;
  c.ceiling = p.policy == AttnPolicy::Full && p.ceiling == kNone ? -1 : p.ceiling;
  return c;
}

// lambda with G global tokens, window L, ceiling D, top-k K middle tokens in layers >= H, and a
// middle pool of P tokens (0 = unbounded).
inline AttentionConfig lambda_topk(int64_t G, int64_t L, int64_t D, int64_t K, int64_t H,
                                   int64_t P = 0) {
  AttentionConfig c;
  c.policy = AttnPolicy::Lambda;
  c.sinks = G;
  c.window = L;
  c.ceiling = D;
  c.topk = K;
  c.topk_from_layer = H;
  c.middle_pool = P;
  return c;
}

}  // namespace lc::test
