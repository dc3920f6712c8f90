// Bounded attention policies at the attention-function level (spec oracles 1 and 4): the policy
// kernel over a ring/pinned KV cache, fed block by block exactly as the model feeds it, against
// the dense n x n reference (attention_dense_reference.h) -- seeded random shapes with odd sizes,
// GQA, blocks that do and do not divide the window, sequences several times longer than the
// window (ring wrap-around), both RoPE conventions and ALiBi; RoPE exactness at positions near
// 10^8; policy defaults, cache geometry and configuration errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "attention/attention.h"
#include "attention/policy.h"
#include "attention_dense_reference.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "ops/ops.h"
#include "policy_cases.h"

namespace lc {
namespace {

using test::config_of;
using test::kNone;
using test::Pol;

test::DensePolicy dense_of(const Pol& p) { return {p.policy, p.sinks, p.window, p.ceiling}; }

std::string name_of(const Pol& p) { return config_of(p).label(); }

struct KernelCase {
  Pol pol;
  int64_t heads, kv_heads, head_dim, block;
  int threads;
  ops::RopeStyle style;
  bool alibi;
};

// Streams tokens at `positions` (increasing; runs of consecutive positions form the forward
// blocks) through cache_store + attend_policy and compares each row with the dense reference
// where check_row(row) is true. Returns the largest absolute error.
template <class CheckRow>
double run_stream(const KernelCase& c, const std::vector<int64_t>& positions, uint64_t seed,
                  CheckRow check_row) {
  const ops::KernelTable& K = ops::kernels();
  const int64_t n = static_cast<int64_t>(positions.size()), hd = c.head_dim;
  const int64_t q_dim = c.heads * hd, kv_dim = c.kv_heads * hd, half = hd / 2;
  Rng rng(seed);
  // Unrotated q, k, v; q and k scaled so that attention is sharp (logits of a few units) and a
  // wrong distance or a wrong key set shows in the output.
  std::vector<std::vector<double>> q(n), k(n), v(n);
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t i = 0; i < q_dim; ++i) q[t].push_back(1.5f * rng.normal());
    for (int64_t i = 0; i < kv_dim; ++i) k[t].push_back(1.5f * rng.normal());
    for (int64_t i = 0; i < kv_dim; ++i) v[t].push_back(rng.normal());
  }
  std::vector<double> slopes_d;
  std::vector<float> slopes;
  for (int64_t h = 0; h < c.heads; ++h) {
    // The ALiBi geometric sequence 2^(-8(h+1)/H), scaled up so that the bias matters here.
    slopes.push_back(4.0f * std::pow(2.0f, -8.0f * static_cast<float>(h + 1) / c.heads));
    slopes_d.push_back(slopes.back());
  }
  test::DenseShape ds{c.heads, c.kv_heads, hd, 10000.0, c.style, c.alibi ? &slopes_d : nullptr};
  auto want = test::dense_attention(dense_of(c.pol), ds, positions, q, k, v);

  PolicyContext pc{64, positions.back() + 1, c.block};
  auto policy = make_policy(config_of(c.pol), pc);
  const int64_t layers = 2, layer = 1;
  KvCache cache(layers, c.kv_heads, hd, policy->geometry());
  const ops::RopeFreqs rope(hd, 10000.0);
  AttentionShape shape{c.heads, c.kv_heads, hd, c.alibi ? slopes.data() : nullptr,
                       c.alibi ? nullptr : &rope};
  ThreadPool pool(c.threads);
  std::vector<float> scratch(attention_scratch_floats(shape, cache.capacity(), c.threads));
  std::vector<float> qb(c.block * q_dim), qg(c.block * q_dim), kb(kv_dim), kr(kv_dim), vb(kv_dim);
  std::vector<float> out(c.block * q_dim), cs(half), sn(half);
  double max_err = 0;
  for (int64_t r0 = 0; r0 < n;) {
    int64_t nb = 1;
    while (r0 + nb < n && nb < c.block && positions[r0 + nb] == positions[r0] + nb) ++nb;
    for (int64_t b = 0; b < nb; ++b) {
      const int64_t t = r0 + b, pos = positions[t];
      for (int64_t i = 0; i < q_dim; ++i) qb[b * q_dim + i] = qg[b * q_dim + i] = q[t][i];
      for (int64_t i = 0; i < kv_dim; ++i) kb[i] = kr[i] = k[t][i], vb[i] = v[t][i];
      if (!c.alibi) {
        ops::rope_angles(static_cast<double>(pos), hd, 10000.0, cs.data(), sn.data());
        K.rope(qb.data() + b * q_dim, c.heads, hd, cs.data(), sn.data(), c.style);
        K.rope(kb.data(), c.kv_heads, hd, cs.data(), sn.data(), c.style);
        ops::rope_angles(static_cast<double>(policy->plan(pos).global_pos), hd, 10000.0, cs.data(),
                         sn.data());
        K.rope(qg.data() + b * q_dim, c.heads, hd, cs.data(), sn.data(), c.style);
      }
      cache_store(cache, layer, c.kv_heads, pos, kb.data(), kr.data(), vb.data());
    }
    std::fill(out.begin(), out.end(), NAN);
    attend_policy(pool, cache, layer, shape, *policy, qb.data(), qg.data(), nb, positions[r0],
                  out.data(), scratch.data());
    for (int64_t b = 0; b < nb; ++b) {
      if (!check_row(r0 + b)) continue;
      for (int64_t i = 0; i < q_dim; ++i) {
        const double e = std::fabs(out[b * q_dim + i] - want[r0 + b][i]);
        if (!(e <= max_err)) max_err = std::isnan(e) ? INFINITY : e;
      }
    }
    r0 += nb;
  }
  return max_err;
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  return p;
}

std::string describe(const KernelCase& c) {
  return name_of(c.pol) + " heads " + std::to_string(c.heads) + "/" + std::to_string(c.kv_heads) +
         " hd " + std::to_string(c.head_dim) + " block " + std::to_string(c.block) + " threads " +
         std::to_string(c.threads) +
         (c.alibi                                 ? " alibi"
          : c.style == ops::RopeStyle::RotateHalf ? " rope-half"
                                                  : " rope-adjacent");
}

// Outputs are convex combinations of N(0,1) values; softmax of logits of a few units over <= 100
// keys in f32 plus an f32 weighted sum: 1e-5 absolute is ~100x the expected rounding.
constexpr double kTol = 2e-5;

TEST(AttentionPolicyKernel, MatchesDenseReference) {
  const Pol pols[] = {
      {AttnPolicy::Full, 0, 0, kNone},      {AttnPolicy::Full, 0, 0, 6},
      {AttnPolicy::Full, 0, 0, 0},          {AttnPolicy::Window, 0, 7, kNone},
      {AttnPolicy::Window, 0, 1, kNone},    {AttnPolicy::Streaming, 3, 9, kNone},
      {AttnPolicy::Streaming, 0, 5, kNone}, {AttnPolicy::Streaming, 4, 1, kNone},
      {AttnPolicy::Lambda, 3, 11, 11},      {AttnPolicy::Lambda, 2, 6, kNone},
      {AttnPolicy::Lambda, 5, 9, 4},        {AttnPolicy::Lambda, 1, 1, 1},
      {AttnPolicy::Lambda, 0, 8, 8},        {AttnPolicy::Lambda, 13, 5, 20},
  };
  struct Dims {
    int64_t heads, kv, hd;
  };
  const Dims dims[] = {{6, 2, 8}, {4, 1, 10}, {3, 3, 6}, {8, 4, 34}};
  const int64_t blocks[] = {1, 4, 7, 16};
  int idx = 0;
  for (const Pol& p : pols)
    for (const Dims& d : dims) {
      // Vary the block, threads and positional scheme across cases (seeded, reproducible).
      const int64_t block = blocks[idx % 4];
      const int threads = 1 + idx % 3;
      const bool alibi = idx % 3 == 2;
      const auto style = idx % 2 ? ops::RopeStyle::RotateHalf : ops::RopeStyle::AdjacentPairs;
      KernelCase c{p, d.heads, d.kv, d.hd, block, threads, style, alibi};
      const int64_t n = 53 + idx % 5;  // several times the windows above: the ring wraps
      double err = run_stream(c, iota(n), 100 + idx, [](int64_t) { return true; });
      EXPECT_LT(err, kTol) << describe(c);
      ++idx;
    }
}

TEST(AttentionPolicyKernel, BothRopeStylesAndAlibiForEveryPolicy) {
  const Pol pols[] = {{AttnPolicy::Lambda, 3, 10, 10},
                      {AttnPolicy::Lambda, 3, 10, kNone},
                      {AttnPolicy::Streaming, 2, 9, kNone},
                      {AttnPolicy::Window, 0, 9, kNone},
                      {AttnPolicy::Full, 0, 0, 5}};
  for (const Pol& p : pols)
    for (int scheme = 0; scheme < 3; ++scheme) {
      KernelCase c{p,
                   6,
                   3,
                   12,
                   5,
                   2,
                   scheme == 1 ? ops::RopeStyle::RotateHalf : ops::RopeStyle::AdjacentPairs,
                   scheme == 2};
      EXPECT_LT(run_stream(c, iota(41), 7 + scheme, [](int64_t) { return true; }), kTol)
          << describe(c);
    }
}

// Keys are stored rotated at their absolute positions; with angles computed in double precision
// the logits stay exact far out. The stream jumps from the first tokens to positions near 10^8
// (the window policies never look at the skipped ones); rows whose window reaches into the gap
// are not compared.
TEST(AttentionPolicyKernel, ExactAtPositionsNear1e8) {
  const int64_t far = 100'000'000;
  const Pol pols[] = {{AttnPolicy::Lambda, 3, 9, 9},
                      {AttnPolicy::Lambda, 3, 9, kNone},
                      {AttnPolicy::Window, 0, 9, kNone}};
  for (const Pol& p : pols)
    for (auto style : {ops::RopeStyle::AdjacentPairs, ops::RopeStyle::RotateHalf}) {
      std::vector<int64_t> pos;
      for (int64_t i = 0; i < 5; ++i) pos.push_back(i);
      const int64_t jump_row = static_cast<int64_t>(pos.size());
      for (int64_t i = 0; i < 40; ++i) pos.push_back(far - 7 + i);
      KernelCase c{p, 4, 2, 16, 4, 2, style, false};
      const int64_t L = p.window;
      double err = run_stream(
          c, pos, 99, [&](int64_t r) { return r < jump_row || pos[r] - L + 1 >= pos[jump_row]; });
      EXPECT_LT(err, 5e-5) << describe(c);
    }
}

TEST(AttentionPolicyConfig, DefaultsAndGeometry) {
  PolicyContext pc{512, 2048, 64};
  AttentionConfig c;
  c.policy = AttnPolicy::Lambda;
  auto p = make_policy(c, pc);
  EXPECT_EQ(p->label(), "lambda(G=10,L=512,D=512)");
  // G pinned slots with unrotated copies, a ring of L + block - 1: O(G + L), not O(ctx).
  EXPECT_EQ(p->geometry().n_pinned, 10);
  EXPECT_EQ(p->geometry().n_raw, 10);
  EXPECT_EQ(p->geometry().ring, 512 + 63);
  EXPECT_TRUE(p->bounded());
  c.ceiling = AttentionConfig::kNoCeiling;
  EXPECT_EQ(make_policy(c, pc)->geometry().n_raw, 0);
  EXPECT_EQ(make_policy(c, pc)->label(), "lambda(G=10,L=512,D=none)");
  c.window = 100;
  c.ceiling = -1;
  EXPECT_EQ(make_policy(c, pc)->label(), "lambda(G=10,L=100,D=100)");

  c = AttentionConfig{};
  c.policy = AttnPolicy::Streaming;
  EXPECT_EQ(make_policy(c, pc)->label(), "streaming(S=4,W=512)");
  c.policy = AttnPolicy::Window;
  EXPECT_EQ(make_policy(c, pc)->geometry().slots(), 512 + 63);
  c.policy = AttnPolicy::Full;
  p = make_policy(c, pc);
  EXPECT_TRUE(p->plain_causal());
  EXPECT_FALSE(p->bounded());
  EXPECT_EQ(p->geometry().max_positions(), 2048);
  c.ceiling = 100;
  p = make_policy(c, pc);
  EXPECT_FALSE(p->plain_causal());
  EXPECT_EQ(p->geometry().n_raw, 2048);
  EXPECT_EQ(p->label(), "full(D=100)");
}

TEST(AttentionPolicyConfig, RejectsUnsupported) {
  PolicyContext pc{512, 2048, 64};
  AttentionConfig c;
  c.policy = AttnPolicy::Window;
  c.topk = 5;  // top-k middle tokens are lambda's (attention_topk_test.cc)
  try {
    make_policy(c, pc);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--topk"), std::string::npos) << e.what();
  }
  c.policy = AttnPolicy::Lambda;
  c.topk = 0;
  c.sinks = -5;  // -1 is the default; other negatives are nonsense
  c.sinks = -1;
  EXPECT_NO_THROW(make_policy(c, pc));
  EXPECT_THROW(make_policy(c, PolicyContext{0, 2048, 64}), Error);
}

}  // namespace
}  // namespace lc
