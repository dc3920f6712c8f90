// Instruction-set detection (cpuid + OS support via xgetbv). The environment variable
// LONGCTX_ISA=generic|avx2|avx512 caps the choice (useful for tests and comparisons).
#pragma once
#include <string>

namespace lc {

enum class Isa { Generic = 0, Avx2 = 1, Avx512 = 2 };

const char* isa_name(Isa isa);
// Best ISA this CPU and OS support (ignores the environment override).
Isa detect_isa();
// detect_isa() capped by LONGCTX_ISA when set; throws lc::Error on an unknown value.
Isa selected_isa();
// Whether `isa` can run here.
bool isa_supported(Isa isa);
// Whether the CPU has AVX512_VNNI (vpdpbusd) on top of Isa::Avx512; the quantized kernels use
// it when present (ops/quant/kernels.h).
bool cpu_has_avx512_vnni();

}  // namespace lc
