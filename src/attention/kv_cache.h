// Preallocated key/value cache, laid out [layer][kv_head][slot][head_dim] so that the keys (or
// values) of one head are a contiguous [slots, head_dim] matrix: attention scores are then one
// matrix product per head group. Keys and values are stored in their own element types
// (CacheGeometry::k_type / v_type: f32, bf16, f16, q8_0 or q4; attention/kv_types.h), converted as
// they are stored and read in place by the kernels. q4 keys (KIVI, attention/kivi.h) are kept in
// groups of 32 slots instead of rows: see grouped_keys(). Keys are stored already rotated (RoPE at
// their absolute positions, angles in double precision). Allocated once when a session starts; the
// decode loop only writes rows.
//
// Slots (CacheGeometry):
//   [0, n_pinned)                pinned: position p lives in slot p forever (attention sinks /
//                                LM-Infinite's global tokens; for full attention every slot)
//   [n_pinned, n_pinned + ring)  a ring: position p >= n_pinned lives in slot
//                                n_pinned + (p - n_pinned) % ring, overwriting p - ring
// plus, for the first n_raw positions, a copy of the key *before* RoPE (LM-Infinite scores global
// keys as <R(D) q, k> with k unrotated; spec "The distance ceiling for RoPE"), optionally a TRAMS
// score per slot (trams.md), and optionally a MiddleStore of the middle tokens for LM-Infinite's
// top-k retrieval (middle_store.h).
#pragma once
#include <cstdint>
#include <limits>
#include <vector>

#include "attention/kivi.h"
#include "attention/middle_store.h"
#include "core/aligned.h"
#include "core/dtype.h"
#include "ops/ops.h"
#include "ops/rope.h"

namespace lc {

struct CacheGeometry {
  int64_t n_pinned = 0;
  int64_t ring = 0;   // 0 = no ring: positions >= n_pinned do not fit
  int64_t n_raw = 0;  // <= n_pinned
  // TRAMS: one score per (layer, kv head, slot), written with the key.
  bool slot_scores = false;
  // Top-k middle tokens: layers >= middle_from_layer keep positions >= middle_first in a
  // MiddleStore of middle_capacity rows per (layer, kv head); 0 = unbounded. -1 = no store.
  int64_t middle_from_layer = -1;
  int64_t middle_first = 0;
  int64_t middle_capacity = 0;
  // 0: a token enters the MiddleStore as it enters the cache (from the given unrotated key).
  // lag > 0 (a bounded pool): position p - lag enters when p is stored, i.e. when it leaves a
  // window of `lag`, from its ring slot (key rotated back, value, slot score), so that the pool
  // holds no window tokens. Needs ring >= lag and slot_scores.
  int64_t middle_lag = 0;
  // Element types of the cached keys (with the unrotated copies) and values.
  DType k_type = DType::F32;
  DType v_type = DType::F32;

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
      : geo_(g),
        n_layers_(n_layers),
        n_kv_heads_(n_kv_heads),
        capacity_(g.slots()),
        head_dim_(head_dim),
        gbase_(!grouped_keys() ? g.slots()
               : g.ring > 0    ? g.n_pinned
                               : 0),
        n_groups_(grouped_keys() ? (g.slots() - gbase_ + kKiviGroup - 1) / kKiviGroup : 0),
        k_pos_bytes_(checked_row_bytes(g.k_type, head_dim)),
        k_row_(dtype_bytes(key_row_type(), head_dim)),
        v_row_(checked_row_bytes(g.v_type, head_dim)),
        k_(static_cast<size_t>(n_layers * n_kv_heads * gbase_ * k_row_)),
        v_(static_cast<size_t>(n_layers * n_kv_heads * g.slots() * v_row_)),
        k_raw_(static_cast<size_t>(n_layers * n_kv_heads * g.n_raw * k_row_)),
        k_groups_(
            static_cast<size_t>(n_layers * n_kv_heads * n_groups_ * kivi_group_bytes(head_dim))),
        k_resid_(grouped_keys() ? static_cast<size_t>(n_layers * n_kv_heads * kKiviKeyResidual *
                                                      kKiviGroup * head_dim)
                                : 0),
        ktag_(grouped_keys() ? static_cast<size_t>(n_layers * n_kv_heads * kKiviKeyResidual) : 0,
              -1),
        kfill_(ktag_.size(), 0),
        vbase_(g.ring > 0 ? g.n_pinned : 0),
        v_resid_(value_residual()
                     ? static_cast<size_t>(n_layers * n_kv_heads * kKiviValueResidual * head_dim)
                     : 0),
        vtag_(
            value_residual() ? static_cast<size_t>(n_layers * n_kv_heads * kKiviValueResidual) : 0,
            -1),
        scores_(g.slot_scores ? static_cast<size_t>(n_layers * n_kv_heads * g.slots()) : 0),
        middle_(g.middle_from_layer >= 0
                    ? MiddleStore(n_layers, g.middle_from_layer, n_kv_heads, head_dim,
                                  g.middle_first, g.middle_capacity, g.k_type, g.v_type)
                    : MiddleStore()),
        admit_(g.middle_lag > 0 ? static_cast<size_t>(n_kv_heads * (2 * head_dim + 1) + head_dim)
                                : 0) {
    check_groups();
  }

  // Number of slots (pinned + ring).
  int64_t capacity() const { return capacity_; }
  int64_t head_dim() const { return head_dim_; }
  const CacheGeometry& geometry() const { return geo_; }
  // Every byte held, including a growing (unbounded) middle store.
  size_t bytes() const {
    return k_.bytes() + v_.bytes() + k_raw_.bytes() + k_groups_.bytes() + k_resid_.bytes() +
           v_resid_.bytes() + scores_.bytes() + middle_.bytes();
  }

  // The slot holding position `pos` (pos must fit: pos < max_positions()).
  int64_t slot(int64_t pos) const {
    return pos < geo_.n_pinned ? pos : geo_.n_pinned + (pos - geo_.n_pinned) % geo_.ring;
  }

  DType k_type() const { return geo_.k_type; }
  DType v_type() const { return geo_.v_type; }
  // Bytes of the key and value rows of one position over every layer and kv head.
  int64_t bytes_per_position() const { return n_layers_ * n_kv_heads_ * (k_pos_bytes_ + v_row_); }

  // q4 keys (KIVI): the slots from key_group_base() on (every slot without a ring; the ring's
  // with one) are kept in groups of kKiviGroup consecutive slots, each quantized per channel when
  // its last slot is stored. The keys of the newest kKiviKeyResidual groups are also kept as f32
  // rows of a residual (one entry per group index modulo kKiviKeyResidual, tagged with its group,
  // holding that group's first few or all 32 keys) and read from there: key_exact(). A group's
  // slots past its entry's fill still hold the previous round's quantized keys. Other key rows
  // (the pinned slots before a ring, the unrotated copies) are f32: key_row_type().
  bool grouped_keys() const { return geo_.k_type == DType::Q4_1; }
  int64_t key_group_base() const { return gbase_; }
  DType key_row_type() const { return grouped_keys() ? DType::F32 : geo_.k_type; }
  const void* k_group(int64_t layer, int64_t head, int64_t grp) const {
    return k_groups_.data() + group_index(layer, head, grp) * kivi_group_bytes(head_dim_);
  }
  bool key_exact(int64_t layer, int64_t head, int64_t slot) const {
    if (!grouped_keys() || slot < gbase_) return false;
    const int64_t grp = (slot - gbase_) / kKiviGroup, e = kres_index(layer, head, grp);
    return ktag_[e] == grp && (slot - gbase_) % kKiviGroup < kfill_[e];
  }
  // scores[h * ld + j] = <q_h, key of slot s0 + j> for the group's query heads h < group (q:
  // [group, head_dim]) and j < n, over consecutive slots (which must not wrap around the ring),
  // read in place in whatever form they are stored.
  void key_scores(const ops::KernelTable& K, int64_t layer, int64_t head, int64_t s0, int64_t n,
                  const float* q, int64_t group, float* scores, int64_t ld) const;

  // q4 values (KIVI's full-precision residual for values): every value from value_base() on is
  // stored as a Q4_1 row, and the newest of them are kept as f32 rows too and read from there
  // (value_exact()): an entry per residue of slot - value_base() modulo kKiviValueResidual, so the
  // last 128 positions stored in order (fewer across the wrap-around of a ring that is not a
  // multiple of 128: a residue met twice keeps the newer slot).
  bool value_residual() const { return geo_.v_type == DType::Q4_1; }
  int64_t value_base() const { return vbase_; }
  bool value_exact(int64_t layer, int64_t head, int64_t slot) const {
    return value_residual() && slot >= vbase_ && vtag_[vres_index(layer, head, slot)] == slot;
  }
  // out[h * ldo + d] = (or +=, when accumulate) sum_j p[h * ldp + j] * value of slot s0 + j [d]
  // for the group's heads h < group and j < n, over consecutive slots (which must not wrap around
  // the ring), read in place from the rows and the residual; tmp: [group, head_dim] scratch.
  void value_sum(const ops::KernelTable& K, int64_t layer, int64_t head, int64_t s0, int64_t n,
                 const float* p, int64_t ldp, int64_t group, float* out, int64_t ldo,
                 bool accumulate, float* tmp) const;

  // The key row of `slot` for one kv head in key_row_type() (with grouped keys: only for slots
  // before key_group_base()), and the value row in v_type; rows of consecutive slots are
  // adjacent.
  const void* k(int64_t layer, int64_t head, int64_t slot) const {
    return k_.data() + k_index(layer, head, slot) * k_row_;
  }
  const void* v(int64_t layer, int64_t head, int64_t slot) const {
    return v_.data() + index(layer, head, slot) * v_row_;
  }
  // The unrotated key of position pos < n_raw (key_row_type()); rows of consecutive positions
  // adjacent.
  const void* k_raw(int64_t layer, int64_t head, int64_t pos) const {
    return k_raw_.data() + raw_index(layer, head, pos) * k_row_;
  }
  // Stores head_dim floats as the row's type.
  void store_k(int64_t layer, int64_t head, int64_t slot, const float* x);
  void store_v(int64_t layer, int64_t head, int64_t slot, const float* x);
  void store_k_raw(int64_t layer, int64_t head, int64_t pos, const float* x);
  // Reads a row back as head_dim floats.
  void load_k(int64_t layer, int64_t head, int64_t slot, float* out) const;
  void load_v(int64_t layer, int64_t head, int64_t slot, float* out) const;
  void load_k_raw(int64_t layer, int64_t head, int64_t pos, float* out) const;

  // The TRAMS score of `slot` for one kv head (geometry().slot_scores); consecutive slots adjacent.
  float* score(int64_t layer, int64_t head, int64_t slot) {
    return scores_.data() + (layer * n_kv_heads_ + head) * capacity_ + slot;
  }
  const float* score(int64_t layer, int64_t head, int64_t slot) const {
    return scores_.data() + (layer * n_kv_heads_ + head) * capacity_ + slot;
  }
  MiddleStore& middle() { return middle_; }
  const MiddleStore& middle() const { return middle_; }
  // How ring keys are stored: rotated by RoPE (the model's frequencies, style) at their
  // positions, or unrotated (ALiBi: nullptr). The forward sets it before every use; a lagged
  // middle store rotates keys back with it.
  void set_key_rotation(const ops::RopeFreqs* rope, ops::RopeStyle style) {
    rope_ = rope;
    rope_style_ = style;
  }
  // Moves position `pos` (in the ring) into the lagged middle store of `layer` (cache_store).
  void admit_middle(int64_t layer, int64_t pos);

  // Benchmarks: writes uniform values in [-1, 1) into every row that positions [0, n_positions)
  // occupy (touching that memory), as a stand-in for the keys and values of a long context
  // without computing them. n_positions must fit.
  void fill_random(int64_t n_positions, uint64_t seed);

 private:
  static int64_t checked_row_bytes(DType t, int64_t head_dim);
  void store_grouped_k(int64_t layer, int64_t head, int64_t slot, const float* x);
  void check_groups() const;
  int64_t index(int64_t layer, int64_t head, int64_t slot) const {
    return (layer * n_kv_heads_ + head) * capacity_ + slot;
  }
  int64_t group_index(int64_t layer, int64_t head, int64_t grp) const {
    return (layer * n_kv_heads_ + head) * n_groups_ + grp;
  }
  // The key residual entry that may hold group grp, and its f32 rows [kKiviGroup, head_dim].
  int64_t kres_index(int64_t layer, int64_t head, int64_t grp) const {
    return (layer * n_kv_heads_ + head) * kKiviKeyResidual + grp % kKiviKeyResidual;
  }
  float* kres_rows(int64_t e) { return k_resid_.data() + e * kKiviGroup * head_dim_; }
  const float* kres_rows(int64_t e) const { return k_resid_.data() + e * kKiviGroup * head_dim_; }
  // Key rows are kept for the slots before gbase_ only.
  int64_t k_index(int64_t layer, int64_t head, int64_t slot) const {
    return (layer * n_kv_heads_ + head) * gbase_ + slot;
  }
  // The residual entry that may hold slot's value (slot >= vbase_).
  int64_t vres_index(int64_t layer, int64_t head, int64_t slot) const {
    return (layer * n_kv_heads_ + head) * kKiviValueResidual + (slot - vbase_) % kKiviValueResidual;
  }
  int64_t raw_index(int64_t layer, int64_t head, int64_t pos) const {
    return (layer * n_kv_heads_ + head) * geo_.n_raw + pos;
  }
  CacheGeometry geo_;
  int64_t n_layers_ = 0, n_kv_heads_ = 0, capacity_ = 0, head_dim_ = 0;
  int64_t gbase_ = 0, n_groups_ = 0;  // grouped keys: first grouped slot, groups per head
  int64_t k_pos_bytes_ = 0, k_row_ = 0, v_row_ = 0;
  AlignedBuffer<uint8_t> k_, v_, k_raw_, k_groups_;
  // Grouped keys: [layer][kv_head][kKiviKeyResidual][kKiviGroup][head_dim], and per entry the
  // group it holds (or -1) and how many of that group's first slots.
  AlignedBuffer<float> k_resid_;
  std::vector<int64_t> ktag_;
  std::vector<int32_t> kfill_;
  int64_t vbase_ = 0;             // q4 values: the first slot with a residual entry
  AlignedBuffer<float> v_resid_;  // q4 values: [layer][kv_head][kKiviValueResidual][head_dim]
  std::vector<int64_t> vtag_;     // and the slot each entry holds, or -1
  AlignedBuffer<float> scores_;   // [layer][kv_head][slot] when geometry().slot_scores
  MiddleStore middle_;
  AlignedBuffer<float> admit_;  // lagged admission: keys, values [n_kv_heads, head_dim], scores
                                // [n_kv_heads], cos|sin [head_dim]
  const ops::RopeFreqs* rope_ = nullptr;
  ops::RopeStyle rope_style_ = ops::RopeStyle::AdjacentPairs;
};

}  // namespace lc
