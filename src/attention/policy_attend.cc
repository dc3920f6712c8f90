#include <algorithm>
#include <cmath>
#include <cstring>

#include "attention/attention.h"
#include "attention/flash.h"
#include "attention/kv_types.h"
#include "attention/policy.h"
#include "attention/topk_heap.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "ops/ops.h"

namespace lc {

namespace {

// A contiguous run of cached keys that one row attends to (or, for TRAMS, the selected keys
// gathered into scratch, with their positions and distances listed).
struct Run {
  int64_t slot;    // >= 0: the keys of slots [slot, slot + n), read by KvCache::key_scores
  const void* k;   // slot < 0: [n, head_dim] key rows of kt
  int64_t vslot;   // >= 0: the values of slots [vslot, vslot + n), read by KvCache::value_sum
  const float* v;  // vslot < 0: [n, head_dim] f32 value rows
  DType kt;
  int64_t first;  // position of the first key
  int64_t n;
  int64_t col;  // first score column
  bool global;
  const int64_t* dist = nullptr;  // gathered: distance of each key (else from `first`)
};

// The run of n cached slots from s (positions from `first`).
Run slot_run(const KvCache& cache, int64_t s, int64_t first, int64_t n, bool global) {
  return Run{s, nullptr, s, nullptr, cache.k_type(), first, n, 0, global};
}

// Splits the plan of the query at `pos` into runs of adjacent slots; returns how many.
int runs_of(const KvCache& cache, int64_t layer, int64_t g, int64_t pos, const RowPlan& p,
            Run* runs) {
  const CacheGeometry& geo = cache.geometry();
  int n = 0;
  if (p.n_global > 0)
    runs[n++] =
        p.global_raw
            ? Run{-1,  cache.k_raw(layer, g, 0), 0, nullptr, cache.key_row_type(), 0, p.n_global, 0,
                  true}
            : slot_run(cache, 0, 0, p.n_global, true);
  // Local keys in pinned slots.
  const int64_t pin_end = std::min(pos + 1, geo.n_pinned);
  if (p.local_lo < pin_end)
    runs[n++] = slot_run(cache, p.local_lo, p.local_lo, pin_end - p.local_lo, false);
  // Local keys in the ring: one run, or two when they wrap around its end.
  const int64_t a = std::max(p.local_lo, geo.n_pinned);
  if (a <= pos) {
    const int64_t count = pos - a + 1, s0 = cache.slot(a);
    const int64_t first_run = std::min(count, geo.n_pinned + geo.ring - s0);
    runs[n++] = slot_run(cache, s0, a, first_run, false);
    if (count > first_run)
      runs[n++] = slot_run(cache, geo.n_pinned, a + first_run, count - first_run, false);
  }
  return n;
}

// Score columns beyond the cache slots: a query head's top-k middle keys.
int64_t topk_columns(const AttentionPolicy& p) {
  const MiddleTopK& m = p.middle();
  return m.k == 0 ? 0 : m.pool > 0 ? std::min(m.k, m.pool) : m.k;
}

// Per-thread scratch, in floats and in int64s (one layout for sizing and for use).
struct Layout {
  int64_t cols;                        // score row stride
  int64_t scores, partial;             // [group, cols], [group, head_dim]
  int64_t mid_rows, mid_logits;        // [group, mid_rows] logits of a block of middle keys
  int64_t heap_logits;                 // [group, kcols]
  int64_t gather_k, gather_v, angles;  // TRAMS: [extra, head_dim] x 2, cos|sin [head_dim]
  int64_t floats;
  int64_t heap_refs, candidates, dists;  // int64s: [group, kcols], [pool], [extra]
  int64_t indices;
};

Layout layout_of(const AttentionShape& s, const AttentionPolicy& p) {
  const CacheGeometry& geo = p.geometry();
  const int64_t group = s.n_heads / s.n_kv_heads, hd = s.head_dim, kcols = topk_columns(p);
  Layout l{};
  l.cols = geo.slots() + kcols;
  l.scores = 0;
  l.partial = group * l.cols;
  l.mid_rows = kcols == 0 ? 0 : geo.middle_capacity ? geo.middle_capacity : MiddleStore::kChunk;
  l.mid_logits = l.partial + group * hd;
  l.heap_logits = l.mid_logits + group * l.mid_rows;
  const int64_t extra = p.trams().pool > 0 ? p.trams().extra() : 0;
  l.gather_k = l.heap_logits + group * kcols;
  l.gather_v = l.gather_k + extra * hd;
  l.angles = l.gather_v + extra * hd;
  l.floats = std::max(l.angles + hd, flash_thread_floats(s, kcols));
  l.heap_refs = 0;
  l.candidates = group * kcols;
  l.dists = l.candidates + std::max(p.trams().pool, geo.middle_capacity);
  l.indices = std::max(l.dists + extra, flash_thread_indices(kcols, geo.middle_capacity));
  return l;
}

// LM-Infinite top-k for the row whose middle is [first, local_lo) and kv head g: leaves each query
// head's best keys in its heap (scratch + heap_logits + h * kcols, refs at idx + heap_refs +
// h * kcols) and returns how many each head took (the same for all heads).
int64_t select_middle(const KvCache& cache, int64_t layer, int64_t g, const AttentionShape& s,
                      const AttentionPolicy& policy, const RowPlan& plan, const float* qm,
                      float scale, const Layout& lay, float* scratch, int64_t* idx) {
  const ops::KernelTable& K = ops::kernels();
  const MiddleStore& ms = cache.middle();
  const MiddleTopK& mt = policy.middle();
  const int64_t hd = s.head_dim, group = s.n_heads / s.n_kv_heads, end = plan.local_lo;
  if (end <= mt.first) return 0;
  float* logits = scratch + lay.mid_logits;
  const int64_t kcols = topk_columns(policy);
  auto heap = [&](int64_t h, int64_t size, const int64_t* pos_of) {
    return TopK{scratch + lay.heap_logits + h * kcols, idx + lay.heap_refs + h * kcols, size, kcols,
                pos_of};
  };
  auto bias = [&](int64_t h) {  // ALiBi: the middle keys sit at the fixed distance
    return s.alibi_slopes ? s.alibi_slopes[g * group + h] * static_cast<float>(mt.distance) : 0.f;
  };
  int64_t size = 0;  // every head visits the same keys, so every heap has this size
  if (!ms.bounded()) {
    const int64_t count = end - mt.first, C = MiddleStore::kChunk;
    for (int64_t c = 0; c * C < count; ++c) {
      const int64_t n = std::min(C, count - c * C);
      kv_scores(K, ms.k_type(), ms.chunk_k(layer, g, c), hd, qm, group, logits, C, n);
      int64_t next = size;
      for (int64_t h = 0; h < group; ++h) {
        TopK hp = heap(h, size, nullptr);
        const float b = bias(h);
        for (int64_t r = 0; r < n; ++r) hp.push(logits[h * C + r] * scale - b, c * C + r);
        next = hp.size;
      }
      size = next;
    }
    return size;
  }
  // Bounded pool: the candidates are the P best by (score, position) among the held rows
  // whose position is middle for this row (middle_store.h: they are all held).
  const int64_t held = ms.held(layer, g), C = ms.capacity();
  const int64_t* ps = ms.positions(layer, g);
  const float* sc = ms.scores(layer, g);
  int64_t* cand = idx + lay.candidates;
  int64_t nc = 0;
  for (int64_t r = 0; r < held; ++r)
    if (ps[r] < end) cand[nc++] = r;
  if (nc > mt.pool) {
    auto lower = [&](int64_t a, int64_t b) {
      return sc[a] < sc[b] || (sc[a] == sc[b] && ps[a] < ps[b]);
    };
    std::nth_element(cand, cand + (nc - mt.pool), cand + nc, lower);
    cand += nc - mt.pool;
    nc = mt.pool;
  }
  if (nc == 0) return 0;
  kv_scores(K, ms.k_type(), ms.k(layer, g), hd, qm, group, logits, C, held);
  for (int64_t h = 0; h < group; ++h) {
    TopK hp = heap(h, 0, ps);
    const float b = bias(h);
    for (int64_t e = 0; e < nc; ++e) hp.push(logits[h * C + cand[e]] * scale - b, cand[e]);
    size = hp.size;
  }
  return size;
}

// TRAMS: the best extra() keys of the pool [pos - M, local_lo) by slot score, gathered in
// position order into scratch as one run (compacted: keys re-rotated to their compacted
// distance). Returns false when there is nothing to select.
bool select_trams(const KvCache& cache, int64_t layer, int64_t g, const AttentionShape& s,
                  const AttentionPolicy& policy, int64_t pos, const RowPlan& plan,
                  const Layout& lay, float* scratch, int64_t* idx, Run* run) {
  const TramsSelect& ts = policy.trams();
  const int64_t hd = s.head_dim, lo = std::max<int64_t>(0, pos - ts.pool);
  const int64_t n_cand = plan.local_lo - lo, want = std::min(ts.extra(), n_cand);
  if (want <= 0) return false;
  int64_t* cand = idx + lay.candidates;
  for (int64_t e = 0; e < n_cand; ++e) cand[e] = lo + e;
  if (want < n_cand) {
    auto better = [&](int64_t a, int64_t b) {  // by score, ties to the newer token
      const float sa = *cache.score(layer, g, cache.slot(a));
      const float sb = *cache.score(layer, g, cache.slot(b));
      return sa > sb || (sa == sb && a > b);
    };
    std::nth_element(cand, cand + want, cand + n_cand, better);
    std::sort(cand, cand + want);  // selected tokens keep their order
  }
  const ops::KernelTable& K = ops::kernels();
  float* gk = scratch + lay.gather_k;
  float* gv = scratch + lay.gather_v;
  int64_t* dist = idx + lay.dists;
  const int64_t n_recent = pos - plan.local_lo;  // keys before `pos` at true distance
  for (int64_t e = 0; e < want; ++e) {
    const int64_t slot = cache.slot(cand[e]);
    cache.load_k(layer, g, slot, gk + e * hd);
    cache.load_v(layer, g, slot, gv + e * hd);
    // Compacted: the newest selected key right behind the recent ones, and so on.
    dist[e] = ts.compacted ? n_recent + want - e : pos - cand[e];
    const int64_t shift = (pos - cand[e]) - dist[e];
    if (shift > 0 && !s.alibi_slopes) {
      // <R(pos) q, R(pos - d) k> from the key stored rotated at its own position: rotate it by
      // the shift (spec trams.md: compacted distances with RoPE).
      float* cs = scratch + lay.angles;
      s.rope->angles(static_cast<double>(shift), cs, cs + hd / 2);
      K.rope(gk + e * hd, 1, hd, cs, cs + hd / 2, s.rope_style);
    }
  }
  *run = Run{-1, gk, -1, gv, DType::F32, 0, want, 0, false, dist};
  return true;
}

}  // namespace

void cache_store(KvCache& cache, int64_t layer, int64_t n_kv_heads, int64_t pos, const float* k,
                 const float* k_unrotated, const float* v, const float* scores) {
  const int64_t hd = cache.head_dim(), slot = cache.slot(pos);
  const CacheGeometry& geo = cache.geometry();
  const bool raw = k_unrotated && pos < geo.n_raw;
  MiddleStore& ms = cache.middle();
  // A lagged middle store takes the token leaving the window now, before its slot can be reused
  // (with a ring of exactly `lag` slots, by this very token).
  if (geo.middle_lag > 0 && ms.has_layer(layer) && pos - geo.middle_lag >= ms.first())
    cache.admit_middle(layer, pos - geo.middle_lag);
  for (int64_t g = 0; g < n_kv_heads; ++g) {
    cache.store_k(layer, g, slot, k + g * hd);
    cache.store_v(layer, g, slot, v + g * hd);
    if (raw) cache.store_k_raw(layer, g, pos, k_unrotated + g * hd);
    if (geo.slot_scores) {
      check(scores != nullptr, "cache_store: this cache keeps TRAMS scores; none given");
      *cache.score(layer, g, slot) = scores[g];
    }
  }
  if (geo.middle_lag == 0 && ms.has_layer(layer) && pos >= ms.first()) {
    check(k_unrotated != nullptr, "cache_store: the middle store needs the unrotated key");
    ms.store(layer, pos, k_unrotated, v, scores);
  }
}

namespace {
// The row kernels' share of one thread: scores [group, slots] and a partial output [group, hd].
int64_t row_thread_floats(const AttentionShape& s, int64_t cache_slots) {
  return (s.n_heads / s.n_kv_heads) * (cache_slots + s.head_dim);
}
}  // namespace

int64_t attention_thread_floats(const AttentionShape& s, int64_t cache_slots) {
  return std::max(row_thread_floats(s, cache_slots), flash_thread_floats(s));
}

int64_t attention_row_scratch_floats(const AttentionShape& s, int64_t cache_slots, int n_threads) {
  return static_cast<int64_t>(n_threads) * row_thread_floats(s, cache_slots);
}

int64_t attention_scratch_floats(const AttentionShape& s, int64_t cache_slots, int n_threads) {
  return static_cast<int64_t>(n_threads) * attention_thread_floats(s, cache_slots);
}

int64_t attention_scratch_floats(const AttentionShape& s, const AttentionPolicy& policy,
                                 int n_threads) {
  return static_cast<int64_t>(n_threads) * layout_of(s, policy).floats;
}

int64_t attention_scratch_indices(const AttentionShape& s, const AttentionPolicy& policy,
                                  int n_threads) {
  return static_cast<int64_t>(n_threads) * layout_of(s, policy).indices;
}

void attend_policy(ThreadPool& pool, const KvCache& cache, int64_t layer, const AttentionShape& s,
                   const AttentionPolicy& policy, const float* q, const float* q_global,
                   int64_t n_q, int64_t pos0, float* out, float* scratch, const float* q_middle,
                   int64_t* scratch_idx) {
  const ops::KernelTable& K = ops::kernels();
  const int64_t hd = s.head_dim, q_dim = s.n_heads * hd, group = s.n_heads / s.n_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const bool topk = policy.middle().active(layer) && cache.middle().has_layer(layer);
  const bool trams = policy.trams().pool > 0;
  // Plain policies keep the scratch layout of attention_scratch_floats(s, cache slots, threads).
  Layout lay = layout_of(s, policy);
  if (!topk && !trams) {
    lay.cols = cache.capacity();
    lay.partial = group * lay.cols;
    lay.floats = row_thread_floats(s, lay.cols);  // the row kernels' stride
    if (flash_serves(s, n_q, false))
      return attend_flash(pool, cache, layer, s, &policy, q, q_global, n_q, pos0, out, scratch,
                          attention_thread_floats(s, lay.cols));
  } else {
    check(scratch_idx != nullptr, "attend_policy: ", policy.label(), " needs index scratch");
    check(lay.cols >= cache.capacity() + topk_columns(policy),
          "attend_policy: the cache is larger than the policy's geometry");
    if (flash_serves(s, n_q, trams && policy.trams().compacted))  // top-k middle tokens, TRAMS
      return attend_flash(pool, cache, layer, s, &policy, q, q_global, n_q, pos0, out, scratch,
                          lay.floats, q_middle ? q_middle : q, scratch_idx, lay.indices);
  }
  const int64_t cols = lay.cols;
  if (!q_global) q_global = q;
  if (!q_middle) q_middle = q;
  const int64_t work = 2 * n_q * s.n_heads * std::min(cache.capacity(), pos0 + n_q) * hd;
  pool.run_sized(work, [&](int t, int nt) {
    int64_t b, e;
    ThreadPool::split_range(n_q * s.n_kv_heads, 1, t, nt, &b, &e);
    float* sc = scratch + t * lay.floats;
    int64_t* ix = scratch_idx ? scratch_idx + t * lay.indices : nullptr;
    float* scores = sc + lay.scores;    // [group, cols]
    float* partial = sc + lay.partial;  // [group, hd]
    for (int64_t item = b; item < e; ++item) {
      const int64_t i = item / s.n_kv_heads, g = item % s.n_kv_heads, pos = pos0 + i;
      const RowPlan plan = policy.plan(pos);
      Run runs[5];
      int n_runs = runs_of(cache, layer, g, pos, plan, runs);
      if (trams && select_trams(cache, layer, g, s, policy, pos, plan, lay, sc, ix, &runs[n_runs]))
        ++n_runs;
      float* o = out + i * q_dim + g * group * hd;  // the group's heads, [group, hd]
      int64_t n_cols = 0;
      for (int r = 0; r < n_runs; ++r) {
        runs[r].col = n_cols;
        const float* qg = (runs[r].global ? q_global : q) + i * q_dim + g * group * hd;
        if (runs[r].slot >= 0)
          cache.key_scores(K, layer, g, runs[r].slot, runs[r].n, qg, group, scores + n_cols, cols);
        else
          kv_scores(K, runs[r].kt, runs[r].k, hd, qg, group, scores + n_cols, cols, runs[r].n);
        n_cols += runs[r].n;
      }
      int64_t n_mid = 0;
      if (topk)
        n_mid = select_middle(cache, layer, g, s, policy, plan,
                              q_middle + i * q_dim + g * group * hd, scale, lay, sc, ix);
      const int64_t kcols = topk_columns(policy);
      if (n_cols + n_mid == 0) {  // no policy leaves a query without keys; be defined anyway
        std::memset(o, 0, sizeof(float) * group * hd);
        continue;
      }
      for (int64_t h = 0; h < group; ++h) {
        float* row = scores + h * cols;
        for (int64_t j = 0; j < n_cols; ++j) row[j] *= scale;
        if (s.alibi_slopes) {
          const float m = s.alibi_slopes[g * group + h];
          for (int r = 0; r < n_runs; ++r) {
            float* x = row + runs[r].col;
            for (int64_t j = 0; j < runs[r].n; ++j) {
              const int64_t key = runs[r].first + j;
              const int64_t d = runs[r].dist      ? runs[r].dist[j]
                                : !runs[r].global ? pos - key
                                : plan.global_raw ? plan.global_pos
                                                  : plan.global_pos - key;
              x[j] -= m * static_cast<float>(d);
            }
          }
        }
        // The middle keys' logits (already scaled and biased) join the same softmax.
        const float* mid = sc + lay.heap_logits + h * kcols;
        for (int64_t j = 0; j < n_mid; ++j) row[n_cols + j] = mid[j];
        K.softmax(row, n_cols + n_mid);
      }
      for (int r = 0; r < n_runs; ++r) {
        const float* p = scores + runs[r].col;
        if (runs[r].vslot >= 0) {
          cache.value_sum(K, layer, g, runs[r].vslot, runs[r].n, p, cols, group, o, hd, r > 0,
                          partial);
          continue;
        }
        kv_values(K, DType::F32, p, cols, group, runs[r].v, hd, runs[r].n, r == 0 ? o : partial,
                  hd);
        if (r > 0) K.axpy(1.0f, partial, o, group * hd);
      }
      if (n_mid > 0) {
        if (n_runs == 0) std::memset(o, 0, sizeof(float) * group * hd);
        const MiddleStore& ms = cache.middle();
        for (int64_t h = 0; h < group; ++h)
          for (int64_t j = 0; j < n_mid; ++j) {
            const int64_t r = ix[lay.heap_refs + h * kcols + j];
            const void* vrow = ms.v_row(layer, g, r);
            const float* v = static_cast<const float*>(vrow);
            if (ms.v_type() != DType::F32) {  // one row: converted into the free partial buffer
              kv_decode(ms.v_type(), vrow, partial, hd);
              v = partial;
            }
            K.axpy(scores[h * cols + n_cols + j], v, o + h * hd, hd);
          }
      }
    }
  });
}

}  // namespace lc
