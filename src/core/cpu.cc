#include "core/cpu.h"

#include <cpuid.h>

#include <cstdint>
#include <cstdlib>

#include "core/error.h"

namespace lc {

namespace {
uint64_t xgetbv0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}
}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Generic:
      return "generic";
    case Isa::Avx2:
      return "avx2";
    case Isa::Avx512:
      return "avx512";
  }
  return "?";
}

Isa detect_isa() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return Isa::Generic;
  bool osxsave = c & (1u << 27), fma = c & (1u << 12), f16c = c & (1u << 29);
  if (!osxsave) return Isa::Generic;
  uint64_t xcr0 = xgetbv0();
  bool ymm_os = (xcr0 & 0x6) == 0x6, zmm_os = (xcr0 & 0xe6) == 0xe6;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return Isa::Generic;
  bool avx2 = b & (1u << 5), avx512f = b & (1u << 16), avx512bw = b & (1u << 30),
       avx512vl = b & (1u << 31), avx512dq = b & (1u << 17);
  if (!(ymm_os && avx2 && fma && f16c)) return Isa::Generic;
  if (zmm_os && avx512f && avx512bw && avx512vl && avx512dq) return Isa::Avx512;
  return Isa::Avx2;
}

bool cpu_has_avx512_vnni() {
  if (detect_isa() != Isa::Avx512) return false;
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return c & (1u << 11);
}

bool isa_supported(Isa isa) { return static_cast<int>(isa) <= static_cast<int>(detect_isa()); }

Isa selected_isa() {
  Isa best = detect_isa();
  const char* env = std::getenv("LONGCTX_ISA");
  if (!env || !*env) return best;
  std::string s(env);
  Isa want;
  if (s == "generic")
    want = Isa::Generic;
  else if (s == "avx2")
    want = Isa::Avx2;
  else if (s == "avx512")
    want = Isa::Avx512;
  else
    fail("LONGCTX_ISA: expected generic, avx2 or avx512, got '", s, "'");
  return static_cast<int>(want) < static_cast<int>(best) ? want : best;
}

}  // namespace lc
