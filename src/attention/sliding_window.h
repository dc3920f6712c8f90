// BASED's sliding-window softmax attention (../shared/specs/based.md, "Sliding-window attention
// layers"): the mixer core after the fused Wqkv projection. RoPE rotate-half on the full head dim
// (base 10000 unless set, absolute positions, angles in double), scale 1/sqrt(head_dim), and query
// i attends keys [i - window_size/2, i] -- FlashAttention-2's window (window_size // 2, 0).
//
// That is exactly the `window` attention policy (window.cc) with W = window_size/2 + 1 keys, so
// this class only composes the existing pieces: RoPE, cache_store into a ring KvCache, and
// attend_policy. Its ring has W + block_tokens - 1 slots per layer (a block of queries appends its
// keys before attending, and its first query still needs the W - 1 keys before it); with
// block_tokens = 1 (decode only) that is the spec's ring of window_size/2 + 1 entries.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "attention/kv_cache.h"
#include "core/aligned.h"

namespace lc {

class AttentionPolicy;
class ThreadPool;

struct SlidingWindowShape {
  int64_t n_heads = 0;
  int64_t head_dim = 0;     // even (RoPE pairs)
  int64_t window_size = 0;  // config alt_mixer_2.window_size (256 in the released checkpoints)
  double rope_theta = 10000.0;
  bool rope = true;  // false: no position encoding (keys and queries are used as projected)
  // Element types of the rings' keys and values (attention/kv_types.h).
  DType k_type = DType::F32;
  DType v_type = DType::F32;
};

class SlidingWindowAttention {
 public:
  // Caches for n_layers sliding-window layers (indexed 0..n_layers-1 by the caller); forward()
  // works through its tokens in blocks of at most block_tokens; n_threads: the largest pool used.
  SlidingWindowAttention(const SlidingWindowShape& s, int64_t n_layers, int64_t block_tokens,
                         int n_threads);
  ~SlidingWindowAttention();
  SlidingWindowAttention(SlidingWindowAttention&&) noexcept;
  SlidingWindowAttention& operator=(SlidingWindowAttention&&) noexcept;

  const SlidingWindowShape& shape() const { return shape_; }
  // W = window_size/2 + 1: the keys a query attends once the sequence is that long.
  int64_t window() const { return shape_.window_size / 2 + 1; }
  // Ring slots per layer: window() + block_tokens - 1.
  int64_t ring_slots() const { return cache_.capacity(); }
  // Tokens seen by `layer` since construction / reset(): the position of its next token.
  int64_t position(int64_t layer) const { return pos_[layer]; }
  size_t bytes() const;

  // Forgets every layer's tokens (the next token is position 0 again).
  void reset();
  // Benchmarks: every layer pretends n tokens were seen -- random keys/values in the ring rows
  // those positions occupy (KvCache::fill_random), next position n.
  void fill_random(int64_t n, uint64_t seed);

  // The next n >= 0 tokens of `layer`. q, k, v: unrotated rows at q + i*ld (i < n), each
  // [n_heads*head_dim]; for the fused Wqkv output [n, 3d]: q = qkv, k = qkv + d, v = qkv + 2d,
  // ld = 3d. Inputs are not modified. out: [n, n_heads*head_dim], not overlapping the inputs.
  // No allocation.
  void forward(ThreadPool& pool, int64_t layer, const float* q, const float* k, const float* v,
               int64_t ld, int64_t n, float* out);

 private:
  SlidingWindowShape shape_;
  int64_t block_ = 0;
  int n_threads_ = 0;
  std::unique_ptr<AttentionPolicy> policy_;
  KvCache cache_;
  std::vector<int64_t> pos_;      // [n_layers]
  AlignedBuffer<float> q_;        // [block][d] rotated queries
  AlignedBuffer<float> k_;        // [d] one rotated key row
  AlignedBuffer<float> cos_;      // [head_dim/2]
  AlignedBuffer<float> sin_;      // [head_dim/2]
  AlignedBuffer<float> scratch_;  // attention_scratch_floats
};

}  // namespace lc
