// The bounded middle pool for LM-Infinite's top-k (spec trams.md, "Bounded middle pool"): at most
// P middle tokens per layer and kv head, the lowest TRAMS score evicted. Checks: the store's held
// set against a slow evict-one-at-a-time simulation; attention rows against a slow reference that
// evicts token by token as tokens become middle (independent of the dense reference's "best P of
// the prefix" formulation); the fast path against the dense reference over seeded shapes;
// P >= #middle equals unbounded top-k; constant cache bytes over a long stream.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "attention/middle_store.h"
#include "attention_stream_harness.h"
#include "core/rng.h"
#include "policy_cases.h"
#include "sharp_model.h"
#include "test_util.h"

namespace lc {
namespace {

using test::lambda_topk;
using test::StreamCase;

// Slow pool: insert positions in order; when more than P are held, evict the lowest score (ties:
// the older position).
struct SlowPool {
  int64_t P;
  std::vector<std::pair<double, int64_t>> held;  // (score, position)
  void insert(double score, int64_t pos) {
    held.push_back({score, pos});
    if (static_cast<int64_t>(held.size()) > P)
      held.erase(std::min_element(held.begin(), held.end()));
  }
  std::set<int64_t> positions() const {
    std::set<int64_t> s;
    for (auto& h : held) s.insert(h.second);
    return s;
  }
};

TEST(MiddlePool, StoreHoldsWhatEvictionOneByOneHolds) {
  const int64_t n_kv = 2, hd = 4, first = 3;
  for (int64_t C : {1, 5, 17}) {
    MiddleStore ms(2, 1, n_kv, hd, first, C);
    std::vector<SlowPool> slow(n_kv, SlowPool{C, {}});
    Rng rng(C);
    std::vector<float> k(n_kv * hd), v(n_kv * hd), s(n_kv);
    for (int64_t pos = first; pos < 200; ++pos) {
      for (auto& x : k) x = rng.normal();
      for (auto& x : v) x = static_cast<float>(pos);  // the value row names its position
      for (int64_t g = 0; g < n_kv; ++g) {
        // Coarse scores so that ties occur and the tie rule is exercised.
        s[g] = static_cast<float>(static_cast<int>(rng.normal() * 3));
        slow[g].insert(s[g], pos);
      }
      ms.store(1, pos, k.data(), v.data(), s.data());
      for (int64_t g = 0; g < n_kv; ++g) {
        std::set<int64_t> got;
        for (int64_t r = 0; r < ms.held(1, g); ++r) {
          got.insert(ms.positions(1, g)[r]);
          ASSERT_EQ(static_cast<const float*>(ms.v(1, g))[r * hd],
                    static_cast<float>(ms.positions(1, g)[r]));
        }
        ASSERT_EQ(got, slow[g].positions()) << "C " << C << " pos " << pos << " head " << g;
      }
    }
    // A rewound stream (a reset session) starts over.
    ms.store(1, first, k.data(), v.data(), s.data());
    EXPECT_EQ(ms.held(1, 0), 1);
  }
}

// Attention rows with K >= P (every pool token attended) against the slow pool: row i's pool is
// what evicting one by one leaves after positions G..i-L became middle; pool tokens at distance
// L_pre/2 = 32, globals at D, locals at their true distance, one softmax.
TEST(MiddlePool, RowsMatchSlowEvictionReference) {
  const int64_t n = 60, G = 2, L = 5, P = 6, hd = 8, heads = 6, kv = 2;
  for (bool alibi : {false, true}) {
    StreamCase c{lambda_topk(G, L, L, 100, 0, P), heads, kv, hd, 7, 2,
                 ops::RopeStyle::RotateHalf,      alibi, 1};
    std::vector<std::vector<float>> rows;
    test::run_policy_stream(c, n, 41, {}, &rows);
    // The harness's values, regenerated (same seed, same order).
    Rng rng(41);
    std::vector<std::vector<double>> q(n), k(n), v(n), sc(n);
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t i = 0; i < heads * hd; ++i) q[t].push_back(1.5f * rng.normal());
      for (int64_t i = 0; i < kv * hd; ++i) k[t].push_back(1.5f * rng.normal());
      for (int64_t i = 0; i < kv * hd; ++i) v[t].push_back(rng.normal());
      for (int64_t g = 0; g < kv; ++g) sc[t].push_back(static_cast<float>(rng.normal()));
    }
    double err = 0;
    for (int64_t g = 0; g < kv; ++g) {
      SlowPool pool{P, {}};
      for (int64_t i = 0; i < n; ++i) {
        if (i - L >= G) pool.insert(sc[i - L][g], i - L);  // token i - L just became middle
        const std::set<int64_t> in_pool = pool.positions();
        for (int64_t h = g * (heads / kv); h < (g + 1) * (heads / kv); ++h) {
          const double slope = 4.0f * std::pow(2.0f, -8.0f * static_cast<float>(h + 1) / heads);
          std::vector<std::pair<double, int64_t>> lg;  // (logit, key)
          for (int64_t j = 0; j <= i; ++j) {
            const int64_t d = i - j < L ? i - j : j < G ? L : in_pool.count(j) ? 32 : -1;
            if (d < 0) continue;
            std::vector<double> qi(q[i].begin() + h * hd, q[i].begin() + (h + 1) * hd);
            if (!alibi) test::rope_rotate(qi, static_cast<double>(d), 10000.0, c.style);
            double dot = 0;
            for (int64_t x = 0; x < hd; ++x) dot += qi[x] * k[j][g * hd + x];
            lg.push_back({dot / std::sqrt(double(hd)) - (alibi ? slope * d : 0.0), j});
          }
          double mx = -INFINITY, sum = 0;
          for (auto& e : lg) mx = std::max(mx, e.first);
          for (auto& e : lg) sum += std::exp(e.first - mx);
          for (int64_t x = 0; x < hd; ++x) {
            double o = 0;
            for (auto& e : lg) o += std::exp(e.first - mx) / sum * v[e.second][g * hd + x];
            err = std::max(err, std::fabs(o - rows[i][h * hd + x]));
          }
        }
      }
    }
    EXPECT_LT(err, 2e-5) << "alibi " << alibi;
  }
}

TEST(MiddlePool, MatchesDenseReference) {
  const AttentionConfig cfgs[] = {lambda_topk(3, 7, 7, 2, 0, 5), lambda_topk(2, 5, 5, 1, 1, 1),
                                  lambda_topk(0, 6, 6, 4, 0, 9), lambda_topk(4, 3, 3, 10, 1, 4)};
  int idx = 0;
  for (const AttentionConfig& cfg : cfgs)
    for (int64_t block : {1, 6, 16}) {
      StreamCase c{cfg,
                   idx % 2 ? 6 : 4,
                   idx % 2 ? 3 : 1,
                   8,
                   block,
                   1 + idx % 2,
                   idx % 2 ? ops::RopeStyle::RotateHalf : ops::RopeStyle::AdjacentPairs,
                   idx % 3 == 2,
                   1};
      EXPECT_LT(test::run_policy_stream(c, 55, 900 + idx), 2e-5) << test::describe(c);
      ++idx;
    }
}

TEST(MiddlePool, PoolAtLeastTheMiddleIsUnboundedTopK) {
  for (int scheme = 0; scheme < 3; ++scheme) {
    auto run = [&](int64_t P) {
      StreamCase c{lambda_topk(3, 6, 6, 3, 0, P),
                   6,
                   2,
                   8,
                   5,
                   2,
                   scheme == 1 ? ops::RopeStyle::RotateHalf : ops::RopeStyle::AdjacentPairs,
                   scheme == 2,
                   1};
      std::vector<std::vector<float>> rows;
      test::run_policy_stream(c, 50, 17, {}, &rows);
      return rows;
    };
    auto unbounded = run(0), big = run(41), small = run(4);  // 50 - 3 - 6 = 41 middle at most
    double same = 0, diff = 0;
    for (size_t r = 0; r < unbounded.size(); ++r)
      for (size_t i = 0; i < unbounded[r].size(); ++i) {
        same = std::max(same, static_cast<double>(std::fabs(unbounded[r][i] - big[r][i])));
        diff = std::max(diff, static_cast<double>(std::fabs(unbounded[r][i] - small[r][i])));
      }
    // The pool's keys are the ring's rotated back by R(-j) (two f32 rotations, a few ulps per
    // component, ~1e-6 in a logit of this scale), the unbounded store's are the original
    // unrotated ones: equal up to that rounding, the kernel tolerance of the other tests.
    EXPECT_LT(same, 2e-5) << "scheme " << scheme;
    EXPECT_GT(diff, 1e-3) << "a small pool must change something, scheme " << scheme;
  }
}

// The pool holds no window tokens: P + block - 1 rows, filled from the ring as tokens leave the
// window of L (whose slots keep the scores).
TEST(MiddlePool, Geometry) {
  auto p = make_policy(lambda_topk(10, 512, 512, 5, 4, 100), PolicyContext{1024, 0, 64});
  EXPECT_EQ(p->geometry().middle_capacity, 100 + 63);
  EXPECT_EQ(p->geometry().middle_lag, 512);
  EXPECT_TRUE(p->geometry().slot_scores);
  EXPECT_EQ(p->geometry().slots(), 10 + 512 + 63);
  EXPECT_EQ(p->label(), "lambda(G=10,L=512,D=512)+top5@4+pool100(paper)");
  auto unbounded = make_policy(lambda_topk(10, 512, 512, 5, 4, 0), PolicyContext{1024, 0, 64});
  EXPECT_EQ(unbounded->geometry().middle_lag, 0);
  EXPECT_FALSE(unbounded->geometry().slot_scores);
}

// Memory: with a pool the cache bytes stay constant over a long stream (O(G + L + P)); without
// one the middle store grows with the stream (O(n), the paper's behaviour) -- in chunks.
TEST(MiddlePool, CacheBytesConstantOverAStream) {
  auto f = test::load_sharp_model(1, ops::RopeStyle::AdjacentPairs, "pool");
  LlamaModel m(*f);
  auto toks = test::random_tokens(1500, f->config.vocab_size, 8);
  Session pooled(m, SessionOptions{0, 2, 4, lambda_topk(3, 8, 8, 2, 1, 16)});
  Session unbounded(m, SessionOptions{0, 2, 4, lambda_topk(3, 8, 8, 2, 1, 0)});
  const size_t pooled_bytes = pooled.state_bytes(), unbounded_bytes = unbounded.state_bytes();
  pooled.prefill(toks.data(), 100);
  unbounded.prefill(toks.data(), 100);
  for (int i = 100; i < 1500; ++i) {
    pooled.decode(toks[i]);
    unbounded.decode(toks[i]);
    ASSERT_EQ(pooled.state_bytes(), pooled_bytes) << "position " << i;
  }
  EXPECT_EQ(pooled.capacity(), INT64_MAX);
  EXPECT_GT(unbounded.state_bytes(), unbounded_bytes + 1400 * 2 * 10 * sizeof(float));
}

}  // namespace
}  // namespace lc
