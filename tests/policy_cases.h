// Compact attention-policy test cases: {policy, sinks, window, ceiling} with explicit values
// (ceiling kNone = no ceiling) and the AttentionConfig it stands for; lambda with top-k.
#pragma once
#include <cstdint>
#include <vector>

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

// One of each policy without top-k, with small windows (the typed-cache policy tests): full,
// full with a ceiling, window, streaming, lambda with and without a ceiling, TRAMS.
inline std::vector<AttentionConfig> small_policies() {
  std::vector<AttentionConfig> c = {config_of(Pol{AttnPolicy::Full, 0, 0, kNone}),
                                    config_of(Pol{AttnPolicy::Full, 0, 0, 9}),
                                    config_of(Pol{AttnPolicy::Window, 0, 11, kNone}),
                                    config_of(Pol{AttnPolicy::Streaming, 4, 13, kNone}),
                                    config_of(Pol{AttnPolicy::Lambda, 3, 17, 17}),
                                    config_of(Pol{AttnPolicy::Lambda, 3, 17, kNone})};
  AttentionConfig trams;
  trams.policy = AttnPolicy::Trams;
  trams.trams_pool = 40;
  trams.trams_recent = 6;
  trams.trams_select = 14;
  c.push_back(trams);
  return c;
}

}  // namespace lc::test
