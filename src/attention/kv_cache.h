// Preallocated key/value cache, laid out [layer][kv_head][slot][head_dim] in f32 so that the
// keys (or values) of one head are a contiguous [slots, head_dim] matrix: attention scores are
// then one matrix product per head group. Keys are stored already rotated (RoPE at their
// absolute positions, angles in double precision). Allocated once when a session starts; the
// decode loop only writes rows.
//
// Slots (CacheGeometry):
//   [0, n_pinned)                pinned: position p lives in slot p forever (attention sinks /
//                                LM-Infinite's global tokens; for full attention every slot)
//   [n_pinned, n_pinned + ring)  a ring: position p >= n_pinned lives in slot
//                                n_pinned + (p - n_pinned) % ring, overwriting p - ring
// plus, for the first n_raw positions, a copy of the key *before* RoPE (LM-Infinite scores global
// keys as <R(D) q, k> with k unrotated; spec "The distance ceiling for RoPE").
#pragma once
#include <cstdint>
#include <limits>

#include "core/aligned.h"

namespace lc {

struct CacheGeometry {
  int64_t n_pinned = 0;
  int64_t ring = 0;   // 0 = no ring: positions >= n_pinned do not fit
  int64_t n_raw = 0;  // <= n_pinned

  int64_t slots() const { return n_pinned + ring; }
  // Largest number of positions the cache can take (a ring streams indefinitely).
  int64_t max_positions() const {
    return ring > 0 ? std::numeric_limits<int64_t>::max() : n_pinned;
  }
};

class KvCache {
 public:
  KvCache() = default;
  // A cache of `capacity` pinned slots (slot == position), no ring, no unrotated copies.
  KvCache(int64_t n_layers, int64_t capacity, int64_t n_kv_heads, int64_t head_dim)
      : KvCache(n_layers, n_kv_heads, head_dim, CacheGeometry{capacity, 0, 0}) {}
  KvCache(int64_t n_layers, int64_t n_kv_heads, int64_t head_dim, const CacheGeometry& g)
      : geo_(g), n_kv_heads_(n_kv_heads), capacity_(g.slots()), head_dim_(head_dim),
        k_(static_cast<size_t>(n_layers * n_kv_heads * g.slots() * head_dim)),
        v_(static_cast<size_t>(n_layers * n_kv_heads * g.slots() * head_dim)),
        k_raw_(static_cast<size_t>(n_layers * n_kv_heads * g.n_raw * head_dim)) {}

  // Number of slots (pinned + ring).
  int64_t capacity() const { return capacity_; }
  int64_t head_dim() const { return head_dim_; }
  const CacheGeometry& geometry() const { return geo_; }
  size_t bytes() const { return k_.bytes() + v_.bytes() + k_raw_.bytes(); }

  // The slot holding position `pos` (pos must fit: pos < max_positions()).
  int64_t slot(int64_t pos) const {
    return pos < geo_.n_pinned ? pos : geo_.n_pinned + (pos - geo_.n_pinned) % geo_.ring;
  }

  // The key / value row of `slot` for one kv head; rows of consecutive slots are adjacent.
  float* k(int64_t layer, int64_t head, int64_t slot) { return k_.data() + offset(layer, head, slot); }
  float* v(int64_t layer, int64_t head, int64_t slot) { return v_.data() + offset(layer, head, slot); }
  const float* k(int64_t layer, int64_t head, int64_t slot) const {
    return k_.data() + offset(layer, head, slot);
  }
  const float* v(int64_t layer, int64_t head, int64_t slot) const {
    return v_.data() + offset(layer, head, slot);
  }
  // The unrotated key of position pos < n_raw; rows of consecutive positions are adjacent.
  float* k_raw(int64_t layer, int64_t head, int64_t pos) {
    return k_raw_.data() + ((layer * n_kv_heads_ + head) * geo_.n_raw + pos) * head_dim_;
  }
  const float* k_raw(int64_t layer, int64_t head, int64_t pos) const {
    return k_raw_.data() + ((layer * n_kv_heads_ + head) * geo_.n_raw + pos) * head_dim_;
  }

  // Benchmarks: writes uniform values in [-1, 1) into every row that positions [0, n_positions)
  // occupy (touching that memory), as a stand-in for the keys and values of a long context
  // without computing them. n_positions must fit.
  void fill_random(int64_t n_positions, uint64_t seed);

 private:
  int64_t offset(int64_t layer, int64_t head, int64_t slot) const {
    return ((layer * n_kv_heads_ + head) * capacity_ + slot) * head_dim_;
  }
  CacheGeometry geo_;
  int64_t n_kv_heads_ = 0, capacity_ = 0, head_dim_ = 0;
  AlignedBuffer<float> k_, v_, k_raw_;
};

}  // namespace lc
