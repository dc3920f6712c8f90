// RoPE frequencies under position scaling (src/ops/rope.h) against the published formulas,
// written out here independently, and against values printed by transformers 4.44.2
// (modeling_rope_utils, float32) for real configurations; bad parameters fail with one line.
#include "ops/rope.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "ops/ops.h"

namespace lc {
namespace {

using T = ops::RopeScaling::Type;

double plain(int64_t i, int64_t hd, double theta) {
  return std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(hd));
}

TEST(Rope, UnscaledAnglesEqualRopeAngles) {
  for (int64_t hd : {2, 8, 64, 130}) {
    const ops::RopeFreqs f(hd, 10000.0);
    std::vector<float> c1(hd / 2), s1(hd / 2), c2(hd / 2), s2(hd / 2);
    for (double pos : {0.0, 1.0, 77.0, 123456789.0}) {
      f.angles(pos, c1.data(), s1.data());
      ops::rope_angles(pos, hd, 10000.0, c2.data(), s2.data());
      EXPECT_EQ(c1, c2);
      EXPECT_EQ(s1, s2);
    }
    EXPECT_EQ(f.attention_factor(), 1.0);
  }
}

TEST(Rope, LinearDividesEveryFrequency) {
  ops::RopeScaling s;
  s.type = T::Linear;
  s.factor = 4.0;
  const ops::RopeFreqs f(64, 500000.0, s);
  for (int64_t i = 0; i < 32; ++i) EXPECT_DOUBLE_EQ(f.inv_freq()[i], plain(i, 64, 500000.0) / 4);
}

// Llama 3.1 8B: theta 5e5, head_dim 128, factor 8, low 1, high 4, original context 8192.
TEST(Rope, Llama3MatchesTheFormulaInEachRegime) {
  ops::RopeScaling s;
  s.type = T::Llama3;
  s.factor = 8.0;
  s.low_freq_factor = 1.0;
  s.high_freq_factor = 4.0;
  s.original_ctx = 8192;
  const ops::RopeFreqs f(128, 500000.0, s);
  int kept = 0, divided = 0, ramped = 0;
  for (int64_t i = 0; i < 64; ++i) {
    const double x = plain(i, 128, 500000.0), wavelen = 2 * M_PI / x;
    double want;
    if (wavelen < 8192.0 / 4.0) {
      want = x;
      ++kept;
    } else if (wavelen > 8192.0 / 1.0) {
      want = x / 8.0;
      ++divided;
    } else {
      const double smooth = (8192.0 / wavelen - 1.0) / (4.0 - 1.0);
      want = (1 - smooth) * x / 8.0 + smooth * x;
      ++ramped;
    }
    EXPECT_NEAR(f.inv_freq()[i], want, 1e-15 * x) << i;
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(divided, 0);
  EXPECT_GT(ramped, 0);
  // transformers 4.44.2, ROPE_INIT_FUNCTIONS["llama3"] (float32) at pairs 0, 31, 40, 63.
  const double hf[][2] = {
      {0, 1.0}, {31, 0.00085675146}, {40, 3.42810235e-05}, {63, 3.06892588e-07}};
  for (const auto& [i, v] : hf) EXPECT_NEAR(f.inv_freq()[static_cast<size_t>(i)], v, 2e-6 * v) << i;
}

// Qwen2.5 long-context setting: theta 1e6, head_dim 128, YaRN factor 4, original 32768.
TEST(Rope, YarnRampsBetweenInterpolationAndExtrapolation) {
  ops::RopeScaling s;
  s.type = T::Yarn;
  s.factor = 4.0;
  s.original_ctx = 32768;
  const ops::RopeFreqs f(128, 1e6, s);
  const double d = 128, lo_dim = d * std::log(32768 / (32 * 2 * M_PI)) / (2 * std::log(1e6)),
               hi_dim = d * std::log(32768 / (1 * 2 * M_PI)) / (2 * std::log(1e6));
  const double lo = std::max(std::floor(lo_dim), 0.0), hi = std::min(std::ceil(hi_dim), d - 1);
  for (int64_t i = 0; i < 64; ++i) {
    const double x = plain(i, 128, 1e6);
    const double ramp = std::min(1.0, std::max(0.0, (static_cast<double>(i) - lo) / (hi - lo)));
    EXPECT_NEAR(f.inv_freq()[i], x / 4.0 * ramp + x * (1 - ramp), 1e-15 * x) << i;
  }
  // transformers 4.44.2, ROPE_INIT_FUNCTIONS["yarn"] (float32; max_position_embeddings 32768).
  const double hf[][2] = {{0, 1.0}, {20, 0.0133352149}, {30, 0.00106436096}, {63, 3.10234441e-07}};
  for (const auto& [i, v] : hf) EXPECT_NEAR(f.inv_freq()[static_cast<size_t>(i)], v, 2e-6 * v) << i;
  EXPECT_NEAR(f.attention_factor(), 1.138629436111989, 1e-12);
  EXPECT_EQ(f.inv_freq()[0], 1.0);                                    // extrapolated
  EXPECT_DOUBLE_EQ(f.inv_freq()[63], plain(63, 128, 1e6) / 4.0);      // interpolated
  EXPECT_DOUBLE_EQ(f.attention_factor(), 0.1 * std::log(4.0) + 1.0);  // derived
  s.attention_factor = 1.5;
  EXPECT_DOUBLE_EQ(ops::RopeFreqs(128, 1e6, s).attention_factor(), 1.5);  // given
  s.attention_factor = 0;
  s.mscale = 0.707;
  s.mscale_all_dim = 0.707;  // DeepSeek style: equal mscales cancel
  EXPECT_DOUBLE_EQ(ops::RopeFreqs(128, 1e6, s).attention_factor(), 1.0);
}

TEST(Rope, FrequencyFactorsDivide) {
  ops::RopeScaling s;
  s.freq_factors = {1.0f, 2.0f, 8.0f};
  const ops::RopeFreqs f(6, 10000.0, s);
  for (int64_t i = 0; i < 3; ++i)
    EXPECT_DOUBLE_EQ(f.inv_freq()[i], plain(i, 6, 10000.0) / s.freq_factors[i]);
  s.freq_factors = {1.0f, 2.0f};
  EXPECT_THROW(ops::RopeFreqs(6, 10000.0, s), Error);
  s.freq_factors = {1.0f, 0.0f, 1.0f};
  EXPECT_THROW(ops::RopeFreqs(6, 10000.0, s), Error);
}

TEST(Rope, BadParametersFailWithOneLine) {
  auto message = [](const ops::RopeScaling& s) {
    try {
      ops::RopeFreqs(64, 10000.0, s);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  ops::RopeScaling s;
  s.type = T::Linear;
  s.factor = 0;
  EXPECT_NE(message(s).find("factor 0 must be > 0"), std::string::npos) << message(s);
  s.type = T::Llama3;
  s.factor = 8;
  s.original_ctx = 8192;
  s.low_freq_factor = 4;
  s.high_freq_factor = 1;
  EXPECT_NE(message(s).find("low_freq_factor"), std::string::npos) << message(s);
  s = {};
  s.type = T::Yarn;
  s.factor = 4;
  EXPECT_NE(message(s).find("original context 0"), std::string::npos) << message(s);
  try {
    ops::parse_rope_scaling("dynamic", "config.json: rope_scaling");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(
        e.what(),
        "config.json: rope_scaling: rope scaling type 'dynamic' is not supported (expected "
        "linear, llama3, yarn or none)");
  }
}

}  // namespace
}  // namespace lc
