#include "attention/kv_cache.h"

#include <algorithm>
#include <vector>

#include "attention/kv_types.h"
#include "core/error.h"
#include "core/rng.h"
#include "ops/ops.h"

namespace lc {

int64_t KvCache::checked_row_bytes(DType t, int64_t head_dim) {
  check_kv_type(t, head_dim);
  return kv_row_bytes(t, head_dim);
}

void KvCache::store_k(int64_t layer, int64_t head, int64_t slot, const float* x) {
  kv_encode(geo_.k_type, x, k_.data() + index(layer, head, slot) * k_row_, head_dim_);
}
void KvCache::store_v(int64_t layer, int64_t head, int64_t slot, const float* x) {
  kv_encode(geo_.v_type, x, v_.data() + index(layer, head, slot) * v_row_, head_dim_);
}
void KvCache::store_k_raw(int64_t layer, int64_t head, int64_t pos, const float* x) {
  kv_encode(geo_.k_type, x, k_raw_.data() + raw_index(layer, head, pos) * k_row_, head_dim_);
}
void KvCache::load_k(int64_t layer, int64_t head, int64_t slot, float* out) const {
  kv_decode(geo_.k_type, k(layer, head, slot), out, head_dim_);
}
void KvCache::load_v(int64_t layer, int64_t head, int64_t slot, float* out) const {
  kv_decode(geo_.v_type, v(layer, head, slot), out, head_dim_);
}
void KvCache::load_k_raw(int64_t layer, int64_t head, int64_t pos, float* out) const {
  kv_decode(geo_.k_type, k_raw(layer, head, pos), out, head_dim_);
}

void KvCache::admit_middle(int64_t layer, int64_t pos) {
  const int64_t hd = head_dim_, s = slot(pos);
  float* keys = admit_.data();
  float* vals = keys + n_kv_heads_ * hd;
  float* sc = vals + n_kv_heads_ * hd;
  float* cs = sc + n_kv_heads_;
  for (int64_t g = 0; g < n_kv_heads_; ++g) {
    load_k(layer, g, s, keys + g * hd);
    load_v(layer, g, s, vals + g * hd);
    sc[g] = *score(layer, g, s);
  }
  if (rope_) {  // R(-pos): the angles of pos with the sines negated
    rope_->angles(static_cast<double>(pos), cs, cs + hd / 2);
    for (int64_t c = hd / 2; c < hd; ++c) cs[c] = -cs[c];
    ops::kernels().rope(keys, n_kv_heads_, hd, cs, cs + hd / 2, rope_style_);
  }
  middle_.store(layer, pos, keys, vals, sc);
}

void KvCache::fill_random(int64_t n_positions, uint64_t seed) {
  check(n_positions >= 0 && n_positions <= geo_.max_positions(), "fill: ", n_positions,
        " positions do not fit a cache of ", geo_.max_positions());
  Rng rng(seed);
  std::vector<float> row(static_cast<size_t>(head_dim_));
  auto random_row = [&]() {
    for (int64_t c = 0; c < head_dim_; ++c)
      row[c] = static_cast<float>(static_cast<int32_t>(rng.next_u32())) * (1.0f / 2147483648.0f);
    return row.data();
  };
  auto fill = [&](float* r) { std::copy_n(random_row(), head_dim_, r); };
  // The positions that are still held: the pinned ones and the last `ring` of the others.
  const int64_t first_ring = std::max(geo_.n_pinned, n_positions - geo_.ring);
  for (int64_t l = 0; l < n_layers_; ++l)
    for (int64_t g = 0; g < n_kv_heads_; ++g) {
      for (int64_t p = 0; p < std::min(n_positions, geo_.n_pinned); ++p) {
        store_k(l, g, p, random_row());
        store_v(l, g, p, random_row());
      }
      for (int64_t p = 0; p < std::min(n_positions, geo_.n_raw); ++p)
        store_k_raw(l, g, p, random_row());
      if (geo_.ring > 0)
        for (int64_t p = first_ring; p < n_positions; ++p) {
          store_k(l, g, slot(p), random_row());
          store_v(l, g, slot(p), random_row());
          if (geo_.slot_scores) *score(l, g, slot(p)) = static_cast<float>(rng.normal());
        }
    }
  // The middle store: every position >= its first, in the layers that keep one.
  if (middle_.enabled()) {
    std::vector<float> kr(static_cast<size_t>(n_kv_heads_ * head_dim_)), vr(kr.size());
    std::vector<float> sc(static_cast<size_t>(n_kv_heads_));
    for (int64_t l = 0; l < n_layers_; ++l) {
      if (!middle_.has_layer(l)) continue;
      for (int64_t p = middle_.first(); p < n_positions - geo_.middle_lag; ++p) {
        for (int64_t g = 0; g < n_kv_heads_; ++g) {
          fill(kr.data() + g * head_dim_);
          fill(vr.data() + g * head_dim_);
          sc[g] = static_cast<float>(rng.normal());
        }
        middle_.store(l, p, kr.data(), vr.data(), sc.data());
      }
    }
  }
}

}  // namespace lc
