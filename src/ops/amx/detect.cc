// amx::enabled(): cpuid, the XCR0 tile state, the Linux permission and the environment.
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "core/cpu.h"
#include "core/error.h"
#include "ops/amx/amx.h"

namespace lc::ops::amx {

namespace {

constexpr long kArchReqXcompPerm = 0x1023;  // linux/arch/x86/include/uapi/asm/prctl.h
constexpr long kXfeatureXtiledata = 18;

bool cpu_and_os_allow() {
  if (!env_switch("LONGCTX_AMX")) return false;
  if (selected_isa() != Isa::Avx512) return false;  // the packing and stores use AVX-512
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool amx_bf16 = d & (1u << 22), amx_tile = d & (1u << 24);
  if (!(amx_bf16 && amx_tile)) return false;
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & (3u << 17)) != (3u << 17)) return false;  // XTILECFG and XTILEDATA enabled by the OS
  // Linux (5.16+) hands out the 8 KB tile state per process on request.
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

}  // namespace

bool env_switch(const char* name) {
  const char* env = std::getenv(name);
  if (env && *env && std::strcmp(env, "1") != 0) {
    check(std::strcmp(env, "0") == 0, name,
          ": expected 0 (off) or 1 (on where the CPU has it), got '", env, "'");
    return false;
  }
  return true;
}

bool enabled() {
  static const bool on = cpu_and_os_allow();
  return on;
}

}  // namespace lc::ops::amx
