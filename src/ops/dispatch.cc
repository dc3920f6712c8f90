// The one dispatch point: picks the per-ISA kernel table from cpuid (capped by LONGCTX_ISA).
#include "core/error.h"
#include "ops/ops.h"

namespace lc::ops {

// Defined in kernels_{generic,avx2,avx512}.cc; each returns a constant table, so touching one
// runs no code compiled for an instruction set the CPU may lack.
const KernelTable& kernels_generic();
const KernelTable& kernels_avx2();
const KernelTable& kernels_avx512();

const KernelTable& kernels_for(Isa isa) {
  check(isa_supported(isa), "kernels_for(", isa_name(isa), "): this CPU supports at most ",
        isa_name(detect_isa()), "; pick a supported ISA (e.g. LONGCTX_ISA=", isa_name(detect_isa()),
        ")");
  switch (isa) {
    case Isa::Avx512:
      return kernels_avx512();
    case Isa::Avx2:
      return kernels_avx2();
    case Isa::Generic:
      break;
  }
  return kernels_generic();
}

const KernelTable& kernels() {
  // Thread-safe one-time choice; if LONGCTX_ISA is invalid this throws and the next call retries.
  static const KernelTable& table = kernels_for(selected_isa());
  return table;
}

}  // namespace lc::ops
