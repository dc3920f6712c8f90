// Full causal attention over the KV cache against the slow reference: seeded random shapes with
// odd sizes, GQA groups, blocks of queries at various offsets, and 1-3 threads.
#include "attention/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/rng.h"
#include "core/thread_pool.h"

namespace lc {
namespace {

struct Shape {
  int64_t heads, kv_heads, head_dim, n_q, pos0;
};

TEST(AttentionFull, MatchesReference) {
  Rng rng(2024);
  const Shape shapes[] = {{1, 1, 2, 1, 0},   {4, 2, 8, 3, 5},     {6, 2, 8, 1, 40},
                          {8, 4, 8, 17, 0},  {3, 3, 7, 4, 9},     {12, 12, 64, 1, 130},
                          {8, 1, 33, 5, 17}, {4, 4, 16, 64, 100}, {2, 1, 129, 2, 3}};
  for (const Shape& sh : shapes)
    for (int threads : {1, 2, 3}) {
      SCOPED_TRACE(testing::Message()
                   << "heads " << sh.heads << " kv " << sh.kv_heads << " hd " << sh.head_dim
                   << " n_q " << sh.n_q << " pos0 " << sh.pos0 << " threads " << threads);
      const int64_t layers = 2, cap = sh.pos0 + sh.n_q + 3, layer = 1;
      KvCache cache(layers, cap, sh.kv_heads, sh.head_dim);
      for (int64_t l = 0; l < layers; ++l)
        for (int64_t g = 0; g < sh.kv_heads; ++g)
          for (int64_t j = 0; j < cap; ++j)
            for (int64_t c = 0; c < sh.head_dim; ++c) {
              cache.k(l, g, j)[c] = rng.normal();
              cache.v(l, g, j)[c] = rng.normal();
            }
      const AttentionShape s{sh.heads, sh.kv_heads, sh.head_dim};
      const int64_t q_dim = sh.heads * sh.head_dim;
      std::vector<float> q(sh.n_q * q_dim), got(sh.n_q * q_dim, NAN), want(sh.n_q * q_dim);
      for (auto& x : q) x = 2.0f * rng.normal();
      ThreadPool pool(threads);
      std::vector<float> scratch(threads * (sh.heads / sh.kv_heads) * cap);
      attend_full(pool, cache, layer, s, q.data(), sh.n_q, sh.pos0, got.data(), scratch.data());
      attend_full_reference(cache, layer, s, q.data(), sh.n_q, sh.pos0, want.data());
      // Outputs are convex combinations of N(0,1) values: an absolute bound of 1e-5 is ~100x the
      // f32 rounding of softmax + a weighted sum of <= 200 terms.
      for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5) << "i=" << i;
    }
}

}  // namespace
}  // namespace lc
