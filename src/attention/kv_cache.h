// Preallocated key/value cache, laid out [layer][kv_head][slot][head_dim] in f32 so that the
// keys (or values) of one head are a contiguous [slots, head_dim] matrix: attention scores are
// then one matrix product per head group. Keys are stored already rotated (RoPE at their
// absolute positions). Allocated once when a session starts; the decode loop only writes rows.
#pragma once
#include <cstdint>

#include "core/aligned.h"

namespace lc {

class KvCache {
 public:
  KvCache() = default;
  KvCache(int64_t n_layers, int64_t capacity, int64_t n_kv_heads, int64_t head_dim)
      : n_kv_heads_(n_kv_heads), capacity_(capacity), head_dim_(head_dim),
        k_(static_cast<size_t>(n_layers * n_kv_heads * capacity * head_dim)),
        v_(static_cast<size_t>(n_layers * n_kv_heads * capacity * head_dim)) {}

  int64_t capacity() const { return capacity_; }
  int64_t head_dim() const { return head_dim_; }
  size_t bytes() const { return k_.bytes() + v_.bytes(); }

  // The key / value row of `slot` for one kv head; rows of consecutive slots are adjacent.
  float* k(int64_t layer, int64_t head, int64_t slot) { return k_.data() + offset(layer, head, slot); }
  float* v(int64_t layer, int64_t head, int64_t slot) { return v_.data() + offset(layer, head, slot); }
  const float* k(int64_t layer, int64_t head, int64_t slot) const {
    return k_.data() + offset(layer, head, slot);
  }
  const float* v(int64_t layer, int64_t head, int64_t slot) const {
    return v_.data() + offset(layer, head, slot);
  }

 private:
  int64_t offset(int64_t layer, int64_t head, int64_t slot) const {
    return ((layer * n_kv_heads_ + head) * capacity_ + slot) * head_dim_;
  }
  int64_t n_kv_heads_ = 0, capacity_ = 0, head_dim_ = 0;
  AlignedBuffer<float> k_, v_;
};

}  // namespace lc
