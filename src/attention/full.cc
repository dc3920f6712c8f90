#include <cmath>
#include <cstring>
#include <vector>

#include "attention/attention.h"
#include "attention/flash.h"
#include "attention/kv_types.h"
#include "attention/policy.h"
#include "attention/policy_table.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "ops/ops.h"

namespace lc {

// For each (query row, kv head) item: the scores of the group's query heads against every
// visible key are one small matrix product (gemm with the keys as the weight matrix), then a
// softmax per head, then one weighted sum over the value rows. Keys and values of a head are
// contiguous in the cache, so each is streamed once per item for the whole group.
void attend_full(ThreadPool& pool, const KvCache& cache, int64_t layer, const AttentionShape& s,
                 const float* q, int64_t n_q, int64_t pos0, float* out, float* scratch) {
  const ops::KernelTable& K = ops::kernels();
  const int64_t hd = s.head_dim, q_dim = s.n_heads * hd, group = s.n_heads / s.n_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t cap = cache.capacity();
  if (!s.alibi_slopes && flash_serves(s, n_q, false))  // no bias here (BlockAttention)
    return attend_flash(pool, cache, layer, s, nullptr, q, nullptr, n_q, pos0, out, scratch,
                        attention_thread_floats(s, cap));
  // Multiply-adds: scores and weighted sum, for every query row and head.
  const int64_t work = 2 * n_q * s.n_heads * (pos0 + n_q) * hd;
  pool.run_sized(work, [&](int t, int nt) {
    int64_t b, e;
    ThreadPool::split_range(n_q * s.n_kv_heads, 1, t, nt, &b, &e);
    // Per thread (attention_row_scratch_floats): scores [group, cap] (then a partial output
    // attend_policy uses).
    float* scores = scratch + t * group * (cap + hd);
    for (int64_t item = b; item < e; ++item) {
      const int64_t i = item / s.n_kv_heads, g = item % s.n_kv_heads, n_keys = pos0 + i + 1;
      const float* qg = q + i * q_dim + g * group * hd;  // the group's heads, [group, hd]
      cache.key_scores(K, layer, g, 0, n_keys, qg, group, scores, cap);
      for (int64_t h = 0; h < group; ++h) {
        float* row = scores + h * cap;
        for (int64_t j = 0; j < n_keys; ++j) row[j] *= scale;
        K.softmax(row, n_keys);
      }
      cache.value_sum(K, layer, g, 0, n_keys, scores, cap, group, out + i * q_dim + g * group * hd,
                      hd, false, scores + group * cap);
    }
  });
}

void attend_full_reference(const KvCache& cache, int64_t layer, const AttentionShape& s,
                           const float* q, int64_t n_q, int64_t pos0, float* out) {
  const int64_t hd = s.head_dim, q_dim = s.n_heads * hd, group = s.n_heads / s.n_kv_heads;
  std::vector<float> kr(static_cast<size_t>(hd)), vr(kr.size());
  for (int64_t i = 0; i < n_q; ++i)
    for (int64_t h = 0; h < s.n_heads; ++h) {
      int64_t g = h / group, n_keys = pos0 + i + 1;
      std::vector<double> w(static_cast<size_t>(n_keys));
      double mx = -INFINITY;
      for (int64_t j = 0; j < n_keys; ++j) {
        double d = 0;
        cache.load_k(layer, g, j, kr.data());
        for (int64_t c = 0; c < hd; ++c)
          d += static_cast<double>(q[i * q_dim + h * hd + c]) * kr[c];
        w[j] = d / std::sqrt(static_cast<double>(hd));
        mx = std::fmax(mx, w[j]);
      }
      double sum = 0;
      for (auto& x : w) sum += (x = std::exp(x - mx));
      std::vector<double> acc(static_cast<size_t>(hd), 0.0);
      for (int64_t j = 0; j < n_keys; ++j) {
        cache.load_v(layer, g, j, vr.data());
        for (int64_t c = 0; c < hd; ++c) acc[c] += w[j] / sum * vr[c];
      }
      for (int64_t c = 0; c < hd; ++c) out[i * q_dim + h * hd + c] = static_cast<float>(acc[c]);
    }
}

namespace {

// `full`: every j <= i. With a ceiling D every distance above D is clipped to D (the "ceiling
// without Λ-mask" ablation): keys older than D are global keys scored as <R(D) q, k_unrotated>,
// so every slot keeps an unrotated copy. Slot == position; the cache holds `ctx` positions.
class FullPolicy final : public AttentionPolicy {
 public:
  FullPolicy(int64_t ctx, int64_t ceiling) : ceiling_(ceiling) {
    check(ceiling >= 0, "full: ceiling D = ", ceiling, " must be >= 0 (or none)");
    const bool clip = ceiling != AttentionConfig::kNoCeiling;
    geo_ = CacheGeometry{ctx, 0, clip ? ctx : 0};
    max_block_ = ctx;
    plain_causal_ = !clip;
    needs_global_query_ = clip;
    label_ = clip ? "full(D=" + std::to_string(ceiling) + ")" : "full";
  }
  RowPlan plan(int64_t i) const override {
    if (plain_causal_) return RowPlan{0, 0, i, false};
    const int64_t lo = i > ceiling_ ? i - ceiling_ : 0;
    return RowPlan{lo, lo, ceiling_, true};
  }

 private:
  int64_t ceiling_;
};

}  // namespace

std::unique_ptr<AttentionPolicy> make_full_policy(int64_t ctx, int64_t ceiling) {
  check(ctx >= 1, "full: context of ", ctx, " tokens");
  return std::make_unique<FullPolicy>(ctx, ceiling);
}

std::unique_ptr<AttentionPolicy> resolve_full(const AttentionConfig& c, const PolicyContext& pc) {
  // A model trained with a sliding window (Mistral) attends within it unless full attention was
  // asked for explicitly.
  if (c.model_window && pc.model_window > 0 && c.ceiling < 0)
    return make_window_policy(pc.model_window, pc.block_tokens);
  check(pc.ctx > 0, "attention: context of ", pc.ctx, " tokens");
  return make_full_policy(pc.ctx, c.ceiling < 0 ? AttentionConfig::kNoCeiling : c.ceiling);
}

}  // namespace lc
