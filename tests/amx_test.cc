// The AMX bf16 and f16 products (src/ops/amx/amx.h) against double-precision references, over
// seeded random shapes: token counts around the 16-token groups (1, 15, 16, 17, 33, 64, 100), row
// counts around the 16-row tiles (1, 15, 16, 17, 48, 70) and sub-ranges of them, K of 1 to 48
// chunks, and a row stride of Y wider than M with guard values in the gaps. Skips, saying why,
// where the CPU or the OS does not offer AMX.
//
// bf16 weights, two bounds from the error analysis in amx.h (f16: check_f16_case):
//  * the arithmetic: against sum_k bf16(x_k) w_k in double, within K * 2^-23 * sum |bf16(x_k) w_k|
//    (twice gamma_K) -- a wrong tile layout or a lost chunk is far outside it;
//  * the rounding of the activations: against sum_k x_k w_k, within
//    (2^-8 + K * 2^-23) * sum |x_k w_k|.
#include "ops/amx/amx.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/aligned.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "ops/ops.h"

namespace lc::ops {
namespace {

constexpr float kGuard = -1.2345678e33f;

struct Case {
  int64_t N, M, K, m0, m1;
};

// Seeded X [N, K] ~ N(0, 1) and W [M, K] ~ N(0, 0.05^2) in type t (bf16 or f16).
struct Operands {
  std::vector<float> X;
  std::vector<uint16_t> W;
};
Operands random_operands(DType t, int64_t N, int64_t M, int64_t K, uint64_t seed) {
  Rng rng(seed);
  Operands o{std::vector<float>(static_cast<size_t>(N * K)),
             std::vector<uint16_t>(static_cast<size_t>(M * K))};
  for (auto& x : o.X) x = rng.normal();
  for (auto& w : o.W)
    w = t == DType::BF16 ? f32_to_bf16(rng.normal() * 0.05f) : f32_to_f16(rng.normal() * 0.05f);
  return o;
}

// Y [N, ldy] (guards outside rows [m0, m1)) from the AMX kernel for weights of type t.
std::vector<float> run_kernel(DType t, const Operands& o, const Case& c, int64_t ldy) {
  const int64_t bytes = amx::packed_x_bytes(c.N, c.K);
  AlignedBuffer<uint32_t> xp(static_cast<size_t>(bytes / 4)), xl(static_cast<size_t>(bytes / 4));
  std::vector<float> Y(static_cast<size_t>(c.N * ldy), kGuard);
  if (t == DType::BF16) {
    amx::pack_x(o.X.data(), c.K, c.N, c.K, xp.data());
    amx::gemm_bf16(o.W.data(), c.K, xp.data(), c.N, Y.data(), ldy, c.m0, c.m1);
  } else {
    amx::pack_x_split(o.X.data(), c.K, c.N, c.K, xp.data(), xl.data());
    amx::gemm_f16(o.W.data(), c.K, xp.data(), xl.data(), c.N, Y.data(), ldy, c.m0, c.m1);
  }
  return Y;
}

// bf16: the two bounds of the header comment. f16 (gemm_f16 on X split in two bf16 parts):
// against sum_k x_k w_k in double, within (2^-14 + 3K * 2^-23) * sum |x_k w_k| (twice amx.h's).
void check_case(DType t, const Case& c, uint64_t seed) {
  SCOPED_TRACE(testing::Message() << dtype_name(t) << " N=" << c.N << " M=" << c.M << " K=" << c.K
                                  << " rows [" << c.m0 << ", " << c.m1 << ")");
  const Operands o = random_operands(t, c.N, c.M, c.K, seed);
  const int64_t ldy = c.M + 3;
  const std::vector<float> Y = run_kernel(t, o, c, ldy);
  const double K = static_cast<double>(c.K);
  const double gamma = K * std::ldexp(1.0, -23);
  const double f16_bound = std::ldexp(1.0, -14) + 3.0 * gamma;
  for (int64_t n = 0; n < c.N; ++n) {
    for (int64_t m = 0; m < ldy; ++m) {
      const float y = Y[static_cast<size_t>(n * ldy + m)];
      if (m < c.m0 || m >= c.m1) {
        ASSERT_EQ(y, kGuard) << "touched Y[" << n << "][" << m << "] outside the rows asked for";
        continue;
      }
      double exact = 0, abs_exact = 0, rounded = 0, abs_rounded = 0;
      for (int64_t k = 0; k < c.K; ++k) {
        const float xf = o.X[static_cast<size_t>(n * c.K + k)];
        const uint16_t wb = o.W[static_cast<size_t>(m * c.K + k)];
        const double x = xf, xr = bf16_to_f32(f32_to_bf16(xf));
        const double w = t == DType::BF16 ? bf16_to_f32(wb) : f16_to_f32(wb);
        exact += x * w;
        abs_exact += std::fabs(x * w);
        rounded += xr * w;
        abs_rounded += std::fabs(xr * w);
      }
      ASSERT_TRUE(std::isfinite(y)) << "Y[" << n << "][" << m << "]";
      if (t == DType::F16) {
        ASSERT_LE(std::fabs(y - exact), f16_bound * abs_exact + 1e-30)
            << "Y[" << n << "][" << m << "] = " << y << " vs " << exact;
        continue;
      }
      ASSERT_LE(std::fabs(y - rounded), gamma * abs_rounded + 1e-30)
          << "Y[" << n << "][" << m << "] = " << y << " vs " << rounded;
      ASSERT_LE(std::fabs(y - exact), (std::ldexp(1.0, -8) + gamma) * abs_exact + 1e-30)
          << "Y[" << n << "][" << m << "] = " << y << " vs " << exact;
    }
  }
}

void check_case(const Case& c, uint64_t seed) {
  check_case(DType::F16, c, seed + 1000);
  check_case(DType::BF16, c, seed);
}

TEST(Amx, Bf16AndF16ProductsWithinTheirBoundsOverRandomShapes) {
  if (!amx::enabled())
    GTEST_SKIP() << "AMX-BF16 not usable here (cpuid, the OS permission, LONGCTX_ISA or "
                    "LONGCTX_AMX=0): the AMX product is not tested on this machine";
  const std::vector<Case> cases = {
      {1, 1, 32, 0, 1},     {15, 15, 32, 0, 15},  {16, 16, 64, 0, 16},    {17, 17, 96, 0, 17},
      {33, 48, 64, 0, 48},  {64, 70, 576, 0, 70}, {100, 33, 128, 16, 33}, {5, 70, 1536, 17, 70},
      {64, 64, 32, 32, 64}, {48, 37, 160, 3, 36}, {2, 200, 64, 100, 200}, {31, 16, 1024, 0, 16},
  };
  uint64_t seed = 1;
  for (const Case& c : cases) check_case(c, seed++);
  Rng r(99);
  for (int i = 0; i < 12; ++i) {
    Case c;
    c.N = 1 + r.next_u32() % 80;
    c.M = 1 + r.next_u32() % 90;
    c.K = 32 * (1 + r.next_u32() % 12);
    c.m0 = r.next_u32() % c.M;
    c.m1 = c.m0 + 1 + r.next_u32() % (c.M - c.m0);
    check_case(c, seed++);
  }
}

// matmul takes the AMX path for a bf16 W and many rows of X: the threaded product equals the
// kernel called directly, bit for bit, whatever the thread count.
TEST(Amx, MatmulUsesItForBf16AndF16Weights) {
  if (!amx::enabled()) GTEST_SKIP() << "AMX-BF16 not usable here";
  for (DType t : {DType::BF16, DType::F16}) {
    SCOPED_TRACE(dtype_name(t));
    const int64_t N = 77, M = 300, K = 576;
    const Operands o = random_operands(t, N, M, K, 7);
    const std::vector<float> direct = run_kernel(t, o, Case{N, M, K, 0, M}, M);
    const WeightView wv{t, o.W.data(), M, K};
    for (int threads : {1, 2, 3}) {
      ThreadPool pool(threads);
      std::vector<float> Y(static_cast<size_t>(N * M), kGuard);
      matmul(pool, wv, o.X.data(), N, Y.data());
      ASSERT_EQ(0, std::memcmp(Y.data(), direct.data(), Y.size() * sizeof(float)))
          << threads << " threads";
    }
  }
}

// bf16 weights: decode (one row of X) gives each output the same tile sum as a product of many
// rows, bit for bit, through matmul and matmul_shared alike: a token's logits do not depend on the
// path.
TEST(Amx, OneRowAgreesWithTheTiles) {
  if (!amx::enabled()) GTEST_SKIP() << "AMX-BF16 not usable here";
  {  // f16 takes the tiles for many rows only (common.cc)
    const int64_t N = 64, M = 200, K = 1536;
    const auto [X, W] = random_operands(DType::BF16, N, M, K, 11);
    const WeightView wv{DType::BF16, W.data(), M, K};
    ThreadPool pool(2);
    std::vector<float> many(static_cast<size_t>(N * M)), one(static_cast<size_t>(M)),
        shared(static_cast<size_t>(M));
    matmul(pool, wv, X.data(), N, many.data());
    for (int64_t n = 0; n < N; n += 21) {
      matmul(pool, wv, X.data() + n * K, 1, one.data());
      const MatmulJob job{&wv, shared.data()};
      matmul_shared(pool, &job, 1, X.data() + n * K, 1);
      for (int64_t m = 0; m < M; ++m) {
        ASSERT_EQ(one[static_cast<size_t>(m)], many[static_cast<size_t>(n * M + m)])
            << "matmul, row " << n << ", output " << m;
        ASSERT_EQ(shared[static_cast<size_t>(m)], many[static_cast<size_t>(n * M + m)])
            << "matmul_shared, row " << n << ", output " << m;
      }
    }
  }
}

}  // namespace
}  // namespace lc::ops
