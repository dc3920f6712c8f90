#include "attention/flash.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attention/kv_types.h"
#include "attention/policy.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "ops/ops.h"

namespace lc {

namespace {

constexpr float kMasked = -std::numeric_limits<float>::infinity();
constexpr int64_t kMaxRows = ops::kFlashMaxM;  // a block has at most one row per query vector

// One thread's scratch, in floats: the block's queries transposed (local and global rotation),
// the running output, max and sum, a mask tile and the tile kernel's work area.
struct Layout {
  int64_t qt, qgt, ot, mx, l, bias, work, floats;
};

Layout layout_of(int64_t hd) {
  constexpr int64_t M = ops::kFlashMaxM;
  Layout f{};
  f.qt = 0;
  f.qgt = hd * M;
  f.ot = 2 * hd * M;
  f.mx = 3 * hd * M;
  f.l = f.mx + M;
  f.bias = f.l + M;
  f.work = f.bias + ops::kFlashKeys * M;
  f.floats = f.work + ops::flash_work_floats(hd);
  return f;
}

// One (row block, kv head) item. slopes: ALiBi's, of the group's query heads (nullptr: RoPE).
struct Item {
  const KvCache& cache;
  int64_t layer, g, hd, group, rows, ldm;
  float* sc;
  const Layout& lay;
  const float* slopes;
};

// The positions [lo, hi] a part of a block's rows attend to; row r sees [a[r], b[r]] of them
// (nothing when b[r] < a[r]). raw: keys from the unrotated copies (positions < n_raw; values in
// the pinned slots of the same positions), else from the slots. ALiBi: row r sees the key at
// position p at distance origin[r] - p, or origin[r] for raw (global) keys at a fixed distance.
struct Segment {
  bool raw;
  const float* qt;
  int64_t lo, hi;
  const int64_t* a;
  const int64_t* b;
  const int64_t* origin;
};

// Tiles of positions [p, end): at most kFlashKeys, starting at multiples of it, never across the
// end of the pinned slots or the ring's seam.
int64_t tile_end(const KvCache& cache, const Segment& sg, int64_t p) {
  const CacheGeometry& geo = cache.geometry();
  int64_t end = std::min(sg.hi + 1, (p / ops::kFlashKeys + 1) * ops::kFlashKeys);
  if (sg.raw) return end;
  if (p < geo.n_pinned) return std::min(end, geo.n_pinned);
  return std::min(end, p + geo.n_pinned + geo.ring - cache.slot(p));
}

// Rows of type *type at *rows, left in place when the tile kernel reads that type (f32, bf16,
// f16), else decoded into `stage` as f32.
void readable(int64_t n_floats, float* stage, const void** rows, DType* type) {
  if (*type == DType::F32 || *type == DType::BF16 || *type == DType::F16) return;
  kv_decode(*type, *rows, stage, n_floats);
  *rows = stage;
  *type = DType::F32;
}

// The tile's rows in a type the kernel reads: in place, or decoded into `stage`.
void tile_keys(const Item& it, const Segment& sg, int64_t p, int64_t n, float* stage,
               const void** rows, DType* type) {
  const KvCache& c = it.cache;
  const int64_t s0 = c.slot(p);
  if (!sg.raw && c.grouped_keys() && s0 >= c.key_group_base()) {  // q4: per row, residual first
    for (int64_t j = 0; j < n; ++j) c.load_k(it.layer, it.g, s0 + j, stage + j * it.hd);
    *rows = stage;
    *type = DType::F32;
    return;
  }
  *rows = sg.raw ? c.k_raw(it.layer, it.g, p) : c.k(it.layer, it.g, s0);
  *type = c.key_row_type();
  readable(n * it.hd, stage, rows, type);
}

void tile_values(const Item& it, int64_t p, int64_t n, float* stage, const void** rows,
                 DType* type) {
  const KvCache& c = it.cache;
  const int64_t s0 = c.slot(p);
  if (c.value_residual()) {  // q4: per row, the exact newest ones from the residual
    for (int64_t j = 0; j < n; ++j) c.load_v(it.layer, it.g, s0 + j, stage + j * it.hd);
    *rows = stage;
    *type = DType::F32;
    return;
  }
  *rows = c.v(it.layer, it.g, s0);
  *type = c.v_type();
  readable(n * it.hd, stage, rows, type);
}

void run_segment(const ops::KernelTable& K, const Item& it, const Segment& sg) {
  float* sc = it.sc;
  float* work = sc + it.lay.work;
  for (int64_t p = sg.lo; p <= sg.hi;) {
    const int64_t end = tile_end(it.cache, sg, p), n = end - p;
    bool any = false, whole = true;
    for (int64_t r = 0; r < it.rows; ++r) {
      if (sg.b[r] < sg.a[r] || sg.b[r] < p || sg.a[r] >= end) {
        whole = false;
        continue;
      }
      any = true;
      if (sg.a[r] > p || sg.b[r] < end - 1) whole = false;
    }
    if (any) {
      float* bias = nullptr;
      if (!whole || it.slopes) {
        bias = sc + it.lay.bias;
        for (int64_t j = 0; j < n; ++j) {
          float* row = bias + j * it.ldm;
          std::fill(row, row + it.ldm, 0.0f);  // padding lanes: any finite value
          for (int64_t r = 0; r < it.rows; ++r) {
            float* lanes = row + r * it.group;
            if (p + j < sg.a[r] || p + j > sg.b[r]) {
              std::fill(lanes, lanes + it.group, kMasked);
            } else if (it.slopes) {
              const float d = static_cast<float>(sg.origin[r] - (sg.raw ? 0 : p + j));
              for (int64_t h = 0; h < it.group; ++h) lanes[h] = -it.slopes[h] * d;
            }
          }
        }
      }
      const void *kr, *vr;
      DType kt, vt;
      tile_keys(it, sg, p, n, ops::flash_work_keys(work), &kr, &kt);
      tile_values(it, p, n, ops::flash_work_values(work, it.hd), &vr, &vt);
      K.flash_tile(ops::FlashTile{sg.qt, it.ldm, it.hd, n, kr, vr, kt, vt, bias, sc + it.lay.mx,
                                  sc + it.lay.l, sc + it.lay.ot, work});
    }
    p = end;
  }
}

// qt[d * ldm + r * group + h] = q[row r, head g * group + h][d] * scale; padding lanes zero.
void transpose_queries(const float* q, int64_t q_dim, int64_t g, int64_t group, int64_t hd,
                       int64_t rows, int64_t ldm, float scale, float* qt) {
  for (int64_t d = 0; d < hd; ++d) {
    float* row = qt + d * ldm;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t h = 0; h < group; ++h)
        row[r * group + h] = q[r * q_dim + (g * group + h) * hd + d] * scale;
    std::fill(row + rows * group, row + ldm, 0.0f);
  }
}

}  // namespace

bool flash_serves(const AttentionShape& s, int64_t n_q, bool topk, bool trams) {
  return !topk && !trams && n_q >= kFlashMinRows &&
         s.n_heads / s.n_kv_heads <= ops::kernels().flash_max_m;
}

int64_t flash_thread_floats(const AttentionShape& s) { return layout_of(s.head_dim).floats; }

void attend_flash(ThreadPool& pool, const KvCache& cache, int64_t layer, const AttentionShape& s,
                  const AttentionPolicy* policy, const float* q, const float* q_global, int64_t n_q,
                  int64_t pos0, float* out, float* scratch, int64_t thread_floats) {
  const ops::KernelTable& K = ops::kernels();
  const int64_t hd = s.head_dim, q_dim = s.n_heads * hd, group = s.n_heads / s.n_kv_heads;
  const Layout lay = layout_of(hd);
  check(thread_floats >= lay.floats, "attend_flash: ", thread_floats,
        " floats of scratch per thread, expected at least ", lay.floats);
  const int64_t max_rows = std::min(K.flash_max_m / group, kMaxRows);
  check(max_rows >= 1, "attend_flash: a group of ", group, " query heads exceeds a block");
  if (n_q <= 0) return;
  // Blocks of equal size (64 rows of a 3-head group: 4 blocks of 16, not 3 of 21 and one of 1).
  const int64_t n_blocks = (n_q + max_rows - 1) / max_rows;
  const int64_t per = (n_q + n_blocks - 1) / n_blocks;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  if (!q_global) q_global = q;
  const int64_t work = 2 * n_q * s.n_heads * std::min(cache.capacity(), pos0 + n_q) * hd;
  pool.run_sized(work, [&](int t, int nt) {
    int64_t b, e;
    ThreadPool::split_range(n_blocks * s.n_kv_heads, 1, t, nt, &b, &e);
    float* sc = scratch + t * thread_floats;
    for (int64_t item = b; item < e; ++item) {
      const int64_t blk = item / s.n_kv_heads, g = item % s.n_kv_heads, r0 = blk * per;
      const int64_t rows = std::min(per, n_q - r0);
      const int64_t ldm = (rows * group + K.flash_lanes - 1) / K.flash_lanes * K.flash_lanes;
      int64_t la[kMaxRows], lb[kMaxRows], ga[kMaxRows], gb[kMaxRows], go[kMaxRows];
      int64_t lo = std::numeric_limits<int64_t>::max(), hi = -1, n_global = 0;
      bool raw = false;
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t pos = pos0 + r0 + r;
        const RowPlan p = policy ? policy->plan(pos) : RowPlan{0, 0, pos, false};
        la[r] = p.local_lo;
        lb[r] = pos;
        ga[r] = 0;
        gb[r] = p.n_global - 1;
        go[r] = p.global_pos;
        if (la[r] <= lb[r]) {
          lo = std::min(lo, la[r]);
          hi = std::max(hi, lb[r]);
        }
        if (p.n_global > 0) {
          check(n_global == 0 || raw == p.global_raw,
                "attend_flash: rows of one block disagree on where their global keys are");
          n_global = std::max(n_global, p.n_global);
          raw = p.global_raw;
        }
      }
      transpose_queries(q + r0 * q_dim, q_dim, g, group, hd, rows, ldm, scale, sc + lay.qt);
      std::fill(sc + lay.mx, sc + lay.mx + ldm, ops::kFlashStart);
      std::fill(sc + lay.l, sc + lay.l + ldm, 0.0f);
      std::fill(sc + lay.ot, sc + lay.ot + hd * ldm, 0.0f);
      const float* slopes = s.alibi_slopes ? s.alibi_slopes + g * group : nullptr;
      const Item it{cache, layer, g, hd, group, rows, ldm, sc, lay, slopes};
      if (n_global > 0) {
        transpose_queries(q_global + r0 * q_dim, q_dim, g, group, hd, rows, ldm, scale,
                          sc + lay.qgt);
        run_segment(K, it, Segment{raw, sc + lay.qgt, 0, n_global - 1, ga, gb, go});
      }
      if (hi >= lo) run_segment(K, it, Segment{false, sc + lay.qt, lo, hi, la, lb, lb});
      // out = ot / l (a row without keys, which no policy plans, gets zeros).
      const float* ot = sc + lay.ot;
      const float* l = sc + lay.l;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t h = 0; h < group; ++h) {
          const int64_t lane = r * group + h;
          const float inv = l[lane] > 0.0f ? 1.0f / l[lane] : 0.0f;
          float* o = out + (r0 + r) * q_dim + (g * group + h) * hd;
          for (int64_t d = 0; d < hd; ++d) o[d] = ot[d * ldm + lane] * inv;
        }
    }
  });
}

}  // namespace lc
