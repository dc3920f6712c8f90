// Q8_0: the ggml block quantizer and the reference dequantizing loader (the kernels of every
// block type are tested in quant_test.cc).
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/dtype.h"
#include "core/rng.h"
#include "ops/ops.h"
#include "ops/quant/quantize.h"
#include "ops/reference.h"

namespace lc::ops {
namespace {

TEST(Q8, QuantizeRoundTripWithinHalfStep) {
  Rng rng(5);
  std::vector<float> x(96);
  for (auto& v : x) v = rng.normal() * 3.0f;
  x[40] = 0.0f;
  for (int i = 64; i < 96; ++i) x[i] = 0.0f;  // an all-zero block: d = 0, q = 0
  std::vector<uint8_t> q(3 * kQ8BlockBytes);
  quant::quantize_row(DType::Q8_0, x.data(), q.data(), 96);
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

}  // namespace
}  // namespace lc::ops
