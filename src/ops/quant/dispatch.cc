// Picks the quantized kernel table: the ISA chosen for ops::kernels(), with the AVX-512 level
// served by the VNNI kernels where the CPU has AVX512_VNNI and by the AVX2 ones otherwise.
#include "core/error.h"
#include "ops/quant/kernels_internal.h"

namespace lc::ops::quant {

const QuantKernels& quant_kernels_for(Isa isa) {
  check(isa_supported(isa), "quant_kernels_for(", isa_name(isa), "): this CPU supports at most ",
        isa_name(detect_isa()));
  switch (isa) {
    case Isa::Avx512:
      return cpu_has_avx512_vnni() ? quant_kernels_avx512vnni() : quant_kernels_avx2();
    case Isa::Avx2:
      return quant_kernels_avx2();
    case Isa::Generic:
      break;
  }
  return quant_kernels_generic();
}

const QuantKernels& quant_kernels() {
  static const QuantKernels& table = quant_kernels_for(selected_isa());
  return table;
}

}  // namespace lc::ops::quant
