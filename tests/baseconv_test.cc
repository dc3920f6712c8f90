// BASED's gated short convolution (src/linear/baseconv.h; ../shared/specs/based.md, "BaseConv
// layers") against the double reference and a bound derived below, in one call and in pieces
// (decode steps and short prefills continuing from the state).
#include "linear/baseconv.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "test_util.h"

namespace lc {
namespace {

struct ConvData {
  int64_t channels, n, ld;
  std::vector<float> w, u;  // w [channels][3]; u [n][ld] with u1 at 0, u2 at channels
};

ConvData conv_data(int64_t channels, int64_t n, uint64_t seed) {
  Rng rng(seed);
  ConvData c{channels, n, 2 * channels + 3, std::vector<float>(channels * 3), {}};
  c.u.resize(n * c.ld);
  for (auto& x : c.w) x = 0.7f * rng.normal();
  for (auto& x : c.u) x = 1.5f * rng.normal();
  return c;
}

// f32: c has 3 products and 2 sums (<= 3 eps sum_i |w_i u_i|), silu' <= 1.1 carries that into
// silu(c), which itself has ~4 eps of rounding (exp polynomial, add, divide), and the gate one
// more. Bound: |u2| (1.1 * 3 eps sum|w u| + 6 eps |silu(c)|), double reference.
double conv_worst_ratio(const ConvData& c, const std::vector<float>& out) {
  const double eps = FLT_EPSILON;
  double worst = 0;
  for (int64_t t = 0; t < c.n; ++t)
    for (int64_t ch = 0; ch < c.channels; ++ch) {
      double conv = 0, abs_conv = 0;
      for (int64_t i = 0; i < 3; ++i) {
        const int64_t src = t - 2 + i;
        if (src < 0) continue;
        const double p = static_cast<double>(c.w[ch * 3 + i]) * c.u[src * c.ld + ch];
        conv += p;
        abs_conv += std::fabs(p);
      }
      const double silu = conv / (1 + std::exp(-conv)), u2 = c.u[t * c.ld + c.channels + ch];
      const double want = silu * u2;
      const double bound =
          std::fabs(u2) * (1.1 * 3 * eps * abs_conv + 6 * eps * std::fabs(silu)) + 1e-38;
      const double r = std::fabs(out[t * c.channels + ch] - want) / bound;
      if (!(r <= worst)) worst = std::isnan(r) ? INFINITY : r;
    }
  return worst;
}

TEST(BaseConv, MatchesReferenceInOneCallAndInPieces) {
  double worst = 0;
  int idx = 0;
  for (int64_t channels : {1, 5, 16, 33, 130})
    for (int64_t n : {1, 2, 3, 4, 9, 64}) {
      const ConvData c = conv_data(channels, n, 100 + idx++);
      const float* u1 = c.u.data();
      const float* u2 = c.u.data() + channels;
      // Whole sequence in one call; against the double reference and the bound above.
      BaseConvState st(channels);
      std::vector<float> whole(n * channels, NAN), ref(n * channels);
      baseconv_forward(st, c.w.data(), u1, u2, c.ld, n, whole.data(), channels);
      baseconv_reference(channels, c.w.data(), u1, u2, c.ld, n, ref.data(), channels);
      EXPECT_EQ(st.tokens(), n);
      const double r = conv_worst_ratio(c, whole);
      EXPECT_LE(r, 1.0) << "channels " << channels << " n " << n;
      worst = std::max(worst, r);
      EXPECT_LE(test::rel_err(whole.data(), ref.data(), whole.size()), 1e-6);
      // Pieces (decode steps and short prefills) continue from the state: every row is computed
      // by the same operations on the same numbers, so the result is identical.
      for (int64_t piece : {1, 2, 3, 5}) {
        BaseConvState sp(channels);
        std::vector<float> out(n * channels, NAN);
        for (int64_t t = 0; t < n; t += piece) {
          const int64_t len = std::min(piece, n - t);
          baseconv_forward(sp, c.w.data(), u1 + t * c.ld, u2 + t * c.ld, c.ld, len,
                           out.data() + t * channels, channels);
        }
        EXPECT_EQ(out, whole) << "channels " << channels << " n " << n << " pieces " << piece;
      }
    }
  std::printf("[ INFO     ] worst error / bound %.3g\n", worst);
}

TEST(BaseConv, ResetForgetsTheHistory) {
  const ConvData c = conv_data(7, 6, 9);
  BaseConvState st(7);
  std::vector<float> a(6 * 7), b(6 * 7);
  baseconv_forward(st, c.w.data(), c.u.data(), c.u.data() + 7, c.ld, 6, a.data(), 7);
  st.reset();
  EXPECT_EQ(st.tokens(), 0);
  baseconv_forward(st, c.w.data(), c.u.data(), c.u.data() + 7, c.ld, 0, nullptr, 7);
  baseconv_forward(st, c.w.data(), c.u.data(), c.u.data() + 7, c.ld, 6, b.data(), 7);
  EXPECT_EQ(a, b);
}

TEST(BaseConv, RejectsBadArguments) {
  EXPECT_THROW(BaseConvState(0), Error);
  BaseConvState st(4), empty;
  float w[12] = {}, u[8] = {}, out[4];
  EXPECT_THROW(baseconv_forward(empty, w, u, u + 4, 8, 1, out, 4), Error);
  EXPECT_THROW(baseconv_forward(st, w, u, u + 4, 8, -1, out, 4), Error);
  EXPECT_THROW(baseconv_forward(st, w, u, u + 4, 3, 1, out, 4), Error);
}

}  // namespace
}  // namespace lc
