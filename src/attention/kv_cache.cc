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

void KvCache::check_groups() const {
  check(!grouped_keys() || geo_.ring % kKiviGroup == 0, "KV cache: q4 keys are kept in groups of ",
        kKiviGroup, " slots; a ring of ", geo_.ring, " slots is not a multiple");
}

void KvCache::store_k(int64_t layer, int64_t head, int64_t slot, const float* x) {
  if (slot >= gbase_) return store_grouped_k(layer, head, slot, x);
  kv_encode(key_row_type(), x, k_.data() + k_index(layer, head, slot) * k_row_, head_dim_);
}

void KvCache::store_grouped_k(int64_t layer, int64_t head, int64_t slot, const float* x) {
  const int64_t hd = head_dim_;
  const int64_t grp = (slot - gbase_) / kKiviGroup, t = (slot - gbase_) % kKiviGroup;
  const int64_t e = kres_index(layer, head, grp);
  float* resid = kres_rows(e);
  uint8_t* dst = k_groups_.data() + group_index(layer, head, grp) * kivi_group_bytes(hd);
  // Keys are stored in position order, so the entry normally holds this group's first t keys
  // already. Otherwise (a group entered anew, a ring entered mid-group, a rewind) the group's
  // earlier keys are taken from its stored, quantized form.
  if (ktag_[e] != grp || kfill_[e] < t)
    for (int64_t j = 0; j < t; ++j) kivi_decode_key(dst, hd, j, resid + j * hd);
  std::copy_n(x, hd, resid + t * hd);
  ktag_[e] = grp;
  kfill_[e] = static_cast<int32_t>(t + 1);
  // Complete: quantized per channel; the entry keeps the exact keys until a newer group takes it.
  if (t + 1 == kKiviGroup) kivi_quantize_group(resid, hd, dst);
}

void KvCache::key_scores(const ops::KernelTable& K, int64_t layer, int64_t head, int64_t s0,
                         int64_t n, const float* q, int64_t group, float* scores,
                         int64_t ld) const {
  const int64_t hd = head_dim_;
  if (s0 < gbase_) {  // rows; a run of slots never straddles the grouped region's start
    kv_scores(K, key_row_type(), k(layer, head, s0), hd, q, group, scores, ld, n);
    return;
  }
  for (int64_t s = s0; s < s0 + n;) {
    const int64_t grp = (s - gbase_) / kKiviGroup, t0 = (s - gbase_) % kKiviGroup;
    const int64_t t1 = std::min(kKiviGroup, t0 + (s0 + n - s));
    const int64_t e = kres_index(layer, head, grp);
    const int64_t fill = ktag_[e] == grp ? kfill_[e] : 0;
    float* out = scores + (s - s0);
    int64_t t = t0;
    if (t < fill) {  // keys of one of the newest groups: f32 rows of the residual
      const int64_t r1 = std::min(t1, fill);
      K.gemm_f32(kres_rows(e) + t * hd, hd, q, hd, group, out, ld, 0, r1 - t);
      out += r1 - t;
      t = r1;
    }
    if (t < t1) K.kivi_scores(k_group(layer, head, grp), hd, q, group, t, t1, out, ld);
    s += t1 - t0;
  }
}
void KvCache::store_v(int64_t layer, int64_t head, int64_t slot, const float* x) {
  kv_encode(geo_.v_type, x, v_.data() + index(layer, head, slot) * v_row_, head_dim_);
  if (value_residual() && slot >= vbase_) {
    const int64_t e = vres_index(layer, head, slot);
    std::copy_n(x, head_dim_, v_resid_.data() + e * head_dim_);
    vtag_[e] = slot;
  }
}

void KvCache::value_sum(const ops::KernelTable& K, int64_t layer, int64_t head, int64_t s0,
                        int64_t n, const float* p, int64_t ldp, int64_t group, float* out,
                        int64_t ldo, bool accumulate, float* tmp) const {
  const int64_t hd = head_dim_;
  // The run's slots held in the residual, in slot order.
  int64_t hits[kKiviValueResidual];
  int64_t n_hits = 0;
  if (value_residual())
    for (int64_t e = 0; e < kKiviValueResidual; ++e) {
      const int64_t s = vtag_[(layer * n_kv_heads_ + head) * kKiviValueResidual + e];
      if (s >= s0 && s < s0 + n) hits[n_hits++] = s;
    }
  std::sort(hits, hits + n_hits);
  bool written = accumulate;
  auto rows = [&](int64_t j0, int64_t j1) {  // slots s0 + [j0, j1) from their typed rows
    if (j1 <= j0) return;
    if (!written) {
      kv_values(K, geo_.v_type, p + j0, ldp, group, v(layer, head, s0 + j0), hd, j1 - j0, out, ldo);
      written = true;
      return;
    }
    kv_values(K, geo_.v_type, p + j0, ldp, group, v(layer, head, s0 + j0), hd, j1 - j0, tmp, hd);
    for (int64_t h = 0; h < group; ++h) K.axpy(1.0f, tmp + h * hd, out + h * ldo, hd);
  };
  int64_t j = 0;
  for (int64_t i = 0; i < n_hits; ++i) {
    const int64_t jh = hits[i] - s0;
    rows(j, jh);
    if (!written) {
      for (int64_t h = 0; h < group; ++h) std::fill_n(out + h * ldo, hd, 0.0f);
      written = true;
    }
    const float* x = v_resid_.data() + vres_index(layer, head, hits[i]) * hd;
    for (int64_t h = 0; h < group; ++h) K.axpy(p[h * ldp + jh], x, out + h * ldo, hd);
    j = jh + 1;
  }
  rows(j, n);
  if (!written)  // n == 0
    for (int64_t h = 0; h < group; ++h) std::fill_n(out + h * ldo, hd, 0.0f);
}
void KvCache::store_k_raw(int64_t layer, int64_t head, int64_t pos, const float* x) {
  kv_encode(key_row_type(), x, k_raw_.data() + raw_index(layer, head, pos) * k_row_, head_dim_);
}
void KvCache::load_k(int64_t layer, int64_t head, int64_t slot, float* out) const {
  if (slot < gbase_) return kv_decode(key_row_type(), k(layer, head, slot), out, head_dim_);
  const int64_t grp = (slot - gbase_) / kKiviGroup, t = (slot - gbase_) % kKiviGroup;
  if (key_exact(layer, head, slot))
    std::copy_n(kres_rows(kres_index(layer, head, grp)) + t * head_dim_, head_dim_, out);
  else
    kivi_decode_key(k_group(layer, head, grp), head_dim_, t, out);
}
void KvCache::load_v(int64_t layer, int64_t head, int64_t slot, float* out) const {
  if (value_exact(layer, head, slot))
    std::copy_n(v_resid_.data() + vres_index(layer, head, slot) * head_dim_, head_dim_, out);
  else
    kv_decode(geo_.v_type, v(layer, head, slot), out, head_dim_);
}
void KvCache::load_k_raw(int64_t layer, int64_t head, int64_t pos, float* out) const {
  kv_decode(key_row_type(), k_raw(layer, head, pos), out, head_dim_);
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
