// LayerNorm (no bias) and exact GELU against their double-precision references (ops/reference.h)
// over odd sizes, including inputs whose mean dwarfs their spread (the case a one-pass variance
// gets wrong) and GELU's far tails (where 1 + erf cancels).
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <vector>

#include "core/rng.h"
#include "ops/ops.h"
#include "ops/reference.h"

namespace lc::ops {
namespace {

constexpr float kEps = FLT_EPSILON;

TEST(OpsNormAct, LayerNormMatchesReference) {
  Rng rng(21);
  for (int64_t n : {1, 2, 7, 31, 64, 767, 4097})
    for (float offset : {0.0f, 100.0f, -3000.0f}) {
      std::vector<float> x(n), w(n), y(n), want(n);
      for (auto& v : x) v = offset + 3.0f * rng.normal();
      for (auto& v : w) v = 1.0f + 0.5f * rng.normal();
      layernorm(x.data(), w.data(), y.data(), n, 1e-5f);
      ref::layernorm(x.data(), w.data(), want.data(), n, 1e-5f);
      double mean = 0, var = 0;
      for (float v : x) mean += v;
      mean /= n;
      for (float v : x) var += (v - mean) * (v - mean);
      const double inv = 1.0 / std::sqrt(var / n + 1e-5);
      for (int64_t i = 0; i < n; ++i) {
        // x - mean loses up to one ulp of |mean| (the float mean) plus one of the difference;
        // the scale carries ~n eps from the variance sum; then two multiplies.
        const double tol =
            (std::fabs(mean) + std::fabs(x[i] - mean)) * 2 * kEps * inv * std::fabs(w[i]) +
            (n + 8) * kEps * std::fabs(want[i]) + 1e-30;
        ASSERT_NEAR(y[i], want[i], tol) << "n=" << n << " offset=" << offset << " i=" << i;
      }
    }
}

TEST(OpsNormAct, LayerNormOfConstantInputIsZero) {
  std::vector<float> x(33, 7.25f), w(33, 2.0f), y(33, 1.0f);
  layernorm(x.data(), w.data(), y.data(), 33, 1e-5f);
  for (float v : y) EXPECT_EQ(v, 0.0f);
}

TEST(OpsNormAct, GeluMatchesReference) {
  Rng rng(22);
  std::vector<float> x;
  for (int i = 0; i < 4001; ++i) x.push_back(static_cast<float>(i - 2000) / 200.0f);  // [-10, 10]
  for (int i = 0; i < 1000; ++i) x.push_back(4.0f * rng.normal());
  x.push_back(0.0f);
  x.push_back(-0.0f);
  std::vector<float> y = x, want = x;
  gelu(y.data(), static_cast<int64_t>(y.size()));
  ref::gelu(want.data(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    // A few ulps relative, plus the absolute rounding of 1 + erf(.) near -1 (x/2 * eps).
    const double tol = 4 * kEps * std::fabs(want[i]) + 0.5 * std::fabs(x[i]) * kEps + 1e-30;
    ASSERT_NEAR(y[i], want[i], tol) << "x=" << x[i];
  }
  // Known values: Phi(1) = 0.8413447460685429, Phi(-1) = 0.15865525393145707.
  float v[2] = {1.0f, -1.0f};
  gelu(v, 2);
  EXPECT_NEAR(v[0], 0.8413447460685429, 2e-7);
  EXPECT_NEAR(v[1], -0.15865525393145707, 2e-7);
}

}  // namespace
}  // namespace lc::ops
