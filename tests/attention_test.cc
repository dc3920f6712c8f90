// Full causal attention over the KV cache against the slow reference: seeded random shapes with
// odd sizes, GQA groups, blocks of queries at various offsets, 1-3 threads, and every KV-cache
// element type (f32, bf16, f16, q8_0, q4; keys and values mixed).
#include "attention/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "flash_amx_scope.h"

namespace lc {
namespace {

struct Shape {
  int64_t heads, kv_heads, head_dim, n_q, pos0;
};

TEST(AttentionFull, MatchesReference) {
  const test::FlashAmxScope exact(false);  // the f32 kernels (the AMX tile: amx_flash_test.cc)
  Rng rng(2024);
  const Shape shapes[] = {{1, 1, 2, 1, 0},    {4, 2, 8, 3, 5},     {6, 2, 8, 1, 40},
                          {8, 4, 8, 17, 0},   {3, 3, 7, 4, 9},     {12, 12, 64, 1, 130},
                          {8, 1, 33, 5, 17},  {4, 4, 16, 64, 100}, {2, 1, 129, 2, 3},
                          {9, 3, 64, 70, 90}, {6, 2, 32, 1, 200},  {4, 1, 96, 3, 66}};
  // Cache element types (keys, values): the kernels read each in place; the reference reads the
  // same stored values back as floats (KvCache::load_k / load_v), so one tolerance serves all.
  const std::pair<DType, DType> types[] = {
      {DType::F32, DType::F32},   {DType::BF16, DType::BF16}, {DType::F16, DType::F16},
      {DType::Q8_0, DType::Q8_0}, {DType::Q8_0, DType::F16},  {DType::BF16, DType::Q8_0},
      {DType::Q4_1, DType::Q4_1}, {DType::Q4_1, DType::F32},  {DType::F16, DType::Q4_1}};
  for (const auto& [kt, vt] : types)
    for (const Shape& sh : shapes)
      for (int threads : {1, 2, 3}) {
        if (sh.head_dim % dtype_block(kt) != 0 || sh.head_dim % dtype_block(vt) != 0) continue;
        SCOPED_TRACE(testing::Message()
                     << dtype_name(kt) << "/" << dtype_name(vt) << " heads " << sh.heads << " kv "
                     << sh.kv_heads << " hd " << sh.head_dim << " n_q " << sh.n_q << " pos0 "
                     << sh.pos0 << " threads " << threads);
        const int64_t layers = 2, cap = sh.pos0 + sh.n_q + 3, layer = 1;
        CacheGeometry geo{cap, 0, 0};
        geo.k_type = kt;
        geo.v_type = vt;
        KvCache cache(layers, sh.kv_heads, sh.head_dim, geo);
        std::vector<float> row(sh.head_dim);
        for (int64_t l = 0; l < layers; ++l)
          for (int64_t g = 0; g < sh.kv_heads; ++g)
            for (int64_t j = 0; j < cap; ++j) {
              for (float& x : row) x = rng.normal();
              cache.store_k(l, g, j, row.data());
              for (float& x : row) x = rng.normal();
              cache.store_v(l, g, j, row.data());
            }
        const AttentionShape s{sh.heads, sh.kv_heads, sh.head_dim};
        const int64_t q_dim = sh.heads * sh.head_dim;
        std::vector<float> q(sh.n_q * q_dim), got(sh.n_q * q_dim, NAN), want(sh.n_q * q_dim);
        for (auto& x : q) x = 2.0f * rng.normal();
        ThreadPool pool(threads);
        std::vector<float> scratch(attention_scratch_floats(s, cap, threads));
        attend_full(pool, cache, layer, s, q.data(), sh.n_q, sh.pos0, got.data(), scratch.data());
        attend_full_reference(cache, layer, s, q.data(), sh.n_q, sh.pos0, want.data());
        // Outputs are convex combinations of N(0,1) values: an absolute bound of 1e-5 is ~100x
        // the f32 rounding of softmax + a weighted sum of <= 300 terms.
        for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5) << "i=" << i;
      }
}

}  // namespace
}  // namespace lc
