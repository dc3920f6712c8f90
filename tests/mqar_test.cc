// The MQAR generator against the spec's five steps (structure of every example), determinism
// from the seed, the power-law gap distribution (chi-square against the exact probabilities),
// the accuracy rule, and impossible specs refused by name.
#include "data/mqar.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <vector>

#include "test_util.h"

namespace lc {
namespace {

TEST(Mqar, EveryExampleFollowsTheSpec) {
  const MqarSpec specs[] = {{8192, 64, 4, 0.01}, {8192, 256, 64, 0.01}, {8192, 1024, 256, 0.01},
                            {64, 64, 16, 0.01},  {10, 16, 4, 0.01},     {512, 100, 25, 0.5}};
  for (const MqarSpec& s : specs) {
    SCOPED_TRACE(testing::Message()
                 << "vocab " << s.vocab << " seq_len " << s.seq_len << " pairs " << s.pairs);
    for (const MqarExample& e : mqar_dataset(s, 40, 11)) {
      ASSERT_EQ(e.tokens.size(), static_cast<size_t>(s.seq_len));
      ASSERT_EQ(e.labels.size(), static_cast<size_t>(s.seq_len));
      for (int t : e.tokens) ASSERT_TRUE(t >= 0 && t < s.vocab) << t;
      std::map<int, int> value_of;  // key -> value from the context
      std::set<int> values;
      for (int64_t i = 0; i < s.pairs; ++i) {
        const int k = e.tokens[2 * i], v = e.tokens[2 * i + 1];
        ASSERT_TRUE(k >= 1 && k < s.vocab / 2) << "key " << k;
        ASSERT_TRUE(v >= s.vocab / 2 && v < s.vocab) << "value " << v;
        ASSERT_TRUE(value_of.emplace(k, v).second) << "keys are distinct";
        ASSERT_TRUE(values.insert(v).second) << "values are distinct";
        ASSERT_EQ(e.labels[2 * i], kMqarIgnore);
        ASSERT_EQ(e.labels[2 * i + 1], kMqarIgnore);
      }
      std::set<int> queried;
      for (int64_t p = 2 * s.pairs; p < s.seq_len; ++p) {
        if (e.labels[p] == kMqarIgnore) continue;
        ASSERT_EQ((p - 2 * s.pairs) % 2, 0) << "queries sit at 2P + 2g";
        ASSERT_TRUE(value_of.count(e.tokens[p])) << "a query is a context key";
        ASSERT_EQ(e.labels[p], value_of[e.tokens[p]]) << "labelled with its value";
        ASSERT_TRUE(queried.insert(e.tokens[p]).second) << "each key queried once";
      }
      ASSERT_EQ(queried.size(), static_cast<size_t>(s.pairs)) << "every key is queried";
    }
  }
}

TEST(Mqar, SameSeedSameDataDifferentSeedDifferentData) {
  const MqarSpec s{8192, 128, 8, 0.01};
  const auto a = mqar_dataset(s, 20, 5), b = mqar_dataset(s, 20, 5), c = mqar_dataset(s, 20, 6);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].tokens, b[i].tokens);
    EXPECT_EQ(a[i].labels, b[i].labels);
  }
  int differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ += a[i].tokens != c[i].tokens;
  EXPECT_EQ(differ, 20);
  // The filler is uniform over the whole vocabulary (not only keys or values): both halves seen.
  int low = 0, high = 0;
  for (const auto& e : a)
    for (int64_t p = 2 * s.pairs; p < s.seq_len; ++p)
      if (e.labels[p] == kMqarIgnore) (e.tokens[p] < s.vocab / 2 ? low : high)++;
  EXPECT_GT(low, 0);
  EXPECT_GT(high, 0);
}

// One pair, 11 possible gaps: the histogram of 20000 draws against the exact power law. The
// chi-square statistic has 10 degrees of freedom (99.9th percentile 29.6); a uniform or
// reversed gap law gives thousands.
TEST(Mqar, GapsFollowThePowerLaw) {
  for (double a : {0.01, 0.5}) {
    const MqarSpec s{100, 24, 1, a};
    const int64_t space = (s.seq_len - 2) / 2, n = 20000;
    std::vector<int64_t> count(static_cast<size_t>(space), 0);
    for (const MqarExample& e : mqar_dataset(s, n, 3))
      for (int64_t p = 2; p < s.seq_len; ++p)
        if (e.labels[p] != kMqarIgnore) ++count[(p - 2) / 2];
    double chi2 = 0, total_p = 0;
    for (int64_t g = 0; g < space; ++g) {
      const double p = mqar_gap_probability(g, space, a), expect = p * n;
      total_p += p;
      chi2 += (count[g] - expect) * (count[g] - expect) / expect;
    }
    EXPECT_NEAR(total_p, 1.0, 1e-12);
    EXPECT_LT(chi2, 29.6) << "power_a " << a;
    EXPECT_GT(count[0], count[space - 1]) << "short gaps are favoured";
  }
  // With several pairs the gaps are distinct (drawn without replacement) even when the law
  // piles its mass on g = 0: the spec's tightest case, 4P = seq_len, uses every slot once.
  const MqarSpec tight{64, 16, 4, 0.01};
  for (const MqarExample& e : mqar_dataset(tight, 50, 9))
    for (int64_t p = 8; p < 16; p += 2) EXPECT_NE(e.labels[p], kMqarIgnore);
}

TEST(Mqar, AccuracyIsArgmaxAtLabelledPositions) {
  const MqarSpec s{16, 16, 4, 0.01};
  const MqarExample e = mqar_dataset(s, 1, 2)[0];
  std::vector<float> logits(static_cast<size_t>(s.seq_len * s.vocab), 0.0f);
  for (int64_t p = 0; p < s.seq_len; ++p) logits[p * s.vocab + 3] = 1.0f;  // a wrong guess
  EXPECT_EQ(mqar_accuracy(e, logits.data(), s.vocab), 0.0);
  int fixed = 0;
  for (int64_t p = 0; p < s.seq_len; ++p)
    if (e.labels[p] != kMqarIgnore && fixed < 2) {
      logits[p * s.vocab + e.labels[p]] = 2.0f;
      ++fixed;
    }
  EXPECT_DOUBLE_EQ(mqar_accuracy(e, logits.data(), s.vocab), 0.5);
}

TEST(Mqar, ImpossibleSpecsAreRefused) {
  Rng rng(1);
  test::expect_error([&] { mqar_example({8192, 63, 4, 0.01}, rng); }, {"seq_len 63"});
  test::expect_error([&] { mqar_example({8192, 64, 17, 0.01}, rng); }, {"num_kv_pairs 17"});
  test::expect_error([&] { mqar_example({8, 64, 4, 0.01}, rng); }, {"vocab 8", "distinct"});
  test::expect_error([&] { mqar_example({8192, 64, 4, 0.0}, rng); }, {"power_a"});
}

}  // namespace
}  // namespace lc
