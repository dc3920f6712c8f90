// Tests of the exact (f32-compute) attention kernels turn the AMX attention tile off for their
// scope (it rounds queries and probabilities to bf16: ops/amx/flash_amx.h), and back as it was.
#pragma once
#include "ops/amx/flash_amx.h"

namespace lc::test {

class FlashAmxScope {
 public:
  explicit FlashAmxScope(bool on) : was_(ops::amx::flash_enabled()) {
    ops::amx::set_flash_enabled(on);
  }
  ~FlashAmxScope() { ops::amx::set_flash_enabled(was_); }
  FlashAmxScope(const FlashAmxScope&) = delete;
  FlashAmxScope& operator=(const FlashAmxScope&) = delete;

 private:
  bool was_;
};

}  // namespace lc::test
