// The weight quantizers (ops/quant/quantize.h): dequantize(quantize(x)) against x for every type.
//
// RMS error on rows of standard normal values (sigma = 1). A quantizer with step D leaves an
// error spread evenly over [-D/2, D/2] when values fall anywhere in a step: RMS D / sqrt(12).
// Each type's step, from its levels and the Gaussian order statistics of its group (expected
// largest |x| of 16 / 32 normals ~ 2.0 / 2.4, expected range max - min ~ 3.5 / 4.1):
//   q8_0   D = max|x_32| / 127 = 0.019               -> 0.0055
//   q6_k   D = max|x_16| / 32  = 0.063               -> 0.018
//   q5_0   D = max|x_32| / 16  = 0.15                -> 0.044
//   q5_1   D = range_32 / 31   = 0.13                -> 0.038   (q5_k the same, searched)
//   q4_0   D = max|x_32| / 8   = 0.30                -> 0.087
//   q4_1   D = range_32 / 15   = 0.27                -> 0.079   (q4_k the same, searched)
//   iq4_nl 16 levels over [-127, 113] d with d ~ max|x_32| / 120 (non-uniform, denser near
//          0 where normals are dense): between q4_0 and q5_0   -> <= 0.087 (iq4_xs the same)
//   q3_k   D = max|x_16| / 4   = 0.50                -> 0.145
//   q2_k   D = range_16 / 3    = 1.17                -> 0.34
// The searched scales (make_qkx2 / make_q3 / make_qx, the IQ4 scale search) trade a little
// clipping of the extremes for a finer step, and the 4-8 bit sub-scales move each group's step
// by at most half a sub-scale unit, so the bound allowed below is each estimate times 1.25
// (measured values are printed: from 12% under to 4% over the estimates). The ordering
// q8_0 < q6_k < q5_k < q4_k < q3_k < q2_k is checked on the measurements themselves.
//
// The legacy types also have a worst-case bound per element: q8_0 |err| <= D/2 plus the fp16
// rounding of d (127 * 2^-11 d); q4_1 / q5_1 the same with 15 / 31 and m's rounding; q4_0 /
// q5_0 one full step D (an element equal to minus the largest rounds to the clamped top level).
#include "ops/quant/quantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <vector>

#include "core/dtype.h"
#include "core/rng.h"
#include "ops/quant/blocks.h"
#include "ops/quant/dequant.h"
#include "ops/quant/validate.h"

namespace lc::ops::quant {
namespace {

const DType kTypes[] = {DType::Q8_0, DType::Q4_0, DType::Q4_1,   DType::Q5_0,
                        DType::Q5_1, DType::Q2_K, DType::Q3_K,   DType::Q4_K,
                        DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS};

// x -> quantize_row -> dequantize_row; checks the scales are finite.
std::vector<float> round_trip(DType t, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(static_cast<size_t>(dtype_bytes(t, n)) + 16, 0xA5);
  quantize_row(t, x.data(), q.data(), n);
  for (size_t i = q.size() - 16; i < q.size(); ++i) EXPECT_EQ(q[i], 0xA5) << "wrote past the end";
  EXPECT_EQ(first_bad_scale(t, q.data(), n / dtype_block(t)), -1) << dtype_name(t);
  std::vector<float> y(x.size());
  dequantize_row(t, q.data(), y.data(), n);
  return y;
}

double rms(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return std::sqrt(s / static_cast<double>(a.size()));
}

std::vector<float> normals(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = rng.normal();
  return x;
}

// The estimates of the header comment (RMS error for sigma = 1).
double expected_rms(DType t) {
  const double r12 = std::sqrt(12.0);
  switch (t) {
    case DType::Q8_0:
      return 2.4 / 127 / r12;
    case DType::Q6_K:
      return 2.0 / 32 / r12;
    case DType::Q5_0:
      return 2.4 / 16 / r12;
    case DType::Q5_1:
    case DType::Q5_K:
      return 4.1 / 31 / r12;
    case DType::Q4_0:
    case DType::IQ4_NL:
    case DType::IQ4_XS:
      return 2.4 / 8 / r12;
    case DType::Q4_1:
    case DType::Q4_K:
      return 4.1 / 15 / r12;
    case DType::Q3_K:
      return 2.0 / 4 / r12;
    case DType::Q2_K:
      return 3.5 / 3 / r12;
    default:
      return 0;
  }
}

TEST(Quantize, NormalRowsRmsErrorWithinBoundAndOrdered) {
  const int64_t n = 64 * 1024;  // 256 rows of 256, every type's blocks
  const std::vector<float> x = normals(n, 7);
  std::map<DType, double> err;
  for (DType t : kTypes) {
    const double e = rms(round_trip(t, x), x);
    err[t] = e;
    std::printf("[ quantize ] %-6s rms error %.5f (estimate %.5f, bound %.5f)\n", dtype_name(t), e,
                expected_rms(t), 1.25 * expected_rms(t));
    EXPECT_LT(e, 1.25 * expected_rms(t)) << dtype_name(t);
    EXPECT_GT(e, 0.0) << dtype_name(t);
  }
  const DType order[] = {DType::Q8_0, DType::Q6_K, DType::Q5_K,
                         DType::Q4_K, DType::Q3_K, DType::Q2_K};
  for (size_t i = 1; i < std::size(order); ++i)
    EXPECT_LT(err[order[i - 1]], err[order[i]])
        << dtype_name(order[i - 1]) << " vs " << dtype_name(order[i]);
  // Same bits, more freedom: the asymmetric and searched types do no worse than the plain ones.
  EXPECT_LT(err[DType::Q4_K], err[DType::Q4_0]);
  EXPECT_LT(err[DType::Q5_K], err[DType::Q5_0]);
  EXPECT_LT(err[DType::IQ4_NL], err[DType::Q4_0]);
}

// A scaled copy quantizes to the scaled result (the errors scale with the data), for scales far
// from 1 in both directions within fp16's range of d.
TEST(Quantize, ErrorScalesWithTheData) {
  const std::vector<float> x = normals(4096, 11);
  for (DType t : kTypes)
    for (float s : {1e-3f, 1e3f}) {
      std::vector<float> xs(x.size());
      for (size_t i = 0; i < x.size(); ++i) xs[i] = x[i] * s;
      const double e = rms(round_trip(t, xs), xs) / s;
      EXPECT_LT(e, 1.25 * expected_rms(t)) << dtype_name(t) << " scale " << s;
    }
}

// Worst-case element errors of the legacy types (header comment).
TEST(Quantize, LegacyTypesElementErrorBounds) {
  const std::vector<float> x = normals(32 * 512, 13);
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_1, DType::Q5_1}) {
    const std::vector<float> y = round_trip(t, x);
    for (size_t b = 0; b < x.size() / 32; ++b) {
      float lo = x[32 * b], hi = x[32 * b], amax = 0;
      for (int j = 0; j < 32; ++j) {
        lo = std::fmin(lo, x[32 * b + j]);
        hi = std::fmax(hi, x[32 * b + j]);
        amax = std::fmax(amax, std::fabs(x[32 * b + j]));
      }
      const double u = 0x1p-11;  // fp16 relative rounding
      double bound = 0;
      if (t == DType::Q8_0) bound = amax / 127.0 * (0.5 + 127 * u);
      if (t == DType::Q4_0) bound = amax / 8.0 * (1 + 16 * u);
      if (t == DType::Q5_0) bound = amax / 16.0 * (1 + 32 * u);
      if (t == DType::Q4_1) bound = (hi - lo) / 15.0 * (0.5 + 15 * u) + std::fabs(lo) * u;
      if (t == DType::Q5_1) bound = (hi - lo) / 31.0 * (0.5 + 31 * u) + std::fabs(lo) * u;
      for (int j = 0; j < 32; ++j)
        ASSERT_LE(std::fabs(y[32 * b + j] - x[32 * b + j]), bound * (1 + 1e-6))
            << dtype_name(t) << " block " << b << " element " << j;
    }
  }
}

TEST(Quantize, ZeroRowsAreExactlyZero) {
  for (DType t : kTypes) {
    std::vector<float> x(512, 0.0f);
    for (float v : round_trip(t, x)) ASSERT_EQ(v, 0.0f) << dtype_name(t);
    x.assign(512, -0.0f);
    for (float v : round_trip(t, x)) ASSERT_EQ(v, 0.0f) << dtype_name(t);
  }
}

// A constant row is one level times the scale: only the fp16 rounding of the scale (and, for
// the K-quants, of the sub-scale's base d) remains, relative 2^-10 at most -- while d stays a
// normal fp16 number (>= 2^-14): Q6_K's d is c / 4096, so |c| >= 0.25 here. (Smaller values
// get subnormal scales of fixed absolute spacing 2^-24; HardRowsGiveFiniteResults covers them.)
TEST(Quantize, ConstantRowsRoundTripNearlyExactly) {
  for (DType t : kTypes)
    for (float c : {1.0f, -3.25f, 0.371f, -0.25f, 250.0f}) {
      const std::vector<float> x(512, c);
      const std::vector<float> y = round_trip(t, x);
      for (size_t i = 0; i < y.size(); ++i)
        ASSERT_NEAR(y[i], c, std::fabs(c) * 0x1p-10) << dtype_name(t) << " c " << c << " i " << i;
    }
}

// One large value in a block of small ones, tiny and subnormal magnitudes, sparse rows, mixed
// signs of wildly different size: finite scales, finite output, and the large value kept.
TEST(Quantize, HardRowsGiveFiniteResults) {
  Rng rng(17);
  std::vector<std::vector<float>> rows;
  std::vector<float> r(512);
  for (auto& v : r) v = 1e-3f * rng.normal();
  r[100] = 40.0f;
  rows.push_back(r);
  for (auto& v : r) v = 1e-30f * rng.normal();  // below fp16's range: scales flush to zero
  rows.push_back(r);
  for (auto& v : r) v = 1e-41f * rng.normal();  // f32 subnormals
  rows.push_back(r);
  for (auto& v : r) v = rng.uniform() < 0.95f ? 0.0f : rng.normal();
  rows.push_back(r);
  for (auto& v : r) v = rng.normal() * std::pow(10.0f, 4.0f * rng.uniform() - 2.0f);
  rows.push_back(r);
  for (auto& v : r) v = 60000.0f * (rng.uniform() - 0.5f);  // d near fp16's largest
  rows.push_back(r);
  for (DType t : kTypes)
    for (size_t k = 0; k < rows.size(); ++k) {
      const std::vector<float> y = round_trip(t, rows[k]);
      for (float v : y) ASSERT_TRUE(std::isfinite(v)) << dtype_name(t) << " row " << k;
      if (k == 0) {
        EXPECT_NEAR(y[100], 40.0f, 40.0f * 0.15f) << dtype_name(t);
      }
    }
}

// Non-finite input is not an error here (the converter refuses it first) but must stay
// defined: no crash, no undefined conversion (the sanitizer build runs this), and the bad
// scale shows in first_bad_scale or the values are finite.
TEST(Quantize, NonFiniteInputIsDefined) {
  for (DType t : kTypes) {
    std::vector<float> x(256, 0.5f);
    x[3] = std::nanf("");
    x[7] = INFINITY;
    x[200] = -INFINITY;
    std::vector<uint8_t> q(static_cast<size_t>(dtype_bytes(t, 256)));
    quantize_row(t, x.data(), q.data(), 256);
    std::vector<float> y(256);
    dequantize_row(t, q.data(), y.data(), 256);
  }
}

// Requantizing a dequantized Q8_0 / Q4_1 row gives the same bytes (the grid is reproduced).
TEST(Quantize, LegacyRequantizationIsStable) {
  const std::vector<float> x = normals(1024, 19);
  for (DType t : {DType::Q8_0, DType::Q4_1, DType::Q5_1}) {
    std::vector<uint8_t> a(static_cast<size_t>(dtype_bytes(t, 1024))), b(a.size());
    quantize_row(t, x.data(), a.data(), 1024);
    std::vector<float> y(1024);
    dequantize_row(t, a.data(), y.data(), 1024);
    quantize_row(t, y.data(), b.data(), 1024);
    std::vector<float> z(1024);
    dequantize_row(t, b.data(), z.data(), 1024);
    for (int i = 0; i < 1024; ++i)
      ASSERT_NEAR(z[i], y[i], std::fabs(y[i]) * 0x1p-9 + 1e-6) << dtype_name(t) << " " << i;
  }
}

TEST(Quantize, PlainTypesRoundToNearestEven) {
  const std::vector<float> x = {1.0f, -2.5f, 1.0f + 0x1p-12f, 65504.0f, 1e-8f, 3.14159f};
  std::vector<uint16_t> h(x.size());
  quantize_row(DType::F16, x.data(), h.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(h[i], f32_to_f16(x[i]));
  quantize_row(DType::BF16, x.data(), h.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(h[i], f32_to_bf16(x[i]));
  std::vector<float> f(x.size());
  quantize_row(DType::F32, x.data(), f.data(), static_cast<int64_t>(x.size()));
  EXPECT_EQ(f, x);
}

TEST(Quantize, NearestIntRoundsHalfToEvenAndSaturates) {
  EXPECT_EQ(nearest_int(0.5f), 0);
  EXPECT_EQ(nearest_int(1.5f), 2);
  EXPECT_EQ(nearest_int(-2.5f), -2);
  EXPECT_EQ(nearest_int(-2.6f), -3);
  EXPECT_EQ(nearest_int(1000.5f), 1000);
  EXPECT_EQ(nearest_int(1001.5f), 1002);
  EXPECT_EQ(nearest_int(4194303.0f), 4194303);
  EXPECT_EQ(nearest_int(1e30f), 4194303);
  EXPECT_EQ(nearest_int(-INFINITY), -4194303);
  EXPECT_EQ(nearest_int(std::nanf("")), 0);
}

// Layout: a ramp stays ordered element by element within every group (each element's bits are
// packed where the dequantizer reads them) and close to itself.
TEST(Quantize, KQuantPackingKeepsElementOrder) {
  std::vector<float> ramp(256);
  for (int i = 0; i < 256; ++i) ramp[i] = static_cast<float>(i) / 255.0f - 0.5f;
  for (DType t : {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_XS}) {
    const std::vector<float> y = round_trip(t, ramp);
    for (int i = 1; i < 256; ++i)  // within each group of 16 (groups have their own scales)
      if (i % 16) {
        ASSERT_GE(y[i], y[i - 1] - 1e-6f) << dtype_name(t) << " " << i;
      }
    const double step = t == DType::Q2_K ? 16.0 / 255 / 3 : t == DType::Q3_K ? 0.5 / 4 : 0.05;
    ASSERT_LT(rms(y, ramp), step) << dtype_name(t);
  }
}

}  // namespace
}  // namespace lc::ops::quant
