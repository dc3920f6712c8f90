// libFuzzer target for the attention settings parser (attention/parse.h): the input is
// "VALUE\nLIST". VALUE is given to each shared flag in turn (--window VALUE, --sinks VALUE, ...)
// and LIST is parsed as an --attn list over those defaults, with and without explicit_attn.
// Bad text must give an lc::Error, never a crash; every config that parses is resolved by
// make_policy against a small model (an lc::Error is fine there too), and a policy that resolves
// must have a label and row plans within the cache layout RowPlan describes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "attention/config.h"
#include "attention/parse.h"
#include "attention/policy.h"
#include "core/error.h"

namespace {

void exercise(const lc::AttentionConfig& c, bool explicit_attn) {
  lc::PolicyContext pc;
  pc.trained_ctx = 64;
  pc.ctx = 64;
  pc.block_tokens = 4;
  pc.model_window = explicit_attn ? 0 : 16;
  try {
    const auto policy = lc::make_policy(c, pc);
    if (policy->label().empty()) __builtin_trap();
    const lc::CacheGeometry& g = policy->geometry();
    if (g.n_pinned < 0 || g.ring < 0 || g.n_raw < 0 || g.n_raw > g.n_pinned) __builtin_trap();
    if (policy->max_block() < 1) __builtin_trap();
    for (int64_t i = 0; i < 80; ++i) {
      const lc::RowPlan p = policy->plan(i);
      // Globals are positions [0, n_global), all below the local range [local_lo, i].
      if (p.local_lo < 0 || p.n_global < 0 || p.n_global > p.local_lo) __builtin_trap();
    }
  } catch (const lc::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nl = input.find('\n');
  const std::string value = nl == std::string::npos ? std::string() : input.substr(0, nl);
  const std::string list = nl == std::string::npos ? input : input.substr(nl + 1);
  // The defaults alone, then VALUE given to one shared flag at a time.
  std::vector<lc::AttentionConfig> bases(1);
  for (const std::string& flag : lc::attention_setting_flags()) {
    lc::AttentionConfig base;
    try {
      lc::apply_attention_flag(&base, flag, value);
      bases.push_back(base);
    } catch (const lc::Error&) {
    }
  }
  for (const lc::AttentionConfig& base : bases) {
    for (const bool explicit_attn : {true, false}) {
      try {
        for (const lc::AttentionConfig& c : lc::parse_attention_list(list, base, explicit_attn))
          exercise(c, explicit_attn);
      } catch (const lc::Error&) {
      }
    }
  }
  return 0;
}
