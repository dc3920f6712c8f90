// Q8_0: the ggml block quantizer, the reference dequantizing loader, and every ISA's gemm_q8_0
// against the exact product of the dequantized weights (ops::ref::gemm in double).
//
// Tolerance, from the maths of the kernel: X is quantized per block b of 32 to q = round(x / d_b)
// with d_b = max|x in b| / 127, so each element moves by at most d_b / 2, and the integer block
// dots are exact. Hence |got - exact| <= sum_b (d_b / 2) * sum_{k in b} |w_k|  (quantization)
//                                       + (K + 2) * eps * sum_k |x_k w_k|       (f32 summation,
// as in ops_test.cc), with a 1% margin on the first term for the f32 product d_w * d_x.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/dtype.h"
#include "core/rng.h"
#include "ops/ops.h"
#include "ops/reference.h"

namespace lc::ops {
namespace {

std::vector<Isa> isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512})
    if (isa_supported(isa)) out.push_back(isa);
  return out;
}

TEST(Q8, QuantizeRoundTripWithinHalfStep) {
  Rng rng(5);
  std::vector<float> x(96);
  for (auto& v : x) v = rng.normal() * 3.0f;
  x[40] = 0.0f;
  for (int i = 64; i < 96; ++i) x[i] = 0.0f;  // an all-zero block: d = 0, q = 0
  std::vector<uint8_t> q(3 * kQ8BlockBytes);
  quantize_q8_0(x.data(), 96, q.data());
  for (int b = 0; b < 3; ++b) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::fmax(amax, std::fabs(x[b * 32 + i]));
    for (int i = 0; i < 32; ++i) {
      const float got = ref::load(q.data(), DType::Q8_0, b * 32 + i);
      // d is rounded to fp16 (relative 2^-11), so the step is amax/127 * (1 + 2^-11).
      EXPECT_NEAR(got, x[b * 32 + i], amax / 127.0f * (0.5f + 128 * 0.0005f) + 1e-30f);
    }
  }
  EXPECT_EQ(dtype_bytes(DType::Q8_0, 96), 102);
  EXPECT_EQ(parse_dtype("q8_0"), DType::Q8_0);
}

struct Shape {
  int64_t M, K, N, m0, m1;
};

void check(const KernelTable& kt, const Shape& s, Rng& rng, int misalign) {
  SCOPED_TRACE(testing::Message() << isa_name(kt.isa) << " M=" << s.M << " K=" << s.K
                                  << " N=" << s.N << " rows [" << s.m0 << "," << s.m1
                                  << ") misalign " << misalign);
  std::vector<float> wf(static_cast<size_t>(s.M * s.K)), x(static_cast<size_t>(s.N * s.K + 1));
  for (auto& v : wf) v = rng.normal() * 0.05f;
  for (auto& v : x) v = rng.normal();
  if (s.K >= 64) x[33] = 40.0f;  // one outlier: its block's step is coarse
  std::vector<uint8_t> wbuf(static_cast<size_t>(dtype_bytes(DType::Q8_0, s.M * s.K)) + 8);
  uint8_t* w = wbuf.data() + misalign;
  for (int64_t m = 0; m < s.M; ++m)
    quantize_q8_0(wf.data() + m * s.K, s.K, w + dtype_bytes(DType::Q8_0, m * s.K));
  const float kGuard = -7.5e33f;
  std::vector<float> y(static_cast<size_t>(s.N * s.M), kGuard), yr(y.size(), kGuard);
  ref::gemm(w, DType::Q8_0, s.K, x.data(), s.K, s.N, yr.data(), s.M, s.m0, s.m1);
  kt.gemm_q8_0(w, s.K, x.data(), s.K, s.N, y.data(), s.M, s.m0, s.m1);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t m = 0; m < s.M; ++m) {
      const size_t i = static_cast<size_t>(n * s.M + m);
      if (m < s.m0 || m >= s.m1) {
        ASSERT_EQ(y[i], kGuard) << "row outside [m0, m1) written";
        continue;
      }
      double quant = 0, abs_sum = 0;
      for (int64_t b = 0; b < s.K / 32; ++b) {
        double amax = 0, wsum = 0;
        for (int64_t k = b * 32; k < b * 32 + 32; ++k) {
          const double wk = ref::load(w, DType::Q8_0, m * s.K + k);
          amax = std::fmax(amax, std::fabs(x[n * s.K + k]));
          wsum += std::fabs(wk);
          abs_sum += std::fabs(wk * x[n * s.K + k]);
        }
        quant += amax / 127.0 / 2.0 * wsum;
      }
      ASSERT_TRUE(std::isfinite(y[i]));
      ASSERT_NEAR(y[i], yr[i], 1.01 * quant + (s.K + 2) * FLT_EPSILON * abs_sum + 1e-30)
          << "n=" << n << " m=" << m;
    }
  // Decode (one row of X at a time) gives bit-identical results to the batched call.
  for (int64_t n = 0; n < s.N; ++n) {
    std::vector<float> y1(static_cast<size_t>(s.M), kGuard);
    kt.gemm_q8_0(w, s.K, x.data() + n * s.K, s.K, 1, y1.data(), s.M, s.m0, s.m1);
    for (int64_t m = s.m0; m < s.m1; ++m) ASSERT_EQ(y1[m], y[n * s.M + m]) << "n=" << n;
  }
}

TEST(Q8, GemmMatchesReferenceOverShapes) {
  Rng rng(77);
  const int64_t Ks[] = {0, 32, 64, 96, 320};
  const int64_t Ms[] = {1, 3, 4, 5, 9, 17};
  const int64_t Ns[] = {1, 2, 3, 8, 9, 17};
  for (Isa isa : isas())
    for (int64_t K : Ks)
      for (int64_t M : Ms)
        for (int64_t N : Ns) {
          check(kernels_for(isa), {M, K, N, 0, M}, rng, 0);
          const int64_t m0 = rng.next_u32() % M, m1 = m0 + 1 + rng.next_u32() % (M - m0);
          check(kernels_for(isa), {M, K, N, m0, m1}, rng, 1);
        }
}

TEST(Q8, GemmLargeShapesCrossChunks) {
  Rng rng(78);
  // K = 4096 + 96 crosses the 4096-element X chunk; N = 19 crosses the 8-row chunks.
  const Shape cases[] = {
      {67, 4192, 1, 0, 67}, {33, 4192, 19, 1, 30}, {130, 768, 64, 0, 130}, {5, 8224, 2, 0, 5}};
  for (Isa isa : isas())
    for (const Shape& s : cases) check(kernels_for(isa), s, rng, 3);
}

TEST(Q8, GemmForPicksQ8Kernel) {
  for (Isa isa : isas())
    EXPECT_EQ(gemm_for(kernels_for(isa), DType::Q8_0), kernels_for(isa).gemm_q8_0);
}

}  // namespace
}  // namespace lc::ops
