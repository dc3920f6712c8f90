// Causal softmax attention of a block of queries against the KV cache.
#pragma once
#include <cstdint>

#include "attention/kv_cache.h"

namespace lc {

class ThreadPool;

struct AttentionShape {
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
};

// Full causal attention. q: [n_q, n_heads*head_dim], rotated, for positions pos0..pos0+n_q-1;
// the cache holds keys/values for slots [0, pos0+n_q) (slot == position). out: [n_q,
// n_heads*head_dim]. scratch: n_threads * (n_heads / n_kv_heads) * cache.capacity() floats.
void attend_full(ThreadPool& pool, const KvCache& cache, int64_t layer, const AttentionShape& s,
                 const float* q, int64_t n_q, int64_t pos0, float* out, float* scratch);

// The same, computed the slow obvious way (double accumulation), for tests.
void attend_full_reference(const KvCache& cache, int64_t layer, const AttentionShape& s,
                           const float* q, int64_t n_q, int64_t pos0, float* out);

}  // namespace lc
