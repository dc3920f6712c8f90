// LM-Infinite top-k middle tokens (spec lm-infinite.md, "Optional: top-k middle tokens") at the
// kernel level: the fast path (middle store, per-head heaps, one softmax) against the dense
// reference over seeded shapes -- both RoPE conventions and ALiBi, GQA/MQA/MHA, K = 1, K larger
// than the middle, layers below and above H, blocks that do and do not divide the window, ring
// wrap -- plus chunked (prefill then decode) equality, the identities K = 0 == lambda and
// K >= #middle == every middle token at distance L_pre / 2, and the configuration errors.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "attention_stream_harness.h"
#include "core/error.h"
#include "policy_cases.h"

namespace lc {
namespace {

using test::lambda_topk;
using test::StreamCase;

// Sharp attention (logits of a few units) over <= 100 keys in f32: 2e-5 absolute is ~100x the
// expected rounding (as in attention_policy_test.cc).
constexpr double kTol = 2e-5;

TEST(AttentionTopK, MatchesDenseReference) {
  const std::vector<AttentionConfig> cfgs = {
      lambda_topk(3, 11, 11, 5, 0),
      lambda_topk(2, 6, 6, 1, 1),
      lambda_topk(4, 7, 3, 200, 1),  // K larger than any middle
      lambda_topk(0, 5, 5, 3, 0),    // no global tokens
      lambda_topk(5, 9, AttentionConfig::kNoCeiling, 4, 0),
      lambda_topk(1, 1, 1, 2, 1),  // L = 1: nearly everything is middle
  };
  test::expect_dense_over_head_shapes(cfgs, 300, kTol);
}

TEST(AttentionTopK, BothRopeStylesAndAlibiAndLayersAroundH) {
  for (int scheme = 0; scheme < 3; ++scheme)
    for (int64_t H : {0, 1, 2, 100}) {  // layer 1 uses top-k for H <= 1 only
      StreamCase c{lambda_topk(3, 8, 8, 3, H),
                   6,
                   3,
                   12,
                   5,
                   2,
                   scheme == 1 ? ops::RopeStyle::RotateHalf : ops::RopeStyle::AdjacentPairs,
                   scheme == 2,
                   1};
      EXPECT_LT(test::run_policy_stream(c, 47, 11 + scheme), kTol) << test::describe(c);
    }
}

// A prompt prefilled in one call, then decoded token by token (and in small chunks), gives the
// rows the one-shot run gives (every row does top-k: the documented deviation).
TEST(AttentionTopK, DecodeAfterPrefillEqualsOneShot) {
  for (bool alibi : {false, true}) {
    StreamCase c{lambda_topk(2, 6, 6, 3, 0), 6, 2, 8, 16, 2, ops::RopeStyle::RotateHalf, alibi, 1};
    std::vector<std::vector<float>> one, chunked;
    test::run_policy_stream(c, 50, 5, {}, &one);
    std::vector<int64_t> chunks = {13};
    for (int i = 0; i < 40; ++i) chunks.push_back(i % 5 == 0 ? 3 : 1);
    EXPECT_LT(test::run_policy_stream(c, 50, 5, chunks, &chunked), kTol);
    ASSERT_EQ(one.size(), chunked.size());
    double err = 0;
    for (size_t r = 0; r < one.size(); ++r)
      for (size_t i = 0; i < one[r].size(); ++i)
        err = std::max(err, static_cast<double>(std::fabs(one[r][i] - chunked[r][i])));
    EXPECT_LT(err, 1e-6) << "alibi " << alibi;
  }
}

// Identity: K = 0, and top-k from a layer beyond the model's, are plain lambda (the same rows).
TEST(AttentionTopK, KZeroAndHBeyondTheLayersAreLambda) {
  std::vector<std::vector<float>> plain;
  StreamCase base{lambda_topk(3, 7, 7, 0, 0),    4,     2, 8, 4, 1,
                  ops::RopeStyle::AdjacentPairs, false, 1};
  test::run_policy_stream(base, 40, 8, {}, &plain);
  for (auto [K, H] : {std::pair<int64_t, int64_t>{0, 0}, {3, 2}, {3, 1000}}) {
    StreamCase c = base;
    c.cfg = lambda_topk(3, 7, 7, K, H);
    std::vector<std::vector<float>> rows;
    test::run_policy_stream(c, 40, 8, {}, &rows);
    for (size_t r = 0; r < rows.size(); ++r)
      for (size_t i = 0; i < rows[r].size(); ++i)
        ASSERT_EQ(rows[r][i], plain[r][i]) << "K " << K << " H " << H;
  }
  // And top-k does change the rows where it applies.
  StreamCase on = base;
  on.cfg = lambda_topk(3, 7, 7, 3, 1);
  std::vector<std::vector<float>> rows;
  test::run_policy_stream(on, 40, 8, {}, &rows);
  EXPECT_NE(rows.back(), plain.back());
}

// Identity: with K >= #middle every middle token is attended at distance L_pre / 2: the dense
// reference with that rule written out directly (no top-k at all) -- a full-attention-like row
// where middle keys use R(L_pre/2), globals R(D), locals their true distance.
TEST(AttentionTopK, KAtLeastMiddleAttendsEveryMiddleTokenAtHalfLpre) {
  const int64_t n = 45, G = 3, L = 6, D = 6, hd = 8, heads = 4, kv = 2;
  Rng rng(21);
  std::vector<std::vector<double>> q(n), k(n), v(n);
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t i = 0; i < heads * hd; ++i) q[t].push_back(1.5f * rng.normal());
    for (int64_t i = 0; i < kv * hd; ++i) k[t].push_back(1.5f * rng.normal());
    for (int64_t i = 0; i < kv * hd; ++i) v[t].push_back(rng.normal());
    for (int64_t g = 0; g < kv; ++g) rng.normal();  // the harness's (unused) token scores
  }
  // Every row, every head: softmax over locals (true d), globals (D), middle (32 = 64 / 2).
  std::vector<std::vector<double>> want(n, std::vector<double>(heads * hd, 0.0));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t g = h / (heads / kv);
      std::vector<double> lg(i + 1);
      double mx = -INFINITY;
      for (int64_t j = 0; j <= i; ++j) {
        const int64_t d = i - j < L ? i - j : j < G ? D : 32;
        std::vector<double> qi(q[i].begin() + h * hd, q[i].begin() + (h + 1) * hd);
        test::rope_rotate(qi, static_cast<double>(d), 10000.0, ops::RopeStyle::AdjacentPairs);
        double dot = 0;
        for (int64_t c = 0; c < hd; ++c) dot += qi[c] * k[j][g * hd + c];
        lg[j] = dot / std::sqrt(static_cast<double>(hd));
        mx = std::max(mx, lg[j]);
      }
      double sum = 0;
      for (double& x : lg) sum += (x = std::exp(x - mx));
      for (int64_t j = 0; j <= i; ++j)
        for (int64_t c = 0; c < hd; ++c) want[i][h * hd + c] += lg[j] / sum * v[j][g * hd + c];
    }
  // The engine, fed the same values (run_policy_stream's generator, same seed, same order).
  StreamCase c{lambda_topk(G, L, D, 1000, 0), heads, kv, hd, 4, 2,
               ops::RopeStyle::AdjacentPairs, false, 1};
  std::vector<std::vector<float>> rows;
  test::run_policy_stream(c, n, 21, {}, &rows);
  double err = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t x = 0; x < heads * hd; ++x)
      err = std::max(err, std::fabs(rows[i][x] - want[i][x]));
  EXPECT_LT(err, kTol);
}

TEST(AttentionTopK, GeometryAndErrors) {
  PolicyContext pc{512, 2048, 64};
  AttentionConfig c = lambda_topk(-1, 0, -1, 5, 4);
  auto p = make_policy(c, pc);
  EXPECT_EQ(p->label(), "lambda(G=10,L=512,D=512)+top5@4");
  EXPECT_EQ(p->middle().distance, 256);  // L_pre / 2
  EXPECT_EQ(p->geometry().middle_from_layer, 4);
  EXPECT_EQ(p->geometry().middle_capacity, 0);      // unbounded
  EXPECT_EQ(p->geometry().slots(), 10 + 512 + 63);  // the ring stays O(G + L)
  auto msg = [&](AttentionConfig bad) {
    try {
      make_policy(bad, pc);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  AttentionConfig w = c;
  w.policy = AttnPolicy::Window;
  EXPECT_NE(msg(w).find("--topk"), std::string::npos) << msg(w);
  AttentionConfig pool_only = lambda_topk(-1, 0, -1, 0, 4);
  pool_only.middle_pool = 100;
  EXPECT_NE(msg(pool_only).find("--middle-pool"), std::string::npos) << msg(pool_only);
  AttentionConfig huge = c;
  huge.topk = int64_t{1} << 30;
  EXPECT_NE(msg(huge).find("--topk"), std::string::npos) << msg(huge);
}

}  // namespace
}  // namespace lc
