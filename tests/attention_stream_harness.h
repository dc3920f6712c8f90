// Streams seeded random q, k, v through cache_store + attend_policy block by block, exactly as the
// model feeds them, and compares every row with the dense reference (attention_dense_reference.h)
// -- for the policies with extra state: LM-Infinite top-k (queries rotated to the middle distance,
// a middle store in the layers >= H) and TRAMS (a score per token and kv head). Token scores are
// seeded random numbers here; the score formula itself is tested through the model.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "attention/attention.h"
#include "attention/policy.h"
#include "attention_dense_reference.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "ops/ops.h"

namespace lc::test {

struct StreamCase {
  AttentionConfig cfg;  // resolved against trained context 64
  int64_t heads, kv_heads, head_dim, block;
  int threads;
  ops::RopeStyle style;
  bool alibi;
  int64_t layer = 1;  // the layer attended (of 2); top-k applies when layer >= topk_from_layer
};

inline std::string describe(const StreamCase& c) {
  return c.cfg.label() + " heads " + std::to_string(c.heads) + "/" + std::to_string(c.kv_heads) +
         " hd " + std::to_string(c.head_dim) + " block " + std::to_string(c.block) + " threads " +
         std::to_string(c.threads) + " layer " + std::to_string(c.layer) +
         (c.alibi                                 ? " alibi"
          : c.style == ops::RopeStyle::RotateHalf ? " rope-half"
                                                  : " rope-adjacent");
}

// The dense reference's description of the resolved policy.
inline DensePolicy dense_of(const AttentionPolicy& pol, const AttentionConfig& c, int64_t layer) {
  DensePolicy d;
  d.policy = c.policy;
  d.sinks = c.sinks;
  d.window = c.window;
  d.ceiling = c.ceiling;
  if (c.policy == AttnPolicy::Lambda && pol.middle().active(layer)) {
    d.topk = pol.middle().k;
    d.topk_distance = pol.middle().distance;
    d.middle_pool = pol.middle().pool;
  }
  if (c.policy == AttnPolicy::Trams) {
    d.trams_pool = pol.trams().pool;
    d.trams_recent = pol.trams().recent;
    d.trams_select = pol.trams().select;
    d.trams_compacted = pol.trams().compacted;
  }
  return d;
}

// Outputs for positions 0..n-1 fed in blocks of c.block (or as `chunks` when given: sizes of
// consecutive forward calls, e.g. a prompt then single tokens). Returns the largest absolute
// error against the dense reference; *out_rows (optional) receives the rows.
inline double run_policy_stream(const StreamCase& c, int64_t n, uint64_t seed,
                                const std::vector<int64_t>& chunks = {},
                                std::vector<std::vector<float>>* out_rows = nullptr) {
  const ops::KernelTable& K = ops::kernels();
  const int64_t hd = c.head_dim, q_dim = c.heads * hd, kv_dim = c.kv_heads * hd, half = hd / 2;
  Rng rng(seed);
  std::vector<std::vector<double>> q(n), k(n), v(n), scores(n);
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t i = 0; i < q_dim; ++i) q[t].push_back(1.5f * rng.normal());
    for (int64_t i = 0; i < kv_dim; ++i) k[t].push_back(1.5f * rng.normal());
    for (int64_t i = 0; i < kv_dim; ++i) v[t].push_back(rng.normal());
    // Stored as float by the engine: round here too, so that both rank the same values.
    for (int64_t g = 0; g < c.kv_heads; ++g) scores[t].push_back(static_cast<float>(rng.normal()));
  }
  std::vector<double> slopes_d;
  std::vector<float> slopes;
  for (int64_t h = 0; h < c.heads; ++h) {
    slopes.push_back(4.0f * std::pow(2.0f, -8.0f * static_cast<float>(h + 1) / c.heads));
    slopes_d.push_back(slopes.back());
  }
  const int64_t block = c.block;
  auto policy = make_policy(c.cfg, PolicyContext{64, n, block});
  DenseShape ds{c.heads, c.kv_heads, hd, 10000.0, c.style, c.alibi ? &slopes_d : nullptr};
  std::vector<int64_t> pos(n);
  for (int64_t t = 0; t < n; ++t) pos[t] = t;
  DensePolicy dp = dense_of(*policy, c.cfg, c.layer);
  // Resolve the defaults the way make_policy does for lambda (G = 10, L = ctx, D = L).
  if (dp.policy == AttnPolicy::Lambda) {
    if (dp.sinks < 0) dp.sinks = 10;
    if (dp.window <= 0) dp.window = 64;
    if (dp.ceiling < 0) dp.ceiling = dp.window;
  }
  dp.scores = &scores;
  auto want = dense_attention(dp, ds, pos, q, k, v);

  const int64_t layers = 2;
  KvCache cache(layers, c.kv_heads, hd, policy->geometry());
  const ops::RopeFreqs rope(hd, 10000.0);
  cache.set_key_rotation(c.alibi ? nullptr : &rope, c.style);
  AttentionShape shape{
      c.heads, c.kv_heads, hd, c.alibi ? slopes.data() : nullptr, c.alibi ? nullptr : &rope,
      c.style};
  ThreadPool pool(c.threads);
  std::vector<float> scratch(attention_scratch_floats(shape, *policy, c.threads));
  std::vector<int64_t> scratch_idx(attention_scratch_indices(shape, *policy, c.threads) + 1);
  std::vector<float> qb(block * q_dim), qg(block * q_dim), qm(block * q_dim), kb(kv_dim),
      kr(kv_dim), vb(kv_dim), sb(c.kv_heads);
  std::vector<float> out(block * q_dim), cs(half), sn(half);
  double max_err = 0;
  size_t chunk_i = 0;
  for (int64_t r0 = 0; r0 < n;) {
    const int64_t nb =
        std::min({n - r0, block, chunk_i < chunks.size() ? chunks[chunk_i++] : block});
    for (int64_t b = 0; b < nb; ++b) {
      const int64_t t = r0 + b;
      for (int64_t i = 0; i < q_dim; ++i)
        qb[b * q_dim + i] = qg[b * q_dim + i] = qm[b * q_dim + i] = static_cast<float>(q[t][i]);
      for (int64_t i = 0; i < kv_dim; ++i)
        kb[i] = kr[i] = static_cast<float>(k[t][i]), vb[i] = static_cast<float>(v[t][i]);
      for (int64_t g = 0; g < c.kv_heads; ++g) sb[g] = static_cast<float>(scores[t][g]);
      if (!c.alibi) {
        auto rot = [&](float* x, int64_t heads, double p) {
          ops::rope_angles(p, hd, 10000.0, cs.data(), sn.data());
          K.rope(x, heads, hd, cs.data(), sn.data(), c.style);
        };
        rot(qb.data() + b * q_dim, c.heads, static_cast<double>(t));
        rot(kb.data(), c.kv_heads, static_cast<double>(t));
        rot(qg.data() + b * q_dim, c.heads, static_cast<double>(policy->plan(t).global_pos));
        rot(qm.data() + b * q_dim, c.heads, static_cast<double>(policy->middle().distance));
      }
      cache_store(cache, c.layer, c.kv_heads, t, kb.data(), kr.data(), vb.data(), sb.data());
    }
    std::fill(out.begin(), out.end(), NAN);
    attend_policy(pool, cache, c.layer, shape, *policy, qb.data(), qg.data(), nb, r0, out.data(),
                  scratch.data(), qm.data(), scratch_idx.data());
    for (int64_t b = 0; b < nb; ++b) {
      if (out_rows) out_rows->emplace_back(out.begin() + b * q_dim, out.begin() + (b + 1) * q_dim);
      for (int64_t i = 0; i < q_dim; ++i) {
        const double e = std::fabs(out[b * q_dim + i] - want[r0 + b][i]);
        if (!(e <= max_err)) max_err = std::isnan(e) ? INFINITY : e;
      }
    }
    r0 += nb;
  }
  return max_err;
}

// Every config over four head shapes (GQA 6/2 hd 8, MQA 4/1 hd 10, MHA 3/3 hd 6, 8/4 hd 34),
// cycling block sizes 1/4/7/16, 1-3 threads, both RoPE styles and ALiBi, on sequences of 53-57
// tokens (the ring wraps several times); a test failure names every case whose largest error
// against the dense reference reaches tol.
inline void expect_dense_over_head_shapes(const std::vector<AttentionConfig>& cfgs, uint64_t seed0,
                                          double tol) {
  struct Dims {
    int64_t heads, kv, hd;
  };
  const Dims dims[] = {{6, 2, 8}, {4, 1, 10}, {3, 3, 6}, {8, 4, 34}};
  const int64_t blocks[] = {1, 4, 7, 16};
  int idx = 0;
  for (const AttentionConfig& cfg : cfgs)
    for (const Dims& d : dims) {
      const bool alibi = idx % 3 == 2;
      const auto style = idx % 2 ? ops::RopeStyle::RotateHalf : ops::RopeStyle::AdjacentPairs;
      StreamCase c{cfg, d.heads, d.kv, d.hd, blocks[idx % 4], 1 + idx % 3, style, alibi, 1};
      EXPECT_LT(run_policy_stream(c, 53 + idx % 5, seed0 + static_cast<uint64_t>(idx)), tol)
          << describe(c);
      ++idx;
    }
}

}  // namespace lc::test
