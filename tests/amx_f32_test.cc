// The f32 products at "high" precision on AMX tiles (src/ops/amx/amx.h: gemm_f32_split, and the
// weight-gradient form pack_tn_b + gemm_tn_split) against double-precision sums, over seeded
// random shapes around the tile sizes (16 rows, 16 columns, 32-deep chunks); and the trainer's
// products under train::MatmulPrecision::kHigh against kHighest. Bound (twice amx.h's):
//   |y - y_exact| <= (6 * 2^-16 + 6 * len * 2^-24) * sum |a b|   (len: the contraction length).
// Skips, saying why, where the CPU or the OS does not offer AMX.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <tuple>
#include <vector>

#include "core/aligned.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "ops/amx/amx.h"
#include "train/layers.h"

namespace lc {
namespace {

constexpr float kGuard = -1.2345678e33f;

double bound(int64_t len) { return 6 * std::ldexp(1.0, -16) + 6.0 * len * std::ldexp(1.0, -24); }

std::vector<float> normal(int64_t n, float scale, Rng& rng) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = rng.normal() * scale;
  return v;
}

#define SKIP_WITHOUT_AMX()                                                              \
  if (!ops::amx::enabled())                                                             \
  GTEST_SKIP() << "AMX-BF16 not usable here (cpuid, the OS permission, LONGCTX_ISA or " \
                  "LONGCTX_AMX=0): the f32 products on tiles are not tested on this machine"

struct NtCase {
  int64_t N, M, K, m0, m1;
};

// Y[n][m] = sum_k X[n][k] W[m][k], W with a row stride wider than K, Y with guards.
TEST(AmxF32, SplitProductWithinBoundOverRandomShapes) {
  SKIP_WITHOUT_AMX();
  std::vector<NtCase> cases = {{1, 1, 32, 0, 1},       {15, 17, 64, 0, 17},  {16, 16, 320, 0, 16},
                               {17, 33, 96, 5, 33},    {64, 70, 864, 0, 70}, {100, 48, 32, 16, 48},
                               {33, 200, 128, 37, 151}};
  Rng r(5);
  for (int i = 0; i < 8; ++i) {
    NtCase c;
    c.N = 1 + r.next_u32() % 90;
    c.M = 1 + r.next_u32() % 90;
    c.K = 32 * (1 + r.next_u32() % 10);
    c.m0 = r.next_u32() % c.M;
    c.m1 = c.m0 + 1 + r.next_u32() % (c.M - c.m0);
    cases.push_back(c);
  }
  Rng rng(7);
  for (const NtCase& c : cases) {
    SCOPED_TRACE(testing::Message() << "N=" << c.N << " M=" << c.M << " K=" << c.K << " rows ["
                                    << c.m0 << ", " << c.m1 << ")");
    const int64_t ldw = c.K + 5, ldy = c.M + 3;
    const std::vector<float> X = normal(c.N * c.K, 1.0f, rng), W = normal(c.M * ldw, 0.05f, rng);
    const int64_t part = ops::amx::packed_x_bytes(c.N, c.K) / 4;
    AlignedBuffer<uint32_t> xp(static_cast<size_t>(2 * part));
    std::vector<float> Y(static_cast<size_t>(c.N * ldy), kGuard);
    ops::amx::pack_x_split(X.data(), c.K, c.N, c.K, xp.data(), xp.data() + part);
    ops::amx::gemm_f32_split(W.data(), ldw, c.K, xp.data(), xp.data() + part, c.N, Y.data(), ldy,
                             c.m0, c.m1);
    for (int64_t n = 0; n < c.N; ++n)
      for (int64_t m = 0; m < ldy; ++m) {
        const float y = Y[static_cast<size_t>(n * ldy + m)];
        if (m < c.m0 || m >= c.m1) {
          ASSERT_EQ(y, kGuard) << "touched Y[" << n << "][" << m << "]";
          continue;
        }
        double exact = 0, mag = 0;
        for (int64_t k = 0; k < c.K; ++k) {
          const double p = static_cast<double>(X[static_cast<size_t>(n * c.K + k)]) *
                           W[static_cast<size_t>(m * ldw + k)];
          exact += p;
          mag += std::fabs(p);
        }
        ASSERT_LE(std::fabs(y - exact), bound(c.K) * mag + 1e-30)
            << "Y[" << n << "][" << m << "] = " << y << " vs " << exact;
      }
  }
}

// C[m][k] += sum_n A[n][m] B[n][k]: rows n around the 32-row chunks, columns k around the 16-wide
// tiles (masked tails), sub-ranges of m that start inside a tile; C is accumulated into (random
// start) and untouched outside [m0, m1) x [0, K); splitting [m0, m1) anywhere gives the same bits.
TEST(AmxF32, WeightGradientWithinBoundOverRandomShapes) {
  SKIP_WITHOUT_AMX();
  Rng rng(11);
  for (int64_t N : {1, 31, 32, 33, 100, 300})
    for (int64_t K : {1, 15, 16, 17, 40, 100})
      for (auto [M, m0, m1] :
           {std::tuple<int64_t, int64_t, int64_t>{1, 0, 1}, {20, 0, 20}, {40, 3, 37}}) {
        SCOPED_TRACE(testing::Message()
                     << "N=" << N << " K=" << K << " m [" << m0 << ", " << m1 << ") of " << M);
        const int64_t lda = M + 2, ldb = K + 3, ldc = K + 4;
        const std::vector<float> A = normal(N * lda, 1.0f, rng), B = normal(N * ldb, 1.0f, rng);
        const std::vector<float> C0 = normal(M * ldc, 1.0f, rng);
        const int64_t part = ops::amx::tn_b_bytes(N, K) / 4;
        AlignedBuffer<uint32_t> bp(static_cast<size_t>(2 * part));
        ops::amx::pack_tn_b(B.data(), ldb, N, K, bp.data(), bp.data() + part);
        std::vector<float> C = C0, split = C0;
        ops::amx::gemm_tn_split(A.data(), lda, N, bp.data(), bp.data() + part, K, C.data(), ldc, m0,
                                m1);
        const int64_t mid = m0 + (m1 - m0) / 3;
        ops::amx::gemm_tn_split(A.data(), lda, N, bp.data(), bp.data() + part, K, split.data(), ldc,
                                m0, mid);
        ops::amx::gemm_tn_split(A.data(), lda, N, bp.data(), bp.data() + part, K, split.data(), ldc,
                                mid, m1);
        ASSERT_EQ(0, std::memcmp(C.data(), split.data(), C.size() * sizeof(float)));
        for (int64_t m = 0; m < M; ++m)
          for (int64_t k = 0; k < ldc; ++k) {
            const size_t i = static_cast<size_t>(m * ldc + k);
            if (m < m0 || m >= m1 || k >= K) {
              ASSERT_EQ(C[i], C0[i]) << "touched C[" << m << "][" << k << "]";
              continue;
            }
            double exact = 0, mag = 0;
            for (int64_t n = 0; n < N; ++n) {
              const double p = static_cast<double>(A[static_cast<size_t>(n * lda + m)]) *
                               B[static_cast<size_t>(n * ldb + k)];
              exact += p;
              mag += std::fabs(p);
            }
            const double want = C0[i] + exact;
            ASSERT_LE(std::fabs(C[i] - want),
                      bound(N) * mag + std::ldexp(1.0, -23) * (std::fabs(C0[i]) + mag))
                << "C[" << m << "][" << k << "] = " << C[i] << " vs " << want;
          }
      }
}

// The trainer's linear layer under kHigh: forward, dX and dW within the bound of kHighest's
// results (both near the exact sums), and the same bits at 1, 2 and 3 threads. N = 16 x 33 rows,
// K = 96 (tiles), M = 70 (dX's contraction, not a multiple of 32: that product stays on f32).
TEST(AmxF32, TrainerLinearLayerAtHighPrecision) {
  SKIP_WITHOUT_AMX();
  const int64_t N = 528, K = 96, M = 70;
  Rng rng(3);
  const std::vector<float> X = normal(N * K, 1.0f, rng), W = normal(M * K, 0.1f, rng),
                           dY = normal(N * M, 1.0f, rng);
  struct Out {
    std::vector<float> Y, dX, dW;
  };
  auto run = [&](train::MatmulPrecision p, int threads) {
    train::set_matmul_precision(p);
    ThreadPool pool(threads);
    Out o{std::vector<float>(static_cast<size_t>(N * M)),
          std::vector<float>(static_cast<size_t>(N * K)),
          std::vector<float>(static_cast<size_t>(M * K), 0.0f)};
    std::vector<float> scratch;
    train::linear_forward(pool, X.data(), N, K, W.data(), static_cast<const float*>(nullptr), M,
                          o.Y.data());
    train::linear_backward(pool, X.data(), dY.data(), N, K, W.data(), M, o.dX.data(), o.dW.data(),
                           static_cast<float*>(nullptr), scratch);
    train::set_matmul_precision(train::MatmulPrecision::kHighest);
    return o;
  };
  const Out ref = run(train::MatmulPrecision::kHighest, 2);
  const Out high = run(train::MatmulPrecision::kHigh, 2);
  // Per element: both results within their bounds of the exact sum, so within the sum of the
  // two of each other (kHighest's: 2 len 2^-24, twice gamma_len). Output (i, j) of a product of
  // length len is sum_t a(i, t) b(j, t), with the operands read through a and b.
  auto check = [](const std::vector<float>& got, const std::vector<float>& want, int64_t rows,
                  int64_t cols, int64_t len, auto a, auto b, const char* what) {
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        double mag = 0;
        for (int64_t t = 0; t < len; ++t) mag += std::fabs(static_cast<double>(a(i, t)) * b(j, t));
        const size_t e = static_cast<size_t>(i * cols + j);
        ASSERT_LE(std::fabs(got[e] - want[e]), (bound(len) + 2.0 * len * 0x1p-24) * mag + 1e-30)
            << what << "[" << i << "][" << j << "]";
      }
  };
  auto at = [](const std::vector<float>& v, int64_t stride) {
    return [&v, stride](int64_t r, int64_t c) { return v[static_cast<size_t>(r * stride + c)]; };
  };
  auto at_t = [](const std::vector<float>& v, int64_t stride) {  // transposed
    return [&v, stride](int64_t r, int64_t c) { return v[static_cast<size_t>(c * stride + r)]; };
  };
  check(high.Y, ref.Y, N, M, K, at(X, K), at(W, K), "Y");
  check(high.dW, ref.dW, M, K, N, at_t(dY, M), at_t(X, K), "dW");
  ASSERT_EQ(0, std::memcmp(high.dX.data(), ref.dX.data(), ref.dX.size() * sizeof(float)))
      << "dX's contraction (70) is not a multiple of 32: it stays on the f32 kernels";
  for (int threads : {1, 3}) {
    const Out t = run(train::MatmulPrecision::kHigh, threads);
    ASSERT_EQ(0, std::memcmp(t.Y.data(), high.Y.data(), t.Y.size() * sizeof(float))) << threads;
    ASSERT_EQ(0, std::memcmp(t.dW.data(), high.dW.data(), t.dW.size() * sizeof(float))) << threads;
  }
  // The tiles changed something: a no-op kHigh would leave Y equal to kHighest's bits.
  ASSERT_NE(0, std::memcmp(high.Y.data(), ref.Y.data(), ref.Y.size() * sizeof(float)));
}

}  // namespace
}  // namespace lc
