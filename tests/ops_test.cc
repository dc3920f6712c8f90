// Every per-ISA kernel against the slow reference (src/ops/reference.h), over seeded random
// shapes: 0, 1, odd sizes, vector width +- 1, large, misaligned pointers, sub-ranges of rows.
// Outputs are checked for NaN/Inf, and guard values around them must stay untouched.
//
// Tolerances come from the standard error bound of a float sum of K products computed in any
// order: |fl(sum) - sum| <= gamma_K * sum |x_k w_k| with gamma_K ~ K * u (u = 2^-24 = eps/2).
// We allow K * eps * sum|x_k w_k| (twice the bound) plus a few ulps for the final rounding; the
// reference accumulates in double, so its own error is negligible.
#include "ops/ops.h"

#include <gtest/gtest.h>
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numbers>
#include <thread>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "ops/reference.h"

namespace lc::ops {
namespace {

constexpr float kEps = FLT_EPSILON;
// A value no kernel would produce: guards hold it and must still hold it afterwards.
constexpr float kGuard = -1.2345678e33f;
constexpr int kGuardCount = 19;

std::vector<Isa> runnable_isas() {
  static bool printed = false;
  std::vector<Isa> out;
  for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512}) {
    if (isa_supported(isa)) {
      out.push_back(isa);
    } else if (!printed) {
      std::printf("[ SKIPPED  ] ISA %s: not supported by this CPU/OS (best is %s)\n", isa_name(isa),
                  isa_name(detect_isa()));
    }
  }
  printed = true;
  return out;
}

// A float array of n values starting `misalign` floats into a buffer, followed by guards.
struct Guarded {
  std::vector<float> buf;
  int offset;
  int64_t n;
  Guarded(int64_t n_, int misalign)
      : buf(n_ + misalign + kGuardCount, kGuard), offset(misalign), n(n_) {}
  float* data() { return buf.data() + offset; }
  void fill(Rng& rng, float scale = 1.0f) {
    for (int64_t i = 0; i < n; ++i) data()[i] = rng.normal() * scale;
  }
  bool guards_intact() const {
    for (int i = 0; i < offset; ++i)
      if (buf[i] != kGuard) return false;
    for (int i = 0; i < kGuardCount; ++i)
      if (buf[offset + n + i] != kGuard) return false;
    return true;
  }
};

// Weights stored in `t`, `misalign` elements into the buffer (so 2 bytes off for 16-bit types).
struct Weights {
  DType t;
  std::vector<float> f32;
  std::vector<uint16_t> h16;
  int misalign;
  Weights(DType t_, int64_t count, int misalign_, Rng& rng) : t(t_), misalign(misalign_) {
    if (t == DType::F32)
      f32.resize(count + misalign);
    else
      h16.resize(count + misalign);
    for (int64_t i = 0; i < count; ++i) {
      float v = rng.normal();
      if (t == DType::F32)
        f32[i + misalign] = v;
      else if (t == DType::BF16)
        h16[i + misalign] = f32_to_bf16(v);
      else
        h16[i + misalign] = f32_to_f16(v);
    }
  }
  const void* data() const {
    return t == DType::F32 ? static_cast<const void*>(f32.data() + misalign)
                           : static_cast<const void*>(h16.data() + misalign);
  }
};

struct GemmCase {
  int64_t M, K, N, m0, m1;
};

// Runs one gemm case for one ISA/dtype and checks values, rows outside [m0, m1), and guards.
// xt: the product through pack_xt + gemm_xt_* (the table must have them) instead of gemm_* (whose
// _nt twin is then not compared).
void check_gemm(const KernelTable& kt, DType t, const GemmCase& c, Rng& rng, bool xt = false) {
  SCOPED_TRACE(testing::Message() << isa_name(kt.isa) << (xt ? " xt " : " ") << dtype_name(t)
                                  << " M=" << c.M << " K=" << c.K << " N=" << c.N << " rows ["
                                  << c.m0 << "," << c.m1 << ")");
  const int misalign = static_cast<int>(rng.next_u32() % 2);
  Weights W(t, c.M * c.K, misalign, rng);
  const int64_t ldx = c.K + rng.next_u32() % 3, ldy = c.M + rng.next_u32() % 3;
  Guarded X(c.N * ldx, 1 - misalign);
  X.fill(rng);
  Guarded Y(c.N * ldy, misalign), Y_nt(c.N * ldy, misalign);
  std::vector<float> Yref(c.N * ldy, 0.0f);
  for (int64_t i = 0; i < Y.n; ++i) Y.data()[i] = Y_nt.data()[i] = kGuard;
  if (xt) {
    const GemmXtFn f = gemm_xt_for(kt, t);
    ASSERT_NE(f, nullptr);
    const int64_t b = kt.xt_block;
    // Packed into a buffer that starts dirty: pack_xt must write every lane it leaves to zero.
    std::vector<float> packed((c.N + b - 1) / b * b * c.K, std::nanf(""));
    pack_xt(X.data(), ldx, c.N, c.K, b, packed.data());
    f(W.data(), c.K, packed.data(), c.N, Y.data(), ldy, c.m0, c.m1);
    std::memcpy(Y_nt.data(), Y.data(), Y.n * sizeof(float));
  } else {
    gemm_for(kt, t)(W.data(), c.K, X.data(), ldx, c.N, Y.data(), ldy, c.m0, c.m1);
    gemm_for(kt, t, true)(W.data(), c.K, X.data(), ldx, c.N, Y_nt.data(), ldy, c.m0, c.m1);
  }
  ref::gemm(W.data(), t, c.K, X.data(), ldx, c.N, Yref.data(), ldy, c.m0, c.m1);
  ASSERT_TRUE(Y.guards_intact());
  ASSERT_TRUE(Y_nt.guards_intact());
  int bad = 0;
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t m = 0; m < ldy; ++m) {
      const float y = Y.data()[n * ldy + m];
      ASSERT_EQ(std::memcmp(&y, &Y_nt.data()[n * ldy + m], 4), 0) << "nt variant differs";
      if (m < c.m0 || m >= c.m1) {
        ASSERT_EQ(y, kGuard) << "row " << m << " outside [m0, m1) written (n=" << n << ")";
        continue;
      }
      double abs_sum = 0.0;
      for (int64_t k = 0; k < c.K; ++k)
        abs_sum += std::fabs(static_cast<double>(X.data()[n * ldx + k]) *
                             ref::load(W.data(), t, m * c.K + k));
      const double tol = (c.K + 2) * kEps * abs_sum;
      const double err = std::fabs(static_cast<double>(y) - Yref[n * ldy + m]);
      if (!std::isfinite(y) || err > tol) {
        if (++bad < 5)
          ADD_FAILURE() << "Y[" << n << "," << m << "] = " << y << ", reference "
                        << Yref[n * ldy + m] << ", |err| " << err << " > tol " << tol;
      }
    }
  EXPECT_EQ(bad, 0);
}

TEST(OpsDispatch, TablesMatchIsa) {
  for (Isa isa : runnable_isas()) EXPECT_EQ(kernels_for(isa).isa, isa);
  EXPECT_TRUE(isa_supported(kernels().isa));
}

TEST(OpsGemm, SmallShapesAllSizesAndSubranges) {
  Rng rng(1234);
  const int64_t Ks[] = {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 100};
  const int64_t Ms[] = {1, 3, 4, 5, 9, 17};
  const int64_t Ns[] = {1, 2, 3, 5, 7, 17};
  for (Isa isa : runnable_isas())
    for (DType t : {DType::F32, DType::BF16, DType::F16})
      for (int64_t K : Ks)
        for (int64_t M : Ms)
          for (int64_t N : Ns) {
            // Full range, and a random sub-range not aligned to the 4-row tiles.
            check_gemm(kernels_for(isa), t, {M, K, N, 0, M}, rng);
            int64_t m0 = rng.next_u32() % M, m1 = m0 + 1 + rng.next_u32() % (M - m0);
            check_gemm(kernels_for(isa), t, {M, K, N, m0, m1}, rng);
          }
}

TEST(OpsGemm, LargeShapes) {
  Rng rng(99);
  // K = 4099 spans several 1024-wide K blocks with a ragged tail; N = 130 and 64 cross the N
  // blocks of the prefill tiling; M = 515 leaves a 3-row remainder.
  const GemmCase cases[] = {{515, 4099, 1, 0, 515},   {515, 4099, 2, 3, 514}, {67, 1030, 64, 0, 67},
                            {130, 2053, 130, 1, 130}, {96, 768, 17, 16, 80},  {33, 4099, 5, 0, 33}};
  for (Isa isa : runnable_isas())
    for (DType t : {DType::F32, DType::BF16, DType::F16})
      for (const GemmCase& c : cases) check_gemm(kernels_for(isa), t, c, rng);
}

// Batched decode multiplies hundreds of rows at once (docs/perf/based_vs_llama.md (b)). Shapes
// cross the prefill tiling's 120-row N blocks and 1024-wide K blocks with ragged tails (N 128 ..
// 1001, not multiples of its 6-row micro-tile; K 1, 17, 1025, 2049), with M remainders below and
// above a vector and sub-ranges starting mid-group.
TEST(OpsGemm, ManyRowsShapes) {
  Rng rng(2027);
  const GemmCase cases[] = {{37, 257, 128, 0, 37}, {70, 519, 481, 3, 69}, {5, 1, 130, 0, 5},
                            {21, 33, 1001, 1, 20}, {9, 1025, 241, 0, 9},  {48, 17, 487, 16, 48},
                            {19, 2049, 245, 7, 19}};
  for (Isa isa : runnable_isas())
    for (DType t : {DType::F32, DType::BF16, DType::F16})
      for (const GemmCase& c : cases) check_gemm(kernels_for(isa), t, c, rng);
}

// The transposed-activation kernels (kernels_gemm_xt.h) of every ISA that has them: N across
// 1-3 token blocks with partial ones (1 .. 3 vectors of a block), M across the 96-row output tiles
// and the 6- / 4-row micro-tiles with sub-ranges starting mid-tile, K across the 128-wide K blocks
// with ragged tails (and K = 0).
TEST(OpsGemm, TransposedActivations) {
  Rng rng(4242);
  const GemmCase cases[] = {{1, 1, 1, 0, 1},      {7, 17, 5, 0, 7},       {13, 128, 16, 2, 11},
                            {97, 129, 33, 0, 97}, {200, 300, 64, 5, 199}, {45, 257, 65, 0, 45},
                            {6, 7, 130, 1, 6},    {193, 64, 24, 96, 193}, {9, 0, 40, 0, 9},
                            {31, 385, 100, 3, 30}};
  int tables = 0;
  for (Isa isa : runnable_isas()) {
    if (!kernels_for(isa).gemm_xt_f32) continue;
    ++tables;
    for (DType t : {DType::F32, DType::BF16, DType::F16})
      for (const GemmCase& c : cases) check_gemm(kernels_for(isa), t, c, rng, true);
  }
  if (tables == 0) GTEST_SKIP() << "no ISA of this CPU has gemm_xt (AVX2 or AVX-512 needed)";
}

const int64_t kLengths[] = {0,  1,  2,  3,  7,  8,  9,   15,   16,  17,
                            31, 32, 33, 63, 64, 65, 100, 1000, 4099};

TEST(OpsKernels, Dot) {
  Rng rng(7);
  for (Isa isa : runnable_isas())
    for (int64_t n : kLengths)
      for (int mis = 0; mis < 2; ++mis) {
        SCOPED_TRACE(testing::Message() << isa_name(isa) << " n=" << n << " misalign=" << mis);
        Guarded a(n, mis), b(n, 1 - mis);
        a.fill(rng);
        b.fill(rng);
        double abs_sum = 0.0;
        for (int64_t i = 0; i < n; ++i) abs_sum += std::fabs(double{a.data()[i]} * b.data()[i]);
        float got = kernels_for(isa).dot(a.data(), b.data(), n);
        ASSERT_TRUE(std::isfinite(got));
        EXPECT_NEAR(got, ref::dot(a.data(), b.data(), n), (n + 2) * kEps * abs_sum);
      }
}

TEST(OpsKernels, Axpy) {
  Rng rng(8);
  for (Isa isa : runnable_isas())
    for (int64_t n : kLengths) {
      SCOPED_TRACE(testing::Message() << isa_name(isa) << " n=" << n);
      Guarded x(n, 1), y(n, 0);
      x.fill(rng);
      y.fill(rng);
      std::vector<float> yref(y.data(), y.data() + n);
      const float alpha = rng.normal();
      kernels_for(isa).axpy(alpha, x.data(), y.data(), n);
      ref::axpy(alpha, x.data(), yref.data(), n);
      ASSERT_TRUE(y.guards_intact());
      // One multiply and one add, possibly fused: two roundings at most.
      for (int64_t i = 0; i < n; ++i)
        ASSERT_NEAR(y.data()[i], yref[i],
                    2 * kEps * (std::fabs(alpha * x.data()[i]) + std::fabs(yref[i])) + 1e-30);
    }
}

TEST(OpsKernels, WeightedSum) {
  Rng rng(17);
  for (Isa isa : runnable_isas())
    for (int64_t rows : {0, 1, 3, 4, 5, 9})
      for (int64_t keys : {0, 1, 7, 33})
        for (int64_t cols : {1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 129}) {
          SCOPED_TRACE(testing::Message() << isa_name(isa) << " rows=" << rows << " keys=" << keys
                                          << " cols=" << cols);
          // Strides larger than the used extents, and misaligned starts.
          const int64_t ldp = keys + 3, ldv = cols + 5, ldo = cols + 2;
          Guarded p(rows * ldp, 1), v(keys * ldv, 1), out(rows * ldo, 1);
          p.fill(rng);
          v.fill(rng);
          std::vector<float> want(rows * ldo, kGuard);
          kernels_for(isa).weighted_sum(p.data(), ldp, rows, v.data(), ldv, keys, cols, out.data(),
                                        ldo);
          ref::weighted_sum(p.data(), ldp, rows, v.data(), ldv, keys, cols, want.data(), ldo);
          ASSERT_TRUE(out.guards_intact());
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t d = 0; d < ldo; ++d) {
              float got = out.data()[r * ldo + d];
              if (d >= cols) {  // padding between rows is untouched
                ASSERT_EQ(got, kGuard) << "r=" << r << " d=" << d;
                continue;
              }
              // A length-`keys` dot product in f32: (keys + 1) eps sum |p v|.
              double mag = 0;
              for (int64_t j = 0; j < keys; ++j)
                mag += std::fabs(p.data()[r * ldp + j] * v.data()[j * ldv + d]);
              ASSERT_NEAR(got, want[r * ldo + d], (keys + 1) * kEps * mag + 1e-30)
                  << "r=" << r << " d=" << d;
            }
        }
}

// gemm_tn (the trainer's weight gradient C += A^T B) against the double reference: row counts n
// around the 128-row block, column counts k around the vector and tile widths, sub-ranges [m0, m1)
// that start and end inside a row group, padded strides; C starts from random values (it is
// accumulated into) and its padding stays untouched. Splitting [m0, m1) in two gives the same
// bits as one call (the trainer's threads split it).
TEST(OpsKernels, GemmTn) {
  Rng rng(23);
  for (Isa isa : runnable_isas())
    for (int64_t n : {0, 1, 5, 127, 128, 129, 300})
      for (int64_t k : {1, 7, 16, 17, 47, 63, 64, 65, 100})
        for (auto [m0, m1] : {std::pair<int64_t, int64_t>{0, 1}, {0, 6}, {1, 13}, {5, 29}}) {
          SCOPED_TRACE(testing::Message()
                       << isa_name(isa) << " n=" << n << " k=" << k << " m=" << m0 << ".." << m1);
          const int64_t M = m1 + 2, lda = M + 3, ldb = k + 5, ldc = k + 2;
          Guarded a(std::max<int64_t>(n * lda, 1), 1), b(std::max<int64_t>(n * ldb, 1), 3),
              c(M * ldc, 1);
          a.fill(rng);
          b.fill(rng);
          c.fill(rng);
          std::vector<float> c0(c.data(), c.data() + M * ldc), want = c0;
          kernels_for(isa).gemm_tn(a.data(), lda, b.data(), ldb, n, k, c.data(), ldc, m0, m1);
          ref::gemm_tn(a.data(), lda, b.data(), ldb, n, k, want.data(), ldc, m0, m1);
          ASSERT_TRUE(a.guards_intact() && b.guards_intact() && c.guards_intact());
          for (int64_t m = 0; m < M; ++m)
            for (int64_t j = 0; j < ldc; ++j) {
              const float got = c.data()[m * ldc + j];
              if (m < m0 || m >= m1 || j >= k) {  // outside the range: untouched
                ASSERT_EQ(got, c0[m * ldc + j]) << "m=" << m << " j=" << j;
                continue;
              }
              // n products summed in f32 in blocks, then added to C: (n + 2) eps (sum |a b| + |c|).
              double mag = std::fabs(c0[m * ldc + j]);
              for (int64_t i = 0; i < n; ++i)
                mag += std::fabs(a.data()[i * lda + m] * b.data()[i * ldb + j]);
              ASSERT_NEAR(got, want[m * ldc + j], (n + 2) * kEps * mag + 1e-30)
                  << "m=" << m << " j=" << j;
            }
          std::vector<float> split = c0;
          const int64_t mid = m0 + (m1 - m0) / 2;
          kernels_for(isa).gemm_tn(a.data(), lda, b.data(), ldb, n, k, split.data(), ldc, m0, mid);
          kernels_for(isa).gemm_tn(a.data(), lda, b.data(), ldb, n, k, split.data(), ldc, mid, m1);
          for (int64_t i = 0; i < M * ldc; ++i) ASSERT_EQ(split[i], c.data()[i]) << "i=" << i;
        }
}

// The flash-attention tile (FlashTile) against the reference, two tiles in a row so that the
// second starts from a running state: every lane count the ISA takes, odd head dims and key
// counts, f32/bf16/f16 rows, with and without a mask (whole masked lanes included).
// flash_scores (the tile's score pass alone, for the top-k middle keys) against double sums:
// every lane count the ISA takes, odd head dims and key counts, f32/bf16/f16 key rows; rows past
// nk of s stay untouched.
TEST(OpsKernels, FlashScores) {
  Rng rng(31);
  for (Isa isa : runnable_isas()) {
    const KernelTable& K = kernels_for(isa);
    for (int64_t ldm = K.flash_lanes; ldm <= K.flash_max_m; ldm += K.flash_lanes)
      for (int64_t hd : {1, 7, 64, 65})
        for (int64_t nk : {1, 5, 9, 32})
          for (DType kt : {DType::F32, DType::BF16, DType::F16}) {
            SCOPED_TRACE(testing::Message() << isa_name(isa) << " ldm=" << ldm << " hd=" << hd
                                            << " nk=" << nk << " kt=" << dtype_name(kt));
            std::vector<float> qt(hd * ldm), kf(nk * hd);
            for (float& x : qt) x = rng.normal();
            std::vector<uint16_t> kh(nk * hd);
            for (int64_t i = 0; i < nk * hd; ++i) {
              const float x = rng.normal();
              kh[i] = kt == DType::BF16 ? f32_to_bf16(x) : f32_to_f16(x);
              kf[i] = kt == DType::F32    ? x
                      : kt == DType::BF16 ? bf16_to_f32(kh[i])
                                          : f16_to_f32(kh[i]);
            }
            const void* k = kt == DType::F32 ? static_cast<const void*>(kf.data()) : kh.data();
            std::vector<float> s((nk + 1) * ldm, kGuard), work(flash_work_floats(hd));
            K.flash_scores(qt.data(), ldm, hd, k, kt, nk, s.data(), work.data());
            for (int64_t j = 0; j <= nk; ++j)
              for (int64_t i = 0; i < ldm; ++i) {
                const float got = s[j * ldm + i];
                if (j == nk) {
                  ASSERT_EQ(got, kGuard) << "row " << j << " lane " << i;
                  continue;
                }
                double want = 0, mag = 0;
                for (int64_t d = 0; d < hd; ++d) {
                  want += static_cast<double>(kf[j * hd + d]) * qt[d * ldm + i];
                  mag += std::fabs(static_cast<double>(kf[j * hd + d]) * qt[d * ldm + i]);
                }
                ASSERT_NEAR(got, want, (hd + 1) * kEps * mag + 1e-30)
                    << "key " << j << " lane " << i;
              }
          }
  }
}

TEST(OpsKernels, FlashTile) {
  Rng rng(29);
  for (Isa isa : runnable_isas()) {
    const KernelTable& K = kernels_for(isa);
    for (int64_t ldm = K.flash_lanes; ldm <= K.flash_max_m; ldm += K.flash_lanes)
      for (int64_t hd : {1, 7, 16, 64, 65})
        for (int64_t nk : {1, 5, 31, 32})
          for (DType kt : {DType::F32, DType::BF16, DType::F16})
            for (int masked = 0; masked < 2; ++masked) {
              const DType vt = kt == DType::F16 ? DType::BF16 : kt;
              SCOPED_TRACE(testing::Message()
                           << isa_name(isa) << " ldm=" << ldm << " hd=" << hd << " nk=" << nk
                           << " kt=" << dtype_name(kt) << " masked=" << masked);
              std::vector<float> qt(hd * ldm), bias(nk * ldm, 0.0f);
              for (float& x : qt) x = rng.normal() * 0.5f;
              auto rows = [&](DType t) {  // nk x hd rows of type t, as bytes
                std::vector<uint16_t> h(nk * hd);
                std::vector<float> f(nk * hd);
                for (int64_t i = 0; i < nk * hd; ++i) {
                  f[i] = rng.normal();
                  h[i] = t == DType::BF16 ? f32_to_bf16(f[i]) : f32_to_f16(f[i]);
                }
                std::vector<uint8_t> b(t == DType::F32 ? f.size() * 4 : h.size() * 2);
                std::memcpy(b.data(), t == DType::F32 ? static_cast<void*>(f.data()) : h.data(),
                            b.size());
                return b;
              };
              std::vector<uint8_t> k1 = rows(kt), v1 = rows(vt), k2 = rows(kt), v2 = rows(vt);
              if (masked)  // lane 0 sees nothing in the first tile; others lose random keys
                for (int64_t j = 0; j < nk; ++j)
                  for (int64_t i = 0; i < ldm; ++i)
                    if (i == 0 || rng.uniform() < 0.3) bias[j * ldm + i] = -INFINITY;
              std::vector<float> mx(ldm, kFlashStart), l(ldm, 0.0f), ot(hd * ldm, 0.0f);
              std::vector<float> rmx = mx, rl = l, rot = ot, work(flash_work_floats(hd));
              for (int tile = 0; tile < 2; ++tile) {
                const void* k = tile ? k2.data() : k1.data();
                const void* v = tile ? v2.data() : v1.data();
                const float* b = masked && tile == 0 ? bias.data() : nullptr;
                K.flash_tile(FlashTile{qt.data(), ldm, hd, nk, k, v, kt, vt, b, mx.data(), l.data(),
                                       ot.data(), work.data()});
                ref::flash_tile(FlashTile{qt.data(), ldm, hd, nk, k, v, kt, vt, b, rmx.data(),
                                          rl.data(), rot.data(), nullptr});
              }
              // f32 scores over hd products (the reference's in double), then exp and sums.
              const double tol = 1e-5 * static_cast<double>(hd + nk);
              for (int64_t i = 0; i < ldm; ++i) {
                ASSERT_NEAR(mx[i], rmx[i], tol) << "lane " << i;
                ASSERT_NEAR(l[i], rl[i], tol * rl[i]) << "lane " << i;
                ASSERT_GT(rl[i], 0.0f);
                for (int64_t d = 0; d < hd; ++d)
                  ASSERT_NEAR(ot[d * ldm + i] / l[i], rot[d * ldm + i] / rl[i], tol)
                      << "lane " << i << " d " << d;
              }
            }
  }
}

TEST(OpsKernels, Rmsnorm) {
  Rng rng(9);
  for (Isa isa : runnable_isas())
    for (int64_t n : kLengths) {
      if (n == 0) continue;
      for (bool in_place : {false, true}) {
        SCOPED_TRACE(testing::Message() << isa_name(isa) << " n=" << n << " in_place=" << in_place);
        Guarded x(n, 1), w(n, 0), y(n, 1);
        x.fill(rng, 3.0f);
        w.fill(rng);
        std::vector<float> yref(n);
        ref::rmsnorm(x.data(), w.data(), yref.data(), n, 1e-5f);
        float* out = in_place ? x.data() : y.data();
        kernels_for(isa).rmsnorm(x.data(), w.data(), out, n, 1e-5f);
        ASSERT_TRUE(x.guards_intact());
        ASSERT_TRUE(y.guards_intact());
        // Sum of squares: all terms positive, so relative error <= n*eps; then sqrt, divide and
        // two multiplies add a few ulps.
        for (int64_t i = 0; i < n; ++i)
          ASSERT_NEAR(out[i], yref[i], (n + 6) * kEps * std::fabs(yref[i]) + 1e-30) << "i=" << i;
      }
    }
}

TEST(OpsKernels, Softmax) {
  Rng rng(10);
  for (Isa isa : runnable_isas())
    for (int64_t n : kLengths) {
      if (n == 0) continue;
      SCOPED_TRACE(testing::Message() << isa_name(isa) << " n=" << n);
      Guarded x(n, 1);
      x.fill(rng, 5.0f);
      if (n > 3) x.data()[n / 2] = -INFINITY;  // a masked position must come out exactly 0
      std::vector<float> ref(x.data(), x.data() + n);
      ref::softmax(ref.data(), n);
      kernels_for(isa).softmax(x.data(), n);
      ASSERT_TRUE(x.guards_intact());
      double total = 0.0;
      // exp: ~3 ulp; the sum of n positive terms: n*eps relative; the division: 1 ulp.
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_TRUE(std::isfinite(x.data()[i]));
        ASSERT_NEAR(x.data()[i], ref[i], (n + 8) * kEps * ref[i] + 1e-37) << "i=" << i;
        total += x.data()[i];
      }
      if (n > 3) {
        EXPECT_EQ(x.data()[n / 2], 0.0f);
      }
      EXPECT_NEAR(total, 1.0, (n + 8) * kEps);
    }
}

TEST(OpsKernels, SiluMul) {
  Rng rng(11);
  for (Isa isa : runnable_isas())
    for (int64_t n : kLengths) {
      SCOPED_TRACE(testing::Message() << isa_name(isa) << " n=" << n);
      Guarded a(n, 0), b(n, 1);
      a.fill(rng, 6.0f);
      b.fill(rng);
      if (n > 2) a.data()[1] = 100.0f, a.data()[2] = -100.0f;  // exp's clamped range
      std::vector<float> ref(a.data(), a.data() + n);
      ref::silu_mul(ref.data(), b.data(), n);
      kernels_for(isa).silu_mul(a.data(), b.data(), n);
      ASSERT_TRUE(a.guards_intact());
      // exp ~3 ulp, 1 + e, divide and multiply: < 8 ulp relative. Absolute 1e-30 covers
      // a = -100, where the clamped exp gives ~1e-36 instead of ~1e-42.
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_TRUE(std::isfinite(a.data()[i]));
        ASSERT_NEAR(a.data()[i], ref[i], 8 * kEps * std::fabs(ref[i]) + 1e-30) << "i=" << i;
      }
    }
}

TEST(OpsKernels, GeluTanhMul) {
  Rng rng(13);
  for (Isa isa : runnable_isas())
    for (int64_t n : kLengths) {
      SCOPED_TRACE(testing::Message() << isa_name(isa) << " n=" << n);
      Guarded a(n, 0), b(n, 1);
      a.fill(rng, 6.0f);
      b.fill(rng);
      if (n > 4) a.data()[1] = 100.0f, a.data()[2] = -100.0f, a.data()[3] = 0.0f;
      std::vector<float> x(a.data(), a.data() + n), ref(x);
      ref::gelu_tanh_mul(ref.data(), b.data(), n);
      kernels_for(isa).gelu_tanh_mul(a.data(), b.data(), n);
      ASSERT_TRUE(a.guards_intact());
      // The kernel computes x / (1 + e), e = exp(-2u): the argument -2u carries ~2 ulp, so e
      // carries ~(3 + 2|2u|) ulp, of which the quotient keeps the fraction e / (1 + e); plus the
      // divide and the two multiplies. Absolute 1e-30 covers x = -100 (clamped exp).
      for (int64_t i = 0; i < n; ++i) {
        const double xi = x[i],
                     two_u = 2 * std::sqrt(2 / std::numbers::pi) * (xi + 0.044715 * xi * xi * xi);
        const double e = std::exp(std::fmin(-two_u, 88.0)), frac = e / (1 + e);
        const double tol = (8 + (3 + 2 * std::fabs(two_u)) * frac) * kEps * std::fabs(ref[i]);
        ASSERT_TRUE(std::isfinite(a.data()[i]));
        ASSERT_NEAR(a.data()[i], ref[i], tol + 1e-30) << "i=" << i << " x=" << xi;
      }
    }
  // Values printed by torch 1.13 (nn.functional.gelu(x, approximate='tanh'), float64).
  const float xs[] = {-3.0f, -1.0f, -0.5f, 0.5f, 1.0f, 2.0f}, ones[] = {1, 1, 1, 1, 1, 1};
  const double torch_values[] = {-0.0036373920817729943, -0.15880800939172324, -0.15428599017485606,
                                 0.34571400982514394,    0.8411919906082768,   1.954597694087775};
  float got[6];
  std::copy(std::begin(xs), std::end(xs), got);
  kernels().gelu_tanh_mul(got, ones, 6);
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(got[i], torch_values[i], 1e-6) << "x=" << xs[i];
}

TEST(OpsRope, BothStylesOddHeadCounts) {
  Rng rng(12);
  for (Isa isa : runnable_isas())
    for (RopeStyle style : {RopeStyle::AdjacentPairs, RopeStyle::RotateHalf})
      for (int64_t head_dim : {2, 4, 6, 8, 14, 16, 18, 32, 34, 64, 66, 128})
        for (int64_t n_heads : {1, 3, 5}) {
          SCOPED_TRACE(testing::Message() << isa_name(isa) << " style=" << static_cast<int>(style)
                                          << " head_dim=" << head_dim << " heads=" << n_heads);
          Guarded x(n_heads * head_dim, 1), c(head_dim / 2, 0), s(head_dim / 2, 1);
          x.fill(rng);
          rope_angles(12345.0 + rng.next_u32() % 1000, head_dim, 10000.0, c.data(), s.data());
          std::vector<float> ref(x.data(), x.data() + x.n), orig = ref;
          ref::rope(ref.data(), n_heads, head_dim, c.data(), s.data(), style);
          kernels_for(isa).rope(x.data(), n_heads, head_dim, c.data(), s.data(), style);
          ASSERT_TRUE(x.guards_intact());
          // Two products and a sum in float: <= 3 ulp of the larger input magnitude.
          for (int64_t h = 0; h < n_heads; ++h)
            for (int64_t i = 0; i < head_dim; ++i) {
              const int64_t j = h * head_dim + i;
              const int64_t half = head_dim / 2;
              const int64_t partner =
                  style == RopeStyle::AdjacentPairs ? (i ^ 1) : (i < half ? i + half : i - half);
              const float scale = std::fabs(orig[j]) + std::fabs(orig[h * head_dim + partner]);
              ASSERT_NEAR(x.data()[j], ref[j], 3 * kEps * scale + 1e-30) << "h=" << h << " i=" << i;
            }
        }
}

TEST(OpsRope, AnglesAtHugePosition) {
  const double pos = 1e8 + 3;
  const int64_t head_dim = 128;
  std::vector<float> c(head_dim / 2), s(head_dim / 2);
  rope_angles(pos, head_dim, 10000.0, c.data(), s.data());
  const long double two_pi = 2.0L * std::acos(-1.0L);
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    long double inv = std::pow(10000.0L, -2.0L * i / head_dim);
    long double angle = std::fmod(static_cast<long double>(pos) * inv, two_pi);
    // The double product pos * inv_freq is off by <= 1e8 * 2^-53 ~ 1e-8 rad; plus float rounding.
    EXPECT_NEAR(c[i], static_cast<double>(std::cos(angle)), 1e-6) << "i=" << i;
    EXPECT_NEAR(s[i], static_cast<double>(std::sin(angle)), 1e-6) << "i=" << i;
  }
}

TEST(OpsMatmul, ThreadCountsMatchReference) {
  Rng rng(13);
  for (DType t : {DType::F32, DType::BF16, DType::F16})
    for (int threads : {1, 2, 3})
      // N x K > 2^15 leaves the few-rows path (N = 150).
      for (int64_t N : {1, 3, 64, 150}) {
        SCOPED_TRACE(testing::Message() << dtype_name(t) << " threads=" << threads << " N=" << N);
        const int64_t M = 83, K = 257;
        Weights W(t, M * K, 0, rng);
        std::vector<float> X(N * K), Y(N * M, kGuard), Yref(N * M);
        for (float& v : X) v = rng.normal();
        ThreadPool pool(threads);
        matmul(pool, WeightView{t, W.data(), M, K}, X.data(), N, Y.data());
        ref::gemm(W.data(), t, K, X.data(), K, N, Yref.data(), M, 0, M);
        for (int64_t n = 0; n < N; ++n)
          for (int64_t m = 0; m < M; ++m) {
            double abs_sum = 0.0;
            for (int64_t k = 0; k < K; ++k)
              abs_sum += std::fabs(double{X[n * K + k]} * ref::load(W.data(), t, m * K + k));
            ASSERT_NEAR(Y[n * M + m], Yref[n * M + m], (K + 2) * kEps * abs_sum);
          }
      }
}

// ---- Conversions -------------------------------------------------------------------------

__attribute__((target("f16c"))) float hw_f16_to_f32(uint16_t h) {
  return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}
__attribute__((target("f16c"))) uint16_t hw_f32_to_f16(float f) {
  return static_cast<uint16_t>(
      _mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(f), _MM_FROUND_TO_NEAREST_INT), 0));
}

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint32_t to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

TEST(DType, F16ToF32MatchesF16cForAllValues) {
  if (!isa_supported(Isa::Avx2)) GTEST_SKIP() << "no F16C on this CPU";
  for (uint32_t h = 0; h < 65536; ++h) {
    float ours = f16_to_f32(static_cast<uint16_t>(h)), hw = hw_f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(hw)) {
      ASSERT_TRUE(std::isnan(ours)) << std::hex << h;
      ASSERT_EQ(std::signbit(ours), std::signbit(hw)) << std::hex << h;
    } else {
      ASSERT_EQ(to_bits(ours), to_bits(hw)) << std::hex << h;
    }
  }
}

TEST(DType, F32ToF16MatchesF16c) {
  if (!isa_supported(Isa::Avx2)) GTEST_SKIP() << "no F16C on this CPU";
  std::vector<float> values = {0.0f,
                               -0.0f,
                               INFINITY,
                               -INFINITY,
                               NAN,
                               -NAN,
                               65504.0f,
                               65519.99f,
                               65520.0f,
                               -65520.0f,
                               1e10f,
                               5.960464477539063e-8f /* 2^-24 */,
                               2.98023223876953125e-8f /* 2^-25: tie to 0 */,
                               2.9802326e-8f,
                               8.940697e-8f /* 1.5 * 2^-24: tie to even */,
                               6.097555e-5f,
                               6.1035156e-5f /* 2^-14 */,
                               1.0f,
                               1.00048828125f /* tie */,
                               1.000732421875f,
                               FLT_MIN,
                               FLT_TRUE_MIN,
                               -FLT_TRUE_MIN};
  Rng rng(14);
  for (int i = 0; i < 1 << 20; ++i) values.push_back(from_bits(rng.next_u32()));
  // And values concentrated in the f16 range (exponents around 2^-25 .. 2^16).
  for (int i = 0; i < 1 << 20; ++i)
    values.push_back(
        from_bits((rng.next_u32() & 0x80ffffffu) | ((100 + rng.next_u32() % 45) << 23)));
  for (float f : values) {
    uint16_t ours = f32_to_f16(f), hw = hw_f32_to_f16(f);
    if (std::isnan(f)) {
      ASSERT_TRUE((ours & 0x7c00u) == 0x7c00u && (ours & 0x3ffu)) << f;
      ASSERT_EQ(ours & 0x8000u, hw & 0x8000u);
    } else {
      ASSERT_EQ(ours, hw) << "f=" << f << " bits=" << std::hex << to_bits(f);
    }
  }
}

// Round-to-nearest-even to bf16 computed the slow way: compare distances to the two neighbours.
uint16_t slow_f32_to_bf16(float f) {
  uint32_t u = to_bits(f);
  uint16_t lo = static_cast<uint16_t>(u >> 16);
  uint16_t hi = static_cast<uint16_t>(lo + 1);
  if ((u & 0xffffu) == 0) return lo;
  double dlo = std::fabs(double{f} - bf16_to_f32(lo));
  double dhi = std::fabs(double{bf16_to_f32(hi)} - f);
  // hi may be inf (f near FLT_MAX): dhi = inf then picks lo; the overflow cases are skipped.
  if (dlo < dhi) return lo;
  if (dhi < dlo) return hi;
  return (lo & 1u) ? hi : lo;
}

TEST(DType, Bf16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(0.0f), 0x0000);
  EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_bf16(INFINITY), 0x7f80);
  EXPECT_EQ(f32_to_bf16(-INFINITY), 0xff80);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(from_bits(0x7f800001u)))));  // sNaN stays NaN
  EXPECT_EQ(f32_to_bf16(FLT_MAX), 0x7f80);                                    // rounds up to inf
  EXPECT_EQ(f32_to_bf16(from_bits(0x3f808000u)), 0x3f80);                     // tie, even stays
  EXPECT_EQ(f32_to_bf16(from_bits(0x3f818000u)), 0x3f82);                     // tie, odd rounds up
  Rng rng(15);
  for (int i = 0; i < 1 << 20; ++i) {
    float f = from_bits(rng.next_u32());
    if (std::isnan(f) || std::isinf(f)) continue;
    uint16_t b = f32_to_bf16(f);
    if (std::isinf(bf16_to_f32(b))) continue;  // overflow is covered above
    ASSERT_EQ(b, slow_f32_to_bf16(f)) << std::hex << to_bits(f);
    // Exact round trip for values that are already bf16.
    ASSERT_EQ(f32_to_bf16(bf16_to_f32(b)), b);
  }
}

// ---- Thread pool ---------------------------------------------------------------------------

TEST(ThreadPool, SplitRangeCoversEachIndexOnce) {
  for (int64_t n : {0, 1, 2, 5, 15, 16, 17, 100, 1000, 4099})
    for (int64_t grain : {1, 3, 4, 16, 64})
      for (int nt : {1, 2, 3, 4, 7}) {
        std::vector<int> hits(n, 0);
        int64_t prev_end = 0;
        for (int t = 0; t < nt; ++t) {
          int64_t b, e;
          ThreadPool::split_range(n, grain, t, nt, &b, &e);
          ASSERT_EQ(b, prev_end) << "ranges must be contiguous, in thread order";
          ASSERT_LE(b, e);
          if (b < n) {
            ASSERT_EQ(b % grain, 0);
          }
          for (int64_t i = b; i < e; ++i) ++hits[i];
          prev_end = e;
        }
        ASSERT_EQ(prev_end, n);
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i], 1) << "n=" << n << " i=" << i;
      }
}

TEST(ThreadPool, RunCallsEveryIndexOnceAndDoesNotDeadlock) {
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool pool(threads);
    std::vector<std::atomic<int>> calls(threads);
    // Oversubscribed pools (more threads than cores) are exercised at full count too: the shares
    // of descheduled workers are run by the calling thread instead of waiting a time slice.
    const int reps = 2000;
    for (int r = 0; r < reps; ++r) {
      pool.run([&](int t, int nt) {
        ASSERT_EQ(nt, threads);
        calls[t].fetch_add(1);
      });
      // Now and then let the workers fall asleep, to exercise the wake-up path too.
      if (r % 100 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
    for (int t = 0; t < threads; ++t) EXPECT_EQ(calls[t].load(), reps) << "thread " << t;
    std::atomic<int64_t> sum{0};
    pool.parallel_for(1000, 16, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) sum.fetch_add(i);
    });
    EXPECT_EQ(sum.load(), 999 * 1000 / 2);
  }
}

// With every core busy (spinning threads outside the pool), workers are descheduled at random
// and their shares are taken over by the calling thread: each share still runs exactly once per
// run, with its own index, and results equal a one-thread pool's.
TEST(ThreadPool, SharesRunOnceWhenWorkersAreDescheduled) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> hogs;
  for (unsigned i = 0; i < std::max(1u, std::thread::hardware_concurrency()); ++i)
    hogs.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
      }
    });
  ThreadPool pool(3), one(1);
  constexpr int kReps = 3000, kN = 999;
  std::vector<float> a(kN), b(kN);
  int bad = 0;
  for (int r = 0; r < kReps && bad < 5; ++r) {
    std::vector<int> runs(3, 0);  // written by the share's own runner only
    pool.run([&](int t, int nt) {
      runs[t] += 1;
      int64_t lo, hi;
      ThreadPool::split_range(kN, 7, t, nt, &lo, &hi);
      for (int64_t i = lo; i < hi; ++i) a[i] = static_cast<float>(i * r % 97) * 0.5f;
    });
    for (int t = 0; t < 3; ++t) bad += runs[t] != 1;
    one.run([&](int, int) {
      for (int64_t i = 0; i < kN; ++i) b[i] = static_cast<float>(i * r % 97) * 0.5f;
    });
    bad += a != b;
  }
  stop.store(true);
  for (auto& h : hogs) h.join();
  EXPECT_EQ(bad, 0);
}

}  // namespace
}  // namespace lc::ops
