// A compact way to write attention-policy test cases: {policy, sinks, window, ceiling} with
// explicit values (ceiling kNone = no ceiling), and the AttentionConfig it stands for.
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

}  // namespace lc::test
