// Random tokens for the policy-kernel tests that stream through cache_store + attend_policy
// (kv_types_test.cc, kivi_test.cc): per position, queries rotated to the position and to the
// policy's global position, keys rotated (plus the unrotated copy), values and TRAMS scores.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "attention/attention.h"
#include "attention/policy.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "ops/ops.h"
#include "ops/rope.h"

namespace lc::test {

struct PolicyTokens {
  PolicyTokens(int64_t heads, int64_t kv_heads, int64_t hd, int64_t block, uint64_t seed,
               int64_t outlier_every = 0)
      : heads(heads),
        kv_heads(kv_heads),
        hd(hd),
        outlier_every(outlier_every),
        rng(seed),
        q(block * heads * hd),
        qg(q.size()),
        k(kv_heads * hd),
        kr(k.size()),
        v(k.size()),
        scores(kv_heads),
        cs(hd / 2),
        sn(hd / 2) {}

  // Fills row b of q / qg and k, kr, v, scores for position pos (keys: N(0, 1.5^2), every
  // outlier_every-th channel 4x wider when > 0).
  void next(const AttentionPolicy& policy, int64_t b, int64_t pos) {
    const ops::KernelTable& K = ops::kernels();
    const int64_t q_dim = heads * hd;
    for (int64_t i = 0; i < q_dim; ++i) q[b * q_dim + i] = qg[b * q_dim + i] = 1.5f * rng.normal();
    for (size_t i = 0; i < k.size(); ++i) {
      const bool wide = outlier_every > 0 && static_cast<int64_t>(i) % outlier_every == 0;
      k[i] = kr[i] = (wide ? 6.0f : 1.5f) * rng.normal();
      v[i] = rng.normal();
    }
    for (float& s : scores) s = rng.normal();
    ops::rope_angles(static_cast<double>(pos), hd, 10000.0, cs.data(), sn.data());
    K.rope(q.data() + b * q_dim, heads, hd, cs.data(), sn.data(), ops::RopeStyle::AdjacentPairs);
    K.rope(k.data(), kv_heads, hd, cs.data(), sn.data(), ops::RopeStyle::AdjacentPairs);
    ops::rope_angles(static_cast<double>(policy.plan(pos).global_pos), hd, 10000.0, cs.data(),
                     sn.data());
    K.rope(qg.data() + b * q_dim, heads, hd, cs.data(), sn.data(), ops::RopeStyle::AdjacentPairs);
  }

  int64_t heads, kv_heads, hd, outlier_every;
  Rng rng;
  std::vector<float> q, qg, k, kr, v, scores;

 private:
  std::vector<float> cs, sn;
};

// attend_policy over a cache (`got`) and its reference (`want`) for the rows [r0, r0 + nb) of
// tk's queries (layer 1); raises *max_err to their largest difference (NaN: infinity).
inline void attend_and_compare(ThreadPool& pool, const AttentionShape& shape,
                               const PolicyTokens& tk, int64_t r0, int64_t nb, const KvCache& got,
                               const AttentionPolicy& got_policy, const KvCache& want,
                               const AttentionPolicy& want_policy, float* scratch, int64_t* idx,
                               double* max_err) {
  const int64_t q_dim = tk.heads * tk.hd;
  std::vector<float> a(static_cast<size_t>(nb * q_dim)), b(a.size());
  attend_policy(pool, got, 1, shape, got_policy, tk.q.data(), tk.qg.data(), nb, r0, a.data(),
                scratch, nullptr, idx);
  attend_policy(pool, want, 1, shape, want_policy, tk.q.data(), tk.qg.data(), nb, r0, b.data(),
                scratch, nullptr, idx);
  for (size_t i = 0; i < a.size(); ++i) {
    const double e = std::fabs(a[i] - b[i]);
    if (!(e <= *max_err)) *max_err = std::isnan(e) ? INFINITY : e;
  }
}

}  // namespace lc::test
