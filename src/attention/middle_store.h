// The middle tokens of LM-Infinite's top-k retrieval (spec lm-infinite.md, "Optional: top-k
// middle tokens"; trams.md, "Bounded middle pool"): for layers >= from_layer, the unrotated key
// and the value of every position >= first (the G global tokens are pinned in the KvCache).
// Layers below from_layer keep nothing here, so they stay O(G + L). Rows are stored in the
// cache's element types (kv_types.h), converted as they are stored.
//
// Two modes:
//   unbounded (capacity 0): position p is row p - first, in chunks of kChunk rows laid out
//     [layer][kv_head][kChunk][head_dim] so that the keys of one head in a chunk are one
//     contiguous matrix (one gemm). A chunk is allocated when the first position in it arrives
//     (amortised: one allocation per kChunk tokens, none in between) or up front by reserve().
//     Memory O(n) -- the paper's behaviour.
//   bounded (capacity C): per (layer, kv head) at most C rows, preallocated, with the position and
//     TRAMS score of each. A new token is kept if fewer than C are held or it beats the worst held
//     one by (score, position), which it replaces (a min-heap of the rows: O(log C) per token).
//     With static scores the held set after storing positions first..t is exactly the C best of
//     them, so a query that needs the best P of a shorter prefix first..t' (t - t' <= C - P) finds
//     all of them here (policy_attend.cc).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/aligned.h"
#include "core/dtype.h"

namespace lc {

class MiddleStore {
 public:
  static constexpr int64_t kChunk = 256;

  MiddleStore() = default;
  MiddleStore(int64_t n_layers, int64_t from_layer, int64_t n_kv_heads, int64_t head_dim,
              int64_t first, int64_t capacity, DType k_type = DType::F32,
              DType v_type = DType::F32);

  bool enabled() const { return n_layers_ > from_layer_; }
  bool bounded() const { return capacity_ > 0; }
  bool has_layer(int64_t layer) const { return enabled() && layer >= from_layer_; }
  int64_t first() const { return first_; }
  int64_t capacity() const { return capacity_; }
  DType k_type() const { return k_type_; }
  DType v_type() const { return v_type_; }

  // Unbounded: allocates the chunks for positions < n_positions now.
  void reserve(int64_t n_positions);
  // Stores one token of `layer` at `pos` >= first(): k_raw and v [n_kv_heads * head_dim], scores
  // [n_kv_heads] (bounded only; may be nullptr otherwise). In bounded mode a position not after
  // the last one stored for this layer (a session that was reset) first empties the layer.
  void store(int64_t layer, int64_t pos, const float* k_raw, const float* v, const float* scores);

  // Unbounded: chunk c holds positions first + c * kChunk + r, r < kChunk; [kChunk, head_dim]
  // key rows of k_type (values: v_row).
  int64_t n_chunks() const { return static_cast<int64_t>(k_chunks_.size()); }
  const void* chunk_k(int64_t layer, int64_t head, int64_t c) const {
    return k_chunks_[c].data() + chunk_row(layer, head) * k_row_;
  }

  // Bounded: the rows held for (layer, head), [held, head_dim], with positions and scores.
  int64_t held(int64_t layer, int64_t head) const { return held_[index(layer, head)]; }
  const void* k(int64_t layer, int64_t head) const {
    return k_.data() + row0(layer, head) * k_row_;
  }
  const void* v(int64_t layer, int64_t head) const {
    return v_.data() + row0(layer, head) * v_row_;
  }
  // The value row of (layer, head) that top-k refers to by `ref`: the row of the pool (bounded),
  // or position - first (unbounded), in v_type.
  const void* v_row(int64_t layer, int64_t head, int64_t ref) const {
    return bounded()
               ? v_.data() + (row0(layer, head) + ref) * v_row_
               : v_chunks_[ref / kChunk].data() + (chunk_row(layer, head) + ref % kChunk) * v_row_;
  }
  const int64_t* positions(int64_t layer, int64_t head) const {
    return pos_.data() + index(layer, head) * capacity_;
  }
  const float* scores(int64_t layer, int64_t head) const {
    return score_.data() + index(layer, head) * capacity_;
  }

  size_t bytes() const;

 private:
  int64_t index(int64_t layer, int64_t head) const {
    return (layer - from_layer_) * n_kv_heads_ + head;
  }
  // First row of (layer, head) in a chunk / in the bounded pool.
  int64_t chunk_row(int64_t layer, int64_t head) const { return index(layer, head) * kChunk; }
  int64_t row0(int64_t layer, int64_t head) const { return index(layer, head) * capacity_; }
  void add_chunk();

  int64_t n_layers_ = 0, from_layer_ = 0, n_kv_heads_ = 0, head_dim_ = 0, first_ = 0;
  int64_t capacity_ = 0;
  DType k_type_ = DType::F32, v_type_ = DType::F32;
  int64_t k_row_ = 0, v_row_ = 0;  // bytes per row
  // Unbounded.
  std::vector<AlignedBuffer<uint8_t>> k_chunks_, v_chunks_;
  // Bounded: [layers - from_layer][kv_head][capacity](...).
  AlignedBuffer<uint8_t> k_, v_;
  AlignedBuffer<float> score_;
  AlignedBuffer<int64_t> pos_;
  AlignedBuffer<int64_t> heap_;  // per (layer, head): a min-heap of rows by (score, position)
  std::vector<int64_t> held_, last_pos_;  // per (layer, head); last stored position per layer
};

}  // namespace lc
