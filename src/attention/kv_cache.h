// Preallocated key/value cache: for each layer, K and V as [capacity, kv_dim] f32 rows.
// Keys are stored already rotated (RoPE at their absolute positions). Allocated once when a
// session starts; the decode loop only writes rows.
#pragma once
#include <cstdint>

#include "core/aligned.h"

namespace lc {

class KvCache {
 public:
  KvCache() = default;
  KvCache(int64_t n_layers, int64_t capacity, int64_t kv_dim)
      : n_layers_(n_layers), capacity_(capacity), kv_dim_(kv_dim),
        k_(static_cast<size_t>(n_layers * capacity * kv_dim)),
        v_(static_cast<size_t>(n_layers * capacity * kv_dim)) {}

  int64_t capacity() const { return capacity_; }
  int64_t kv_dim() const { return kv_dim_; }
  size_t bytes() const { return k_.bytes() + v_.bytes(); }

  float* k(int64_t layer, int64_t slot) { return k_.data() + (layer * capacity_ + slot) * kv_dim_; }
  float* v(int64_t layer, int64_t slot) { return v_.data() + (layer * capacity_ + slot) * kv_dim_; }
  const float* k(int64_t layer, int64_t slot) const {
    return k_.data() + (layer * capacity_ + slot) * kv_dim_;
  }
  const float* v(int64_t layer, int64_t slot) const {
    return v_.data() + (layer * capacity_ + slot) * kv_dim_;
  }

 private:
  int64_t n_layers_ = 0, capacity_ = 0, kv_dim_ = 0;
  AlignedBuffer<float> k_, v_;
};

}  // namespace lc
