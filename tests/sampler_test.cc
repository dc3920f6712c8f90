// The sampler (runtime/sampler.h) against a slow, obvious reference written here: softmax with
// temperature, top-k by a full sort, top-p by a full sort and a cumulative sum, then one uniform
// draw from the same generator. Over seeded random logits (flat and peaked, ties, vocabularies of
// 1..50000) every combination of settings must pick exactly the reference's token.
#include "runtime/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "core/rng.h"

namespace lc {
namespace {

int reference_sample(const std::vector<float>& logits, const SamplerOptions& o, Rng& rng) {
  const int64_t n = static_cast<int64_t>(logits.size());
  int best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = static_cast<int>(i);
  if (o.temperature <= 0.0f || n == 1) return best;
  std::vector<std::pair<float, int>> c;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float p = std::exp((logits[i] - logits[best]) / o.temperature);
    c.emplace_back(p, static_cast<int>(i));
    sum += p;
  }
  // Without truncation the draw walks the vocabulary in id order; with it, best first.
  if ((o.top_k > 0 && o.top_k < n) || o.top_p < 1.0f)
    std::sort(c.begin(), c.end(), [](const auto& a, const auto& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    });
  int64_t m = n;
  if (o.top_k > 0 && o.top_k < m) {
    m = o.top_k;
    sum = 0;
    for (int64_t i = 0; i < m; ++i) sum += c[i].first;
  }
  if (o.top_p < 1.0f) {
    const double target = o.top_p * sum;
    double acc = 0;
    int64_t keep = 0;
    while (keep < m) {
      acc += c[keep++].first;
      if (acc >= target) break;
    }
    m = keep;
    sum = acc;
  }
  const double r = rng.uniform() * sum;
  double acc = 0;
  for (int64_t i = 0; i < m; ++i) {
    acc += c[i].first;
    if (r < acc) return c[i].second;
  }
  return c[m - 1].second;
}

TEST(Sampler, EqualsTheFullSortReference) {
  Rng gen(2024);
  int checked = 0;
  for (int64_t n : {1, 2, 7, 64, 65, 513, 4099, 49152}) {
    for (float spread : {0.1f, 3.0f, 12.0f}) {
      std::vector<float> logits(static_cast<size_t>(n));
      for (float& x : logits) x = spread * gen.normal();
      if (n > 4) logits[3] = logits[1];  // a tie
      for (float temp : {0.0f, 0.7f, 1.0f, 1.5f})
        for (int64_t top_k : {0, 1, 5, 100})
          for (float top_p : {1.0f, 0.95f, 0.5f, 1e-6f}) {
            SamplerOptions o;
            o.temperature = temp;
            o.top_k = top_k;
            o.top_p = top_p;
            o.seed = static_cast<uint64_t>(n * 31 + top_k);
            Sampler s(n, o);
            Rng ref(o.seed);
            for (int draw = 0; draw < 3; ++draw) {
              ASSERT_EQ(s.sample(logits.data(), n), reference_sample(logits, o, ref))
                  << "n " << n << " spread " << spread << " temp " << temp << " top_k " << top_k
                  << " top_p " << top_p << " draw " << draw;
              ++checked;
            }
          }
    }
  }
  EXPECT_GT(checked, 1000);
}

}  // namespace
}  // namespace lc
