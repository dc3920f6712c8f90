// AVX2 + FMA + F16C instantiation of kernels_impl.h (compiled with -mavx2 -mfma -mf16c; only
// reached through dispatch.cc when cpuid says the CPU and OS support it).
#include "ops/kernels_table.h"
#include "ops/kernels_vavx2.h"

namespace lc::ops {
namespace {

constexpr KernelTable kTable = impl::make_table<VAvx2>(Isa::Avx2);

}  // namespace

const KernelTable& kernels_avx2() { return kTable; }

}  // namespace lc::ops
