// Generic (baseline x86-64, no AVX) instantiation of kernels_impl.h. The "vector" is four plain
// floats; with -O3 the compiler maps it onto SSE2 registers, which every x86-64 CPU has.
#include "core/dtype.h"
#include "ops/kernels_table.h"

namespace lc::ops {
namespace {

struct VGeneric {
  static constexpr int kLanes = 4;
  static constexpr int kGemmRN = 2;  // 8 accumulators + 2 X + 1 W fit the 16 SSE registers
  // Flash tiles of up to 2 query vectors (8 queries): 2 x 4 accumulators.
  static constexpr int kFlashChunks = 2;
  static constexpr bool kFlashOutlined = false;
  static constexpr int kXtRows = 1;
  static constexpr int kXtChunks = 0;  // no gemm_xt: the gemm kernels serve every N
  // gemm_tn: 4 rows x 2 vectors = 8 accumulators + 2 loaded + 1 broadcast.
  static constexpr int kTnRows = 4;
  static constexpr int kTnChunks = 2;
  struct F {
    float v[4];
  };
  template <class Fn>
  static F map(Fn fn) {
    F r;
    for (int i = 0; i < 4; ++i) r.v[i] = fn(i);
    return r;
  }
  static float half(uint16_t h) { return f16_to_f32(h); }  // out of line in dtype.cc
  static F zero() { return set1(0.0f); }
  static F set1(float s) {
    return map([&](int) { return s; });
  }
  static float cvt(float w) { return w; }
  static float cvt(impl::Bf16 w) { return bf16_to_f32(w.bits); }
  static float cvt(impl::Fp16 w) { return f16_to_f32(w.bits); }
  static float cvt(impl::Int8 w) { return static_cast<float>(w.v); }
  static float cvt(impl::NibLo w) { return static_cast<float>(w.b & 15); }
  static float cvt(impl::NibHi w) { return static_cast<float>(w.b >> 4); }
  template <class T>
  static F load(const T* p) {
    return map([&](int i) { return cvt(p[i]); });
  }
  template <class T>
  static F load_n(const T* p, int n) {
    return map([&](int i) { return i < n ? cvt(p[i]) : 0.0f; });
  }
  static void store(float* p, F a) {
    for (int i = 0; i < 4; ++i) p[i] = a.v[i];
  }
  static void store_n(float* p, F a, int n) {
    for (int i = 0; i < n; ++i) p[i] = a.v[i];
  }
  static F add(F a, F b) {
    return map([&](int i) { return a.v[i] + b.v[i]; });
  }
  static F sub(F a, F b) {
    return map([&](int i) { return a.v[i] - b.v[i]; });
  }
  static F mul(F a, F b) {
    return map([&](int i) { return a.v[i] * b.v[i]; });
  }
  static F div(F a, F b) {
    return map([&](int i) { return a.v[i] / b.v[i]; });
  }
  static F min(F a, F b) {
    return map([&](int i) { return a.v[i] < b.v[i] ? a.v[i] : b.v[i]; });
  }
  static F max(F a, F b) {
    return map([&](int i) { return a.v[i] > b.v[i] ? a.v[i] : b.v[i]; });
  }
  // No FMA instruction in baseline x86-64: a separate multiply and add (std::fma would be a
  // libm call).
  static F fmadd(F a, F b, F c) {
    return map([&](int i) { return a.v[i] * b.v[i] + c.v[i]; });
  }
  static F round(F a) {
    // Adding and subtracting 1.5 * 2^23 rounds to nearest-even for |a| < 2^22 (here |a| <= 128);
    // without -ffast-math the compiler must keep both operations.
    return map([&](int i) { return (a.v[i] + 12582912.0f) - 12582912.0f; });
  }
  static F pow2i(F n) {
    return map([&](int i) {
      uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(n.v[i]) + 127) << 23;
      float f;
      __builtin_memcpy(&f, &bits, 4);
      return f;
    });
  }
  static float reduce(F a) { return (a.v[0] + a.v[1]) + (a.v[2] + a.v[3]); }
  static float reduce_max(F a) {
    float m = a.v[0];
    for (int i = 1; i < 4; ++i) m = a.v[i] > m ? a.v[i] : m;
    return m;
  }
  static void reduce4(F a, F b, F c, F d, float* out) {
    out[0] = reduce(a);
    out[1] = reduce(b);
    out[2] = reduce(c);
    out[3] = reduce(d);
  }
};

constexpr KernelTable kTable = impl::make_table<VGeneric>(Isa::Generic);

}  // namespace

const KernelTable& kernels_generic() { return kTable; }

}  // namespace lc::ops
