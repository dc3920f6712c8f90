// Causal softmax attention of a block of queries against the KV cache.
#pragma once
#include <cstdint>

#include "attention/kv_cache.h"
#include "ops/ops.h"
#include "ops/rope.h"

namespace lc {

class ThreadPool;

class AttentionPolicy;

struct AttentionShape {
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  // ALiBi (Press et al.): per-head slopes m_h [n_heads], adding -m_h * distance to every logit
  // (the distance of a global key is the policy's, e.g. the ceiling D). nullptr = RoPE models,
  // whose queries and keys arrive already rotated.
  const float* alibi_slopes = nullptr;
  // RoPE models: the model's frequencies (after position scaling), for every rotation; only
  // TRAMS' compacted distances rotate keys inside the kernel. nullptr for ALiBi.
  const ops::RopeFreqs* rope = nullptr;
  ops::RopeStyle rope_style = ops::RopeStyle::AdjacentPairs;
};

// Full causal attention. q: [n_q, n_heads*head_dim], rotated, for positions pos0..pos0+n_q-1;
// the cache holds keys/values for slots [0, pos0+n_q) (slot == position). out: [n_q,
// n_heads*head_dim]. scratch: attention_scratch_floats(s, cache.capacity(), n_threads) floats.
void attend_full(ThreadPool& pool, const KvCache& cache, int64_t layer, const AttentionShape& s,
                 const float* q, int64_t n_q, int64_t pos0, float* out, float* scratch);

// The same, computed the slow obvious way (double accumulation), for tests.
void attend_full_reference(const KvCache& cache, int64_t layer, const AttentionShape& s,
                           const float* q, int64_t n_q, int64_t pos0, float* out);

// Writes one token's keys and values (all kv heads, [n_kv_heads * head_dim] each) at position
// `pos` into its slot; k_unrotated is also kept when pos < n_raw or when the layer keeps middle
// tokens (MiddleStore; it may equal k for ALiBi, and may be nullptr when neither applies).
// scores [n_kv_heads]: the token's TRAMS scores, needed when the cache keeps slot scores or a
// bounded middle pool for this layer (else may be nullptr).
void cache_store(KvCache& cache, int64_t layer, int64_t n_kv_heads, int64_t pos, const float* k,
                 const float* k_unrotated, const float* v, const float* scores = nullptr);

// Floats of scratch that attend_policy needs (plain policies without top-k or TRAMS):
// n_threads times attention_thread_floats, one thread's share (the row kernels' scores and the
// tiled kernel's blocks, attention/flash.h).
int64_t attention_scratch_floats(const AttentionShape& s, int64_t cache_slots, int n_threads);
int64_t attention_thread_floats(const AttentionShape& s, int64_t cache_slots);
// Enough for blocks of fewer than kFlashMinRows rows only (the row kernels), for a caller that
// never attends more rows at once.
int64_t attention_row_scratch_floats(const AttentionShape& s, int64_t cache_slots, int n_threads);
// Floats and int64s of scratch that attend_policy needs for `policy` over a cache of its
// geometry (covers top-k middle tokens and TRAMS selection).
int64_t attention_scratch_floats(const AttentionShape& s, const AttentionPolicy& policy,
                                 int n_threads);
int64_t attention_scratch_indices(const AttentionShape& s, const AttentionPolicy& policy,
                                  int n_threads);

// Attention of a block of queries at positions pos0..pos0+n_q-1 under `policy`, whose keys and
// values are already in the cache (cache_store). q: [n_q, n_heads*head_dim] rotated at each
// row's position; q_global: the same queries rotated to plan(i).global_pos (nullptr = q, e.g.
// ALiBi or when no row needs it). out: [n_q, n_heads*head_dim]. The keys of one row form at most
// four contiguous runs (global, pinned local, two ring runs); each is one gemm for the head
// group, then one softmax over all of them and one weighted sum per run. TRAMS adds one gathered
// run of the selected keys; LM-Infinite's top-k adds, per query head, its k best middle keys,
// scored with q_middle: the queries rotated to policy.middle().distance (nullptr = q, ALiBi).
// scratch / scratch_idx: attention_scratch_floats / _indices(s, policy, threads) elements
// (scratch_idx may be nullptr when the policy uses neither top-k nor TRAMS).
void attend_policy(ThreadPool& pool, const KvCache& cache, int64_t layer, const AttentionShape& s,
                   const AttentionPolicy& policy, const float* q, const float* q_global,
                   int64_t n_q, int64_t pos0, float* out, float* scratch,
                   const float* q_middle = nullptr, int64_t* scratch_idx = nullptr);

}  // namespace lc
