// The attention sub-layer of one forward under any policy (docs/design.md, "Attention
// policies"). The model hands it each layer's queries, keys and values as projected (unrotated)
// and gets the attention output back; everything a policy needs happens here: RoPE at each row's
// position, the extra query rotations some policies score with (global keys at the ceiling
// distance or at in-cache positions; LM-Infinite's top-k middle distance), TRAMS token scores,
// the cache stores (with the unrotated keys a policy keeps) and the attention kernel. The model
// never asks which policy runs. All scratch is allocated once; begin() and layer() allocate
// nothing.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "attention/attention.h"
#include "attention/kv_cache.h"
#include "attention/policy.h"
#include "attention/trams_score.h"
#include "core/aligned.h"

namespace lc {

class ThreadPool;

// One sequence's rows in a forward over several sequences (batched decode): rows [row0, row0+n)
// of the token block continue the sequence held in `cache`, at positions pos0..pos0+n-1. The
// segments of one forward are contiguous and in order (row0 of each = the sum of the n before).
// `policy`: the sequence's own policy object (nullptr = the forward's); policies of one forward
// must agree on everything but the cache they plan over (equal labels).
struct SeqRows {
  KvCache* cache = nullptr;
  int64_t row0 = 0;
  int64_t n = 0;
  int64_t pos0 = 0;
  const AttentionPolicy* policy = nullptr;
};

// What TRAMS scores need from W_Q of every layer (trams_score.h), computed on first use -- once
// per model, O(n_heads * head_dim^2 * d_model) per layer -- and shared by every sequence.
class TramsWeights {
 public:
  TramsWeights() = default;
  TramsWeights(std::vector<ops::WeightView> wq, int64_t n_heads, int64_t head_dim);
  const TramsLayerWeights& layer(int64_t l) const;

 private:
  std::vector<ops::WeightView> wq_;
  int64_t n_heads_ = 0, head_dim_ = 0;
  std::shared_ptr<std::once_flag> once_ = std::make_shared<std::once_flag>();
  std::shared_ptr<std::vector<TramsLayerWeights>> layers_ =
      std::make_shared<std::vector<TramsLayerWeights>>();
};

class BlockAttention {
 public:
  BlockAttention() = default;
  // Scratch for up to max_rows rows of a model with this head layout, sized for `policy` over a
  // cache of its geometry (top-k middle tokens, TRAMS selection) and at least cache_slots.
  BlockAttention(int64_t n_heads, int64_t n_kv_heads, int64_t head_dim, int64_t max_rows,
                 int64_t cache_slots, const AttentionPolicy* policy, int n_threads);

  // Whether the scratch serves `policy` on a pool of n_threads.
  bool fits(const AttentionPolicy& policy, int n_threads) const;
  size_t bytes() const;

  // Once per forward: the RoPE angles of every row at its position and, where the policy scores
  // global keys from another position, at that one. `shape` carries the ALiBi slopes or the RoPE
  // settings; seqs must stay valid until the forward's last layer().
  void begin(const AttentionShape& shape, const SeqRows* seqs, int64_t n_seqs);
  // One layer: q [rows, q_dim] and k [rows, kv_dim] as projected (rotated here, in place), v
  // [rows, kv_dim]; stores every row's key and value in its sequence's cache, then writes the
  // attention output [rows, q_dim].
  void layer(ThreadPool& pool, int64_t layer, float* q, float* k, const float* v, float* out,
             const TramsWeights& trams);

 private:
  void store_and_rotate(const SeqRows& sq, int64_t layer, float* q, float* k, const float* v,
                        const TramsWeights& trams);
  // One sequence's attention on `pool` with the given scratch (one thread's share or all).
  void attend(ThreadPool& pool, const SeqRows& sq, int64_t layer, const float* q, float* out,
              float* scratch, int64_t* scratch_idx) const;

  int64_t n_heads_ = 0, n_kv_heads_ = 0, head_dim_ = 0, max_rows_ = 0;
  AttentionShape shape_;
  const SeqRows* seqs_ = nullptr;
  int64_t n_seqs_ = 0;
  AlignedBuffer<float> q_global_;             // [rows, q_dim] queries rotated for global keys
  AlignedBuffer<float> q_middle_;             // [rows, q_dim] queries rotated to the top-k distance
  AlignedBuffer<float> k_raw_;                // [rows, kv_dim] keys before RoPE (pinned raw slots)
  AlignedBuffer<float> rope_cos_, rope_sin_;  // [rows, head_dim/2]
  AlignedBuffer<float> rope_cos_g_, rope_sin_g_;  // [rows, head_dim/2] at RowPlan::global_pos
  AlignedBuffer<float> rope_cos_m_, rope_sin_m_;  // [head_dim/2] at the middle distance
  AlignedBuffer<float> tok_scores_;               // [rows, n_kv_heads] TRAMS scores of the block
  // [n_threads, n_heads/n_kv_heads, cache slots + head_dim] (attention_scratch_floats)
  AlignedBuffer<float> scores_;
  // Index scratch of attend_policy (top-k heaps, TRAMS candidates); empty for plain policies.
  AlignedBuffer<int64_t> index_;
  int scratch_threads_ = 1;                         // the pool size the scratch was made for
  int64_t thread_floats_ = 0, thread_indices_ = 0;  // one thread's share of scores_ / index_
};

}  // namespace lc
