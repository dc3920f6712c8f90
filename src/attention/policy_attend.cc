#include <algorithm>
#include <cmath>
#include <cstring>

#include "attention/attention.h"
#include "attention/policy.h"
#include "core/thread_pool.h"
#include "ops/ops.h"

namespace lc {

namespace {

// A contiguous run of cached keys that one row attends to.
struct Run {
  const float* k;  // [n, head_dim]
  const float* v;  // [n, head_dim]
  int64_t first;   // position of the first key
  int64_t n;
  int64_t col;  // first score column
  bool global;
};

// Splits the plan of the query at `pos` into runs of adjacent slots; returns how many.
int runs_of(const KvCache& cache, int64_t layer, int64_t g, int64_t pos, const RowPlan& p,
            Run* runs) {
  const CacheGeometry& geo = cache.geometry();
  int n = 0;
  if (p.n_global > 0) {
    const float* k = p.global_raw ? cache.k_raw(layer, g, 0) : cache.k(layer, g, 0);
    runs[n++] = Run{k, cache.v(layer, g, 0), 0, p.n_global, 0, true};
  }
  // Local keys in pinned slots.
  const int64_t pin_end = std::min(pos + 1, geo.n_pinned);
  if (p.local_lo < pin_end)
    runs[n++] = Run{cache.k(layer, g, p.local_lo),
                    cache.v(layer, g, p.local_lo),
                    p.local_lo,
                    pin_end - p.local_lo,
                    0,
                    false};
  // Local keys in the ring: one run, or two when they wrap around its end.
  const int64_t a = std::max(p.local_lo, geo.n_pinned);
  if (a <= pos) {
    const int64_t count = pos - a + 1, s0 = cache.slot(a);
    const int64_t first_run = std::min(count, geo.n_pinned + geo.ring - s0);
    runs[n++] = Run{cache.k(layer, g, s0), cache.v(layer, g, s0), a, first_run, 0, false};
    if (count > first_run)
      runs[n++] = Run{cache.k(layer, g, geo.n_pinned),
                      cache.v(layer, g, geo.n_pinned),
                      a + first_run,
                      count - first_run,
                      0,
                      false};
  }
  return n;
}

}  // namespace

void cache_store(KvCache& cache, int64_t layer, int64_t n_kv_heads, int64_t pos, const float* k,
                 const float* k_unrotated, const float* v) {
  const int64_t hd = cache.head_dim(), slot = cache.slot(pos);
  const bool raw = k_unrotated && pos < cache.geometry().n_raw;
  for (int64_t g = 0; g < n_kv_heads; ++g) {
    std::memcpy(cache.k(layer, g, slot), k + g * hd, sizeof(float) * hd);
    std::memcpy(cache.v(layer, g, slot), v + g * hd, sizeof(float) * hd);
    if (raw) std::memcpy(cache.k_raw(layer, g, pos), k_unrotated + g * hd, sizeof(float) * hd);
  }
}

int64_t attention_scratch_floats(const AttentionShape& s, int64_t cache_slots, int n_threads) {
  // Per thread: scores [group, slots] and a partial output [group, head_dim].
  return static_cast<int64_t>(n_threads) * (s.n_heads / s.n_kv_heads) * (cache_slots + s.head_dim);
}

void attend_policy(ThreadPool& pool, const KvCache& cache, int64_t layer, const AttentionShape& s,
                   const AttentionPolicy& policy, const float* q, const float* q_global,
                   int64_t n_q, int64_t pos0, float* out, float* scratch) {
  const ops::KernelTable& K = ops::kernels();
  const int64_t hd = s.head_dim, q_dim = s.n_heads * hd, group = s.n_heads / s.n_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t cap = cache.capacity();
  if (!q_global) q_global = q;
  const int64_t work = 2 * n_q * s.n_heads * std::min(cap, pos0 + n_q) * hd;
  pool.run_sized(work, [&](int t, int nt) {
    int64_t b, e;
    ThreadPool::split_range(n_q * s.n_kv_heads, 1, t, nt, &b, &e);
    float* scores = scratch + t * group * (cap + hd);  // [group, cap]
    float* partial = scores + group * cap;             // [group, hd]
    for (int64_t item = b; item < e; ++item) {
      const int64_t i = item / s.n_kv_heads, g = item % s.n_kv_heads, pos = pos0 + i;
      const RowPlan plan = policy.plan(pos);
      Run runs[4];
      const int n_runs = runs_of(cache, layer, g, pos, plan, runs);
      float* o = out + i * q_dim + g * group * hd;  // the group's heads, [group, hd]
      int64_t n_cols = 0;
      for (int r = 0; r < n_runs; ++r) {
        runs[r].col = n_cols;
        const float* qg = (runs[r].global ? q_global : q) + i * q_dim + g * group * hd;
        K.gemm_f32(runs[r].k, hd, qg, hd, group, scores + n_cols, cap, 0, runs[r].n);
        n_cols += runs[r].n;
      }
      if (n_cols == 0) {  // no policy leaves a query without keys; be defined anyway
        std::memset(o, 0, sizeof(float) * group * hd);
        continue;
      }
      for (int64_t h = 0; h < group; ++h) {
        float* row = scores + h * cap;
        for (int64_t j = 0; j < n_cols; ++j) row[j] *= scale;
        if (s.alibi_slopes) {
          const float m = s.alibi_slopes[g * group + h];
          for (int r = 0; r < n_runs; ++r) {
            float* x = row + runs[r].col;
            for (int64_t j = 0; j < runs[r].n; ++j) {
              const int64_t key = runs[r].first + j;
              const int64_t d = !runs[r].global   ? pos - key
                                : plan.global_raw ? plan.global_pos
                                                  : plan.global_pos - key;
              x[j] -= m * static_cast<float>(d);
            }
          }
        }
        K.softmax(row, n_cols);
      }
      for (int r = 0; r < n_runs; ++r) {
        K.weighted_sum(scores + runs[r].col, cap, group, runs[r].v, hd, runs[r].n, hd,
                       r == 0 ? o : partial, hd);
        if (r > 0) K.axpy(1.0f, partial, o, group * hd);
      }
    }
  });
}

}  // namespace lc
