// AVX-512 (F/BW/VL/DQ) instantiation of kernels_impl.h; only reached through dispatch.cc when
// cpuid says the CPU and OS support it. Tails use masked loads/stores, which never fault on the
// masked-off lanes, so reading a tail at the very end of a mapping is safe.
// <immintrin.h> through core/immintrin_quiet.h (GCC 12.2's false warnings in its AVX-512 header).
#include "core/immintrin_quiet.h"
#include "ops/kernels_table.h"
#include "ops/kernels_vavx512.h"

namespace lc::ops {
namespace {

constexpr KernelTable kTable = impl::make_table<VAvx512>(Isa::Avx512);

}  // namespace

const KernelTable& kernels_avx512() { return kTable; }

}  // namespace lc::ops
