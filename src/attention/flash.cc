#include "attention/flash.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "attention/kv_types.h"
#include "attention/middle_store.h"
#include "attention/policy.h"
#include "attention/topk_heap.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "ops/amx/flash_amx.h"
#include "ops/ops.h"

namespace lc {

namespace {

constexpr float kMasked = -std::numeric_limits<float>::infinity();
constexpr int64_t kMaxRows = ops::kFlashMaxM;  // a block has at most one row per query vector

// One thread's scratch, in floats: the block's queries transposed (local and global rotation),
// the running output, max and sum, a mask tile, the tile kernel's work area and a segment's
// queries packed for the AMX tile (ops/amx/flash_amx.h).
struct Layout {
  int64_t qt, qgt, ot, mx, l, bias, work, qp, floats;
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
  f.qp = f.work + ops::flash_work_floats(hd);
  f.floats = f.qp + ops::amx::flash_q_words(hd, M);
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
// pick (TRAMS's pool): row r sees only the keys of [a[r], b[r]] ranked at or above its threshold
// key thr_pos[r] (slot score thr[r], ties to the newer token); thr_pos[r] < 0: all of them.
struct Pick {
  const float* thr;
  const int64_t* thr_pos;
};

struct Segment {
  bool raw;
  const float* qt;
  int64_t lo, hi;
  const int64_t* a;
  const int64_t* b;
  const int64_t* origin;
  const Pick* pick = nullptr;
};

// Whether row r of the segment sees the key at position p.
bool sees(const Item& it, const Segment& sg, int64_t r, int64_t p) {
  if (p < sg.a[r] || p > sg.b[r]) return false;
  if (!sg.pick || sg.pick->thr_pos[r] < 0) return true;
  const float s = *it.cache.score(it.layer, it.g, it.cache.slot(p));
  return s > sg.pick->thr[r] || (s == sg.pick->thr[r] && p >= sg.pick->thr_pos[r]);
}

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
  // bf16 keys and values go through the AMX tile where it runs; the segment's queries are packed
  // for it once, at its first such tile.
  const bool amx = ops::amx::flash_enabled() && ops::amx::flash_takes(it.hd) && it.ldm % 16 == 0;
  uint32_t* qp = reinterpret_cast<uint32_t*>(sc + it.lay.qp);
  bool packed = false;
  for (int64_t p = sg.lo; p <= sg.hi;) {
    const int64_t end = tile_end(it.cache, sg, p), n = end - p;
    // Which rows see the tile: from the ranges alone, or (pick) key by key in the mask below.
    bool any = sg.pick != nullptr, whole = sg.pick == nullptr;
    for (int64_t r = 0; r < it.rows && !sg.pick; ++r) {
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
        int64_t seen = 0;
        for (int64_t j = 0; j < n; ++j) {
          float* row = bias + j * it.ldm;
          std::fill(row, row + it.ldm, 0.0f);  // padding lanes: any finite value
          for (int64_t r = 0; r < it.rows; ++r) {
            float* lanes = row + r * it.group;
            if (!sees(it, sg, r, p + j)) {
              std::fill(lanes, lanes + it.group, kMasked);
              continue;
            }
            ++seen;
            if (it.slopes) {
              const float d = static_cast<float>(sg.origin[r] - (sg.raw ? 0 : p + j));
              for (int64_t h = 0; h < it.group; ++h) lanes[h] = -it.slopes[h] * d;
            }
          }
        }
        any = seen > 0;
      }
      if (any) {
        const void *kr, *vr;
        DType kt, vt;
        tile_keys(it, sg, p, n, ops::flash_work_keys(work), &kr, &kt);
        tile_values(it, p, n, ops::flash_work_values(work, it.hd), &vr, &vt);
        const ops::FlashTile tile{
            sg.qt,          it.ldm,        it.hd,          n,   kr, vr, kt, vt, bias,
            sc + it.lay.mx, sc + it.lay.l, sc + it.lay.ot, work};
        if (amx && kt == DType::BF16 && vt == DType::BF16) {
          if (!packed) {
            ops::amx::pack_flash_q(sg.qt, it.ldm, it.hd, qp);
            ops::amx::flash_begin();
          }
          packed = true;
          ops::amx::flash_tile_bf16(tile, qp);
        } else {
          K.flash_tile(tile);
        }
      }
    }
    p = end;
  }
  if (packed) ops::amx::flash_end();
}

// TRAMS (trams.cc, select_trams in policy_attend.cc): row r at pos0 + r0 + r attends, beside its
// recent keys (the plan's local run), to the best extra() keys of its pool [pos - M, local_lo)
// by slot score, ties to the newer token. Sets the pool ranges [a[r], b[r]] and each row's
// threshold (the worst key it selects; -1: the whole pool), and returns the positions the block
// reads, [*lo, *hi] (*hi < *lo: none). cand: pool int64s of scratch.
void trams_pool(const Item& it, const TramsSelect& ts, int64_t pos_r0, const int64_t* local_lo,
                int64_t* a, int64_t* b, float* thr, int64_t* thr_pos, int64_t* cand, int64_t* lo,
                int64_t* hi) {
  const KvCache& c = it.cache;
  auto score = [&](int64_t p) { return *c.score(it.layer, it.g, c.slot(p)); };
  auto better = [&](int64_t x, int64_t y) {
    const float sx = score(x), sy = score(y);
    return sx > sy || (sx == sy && x > y);
  };
  *lo = std::numeric_limits<int64_t>::max();
  *hi = -1;
  for (int64_t r = 0; r < it.rows; ++r) {
    const int64_t pos = pos_r0 + r;
    a[r] = std::max<int64_t>(0, pos - ts.pool);
    b[r] = local_lo[r] - 1;
    thr[r] = 0.0f;
    thr_pos[r] = -1;
    const int64_t n_cand = local_lo[r] - a[r], want = std::min(ts.extra(), n_cand);
    if (want <= 0) {
      b[r] = a[r] - 1;
      continue;
    }
    *lo = std::min(*lo, a[r]);
    *hi = std::max(*hi, b[r]);
    if (want == n_cand) continue;
    for (int64_t e = 0; e < n_cand; ++e) cand[e] = a[r] + e;
    std::nth_element(cand, cand + want - 1, cand + n_cand, better);
    thr_pos[r] = cand[want - 1];
    thr[r] = score(thr_pos[r]);
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

// The top-k middle stage's scratch after a thread's Layout (flash.h): the block's query vectors
// rotated for the middle, transposed [hd][M], one chunk's logits [kChunk][M] and the heaps
// [M][kcols]; int64s:
// the heaps' refs [M][kcols], then the bounded store's candidates [capacity].
struct MidLayout {
  int64_t qm, logits, heap, floats;
  int64_t refs, cand, indices;
};

MidLayout mid_layout(int64_t hd, int64_t kcols, int64_t capacity) {
  constexpr int64_t M = ops::kFlashMaxM;
  MidLayout m{};
  m.qm = layout_of(hd).floats;
  m.logits = m.qm + M * hd;
  m.heap = m.logits + M * MiddleStore::kChunk;
  m.floats = m.heap + M * kcols;
  m.refs = 0;
  m.cand = M * kcols;
  m.indices = m.cand + capacity;
  return m;
}

// One block's top-k middle keys: query vector (row r, head h) = lane r * group + h keeps in its
// heap the best kcols keys of the middle [first, ends[r]) by logit = <q, k> * scale - ALiBi bias,
// as select_middle (policy_attend.cc) does for one row; sizes[lane] says how many.
struct BlockMiddle {
  const MiddleStore& ms;
  const MiddleTopK& mt;
  int64_t kcols;
  float scale;
  const MidLayout& ml;
};

void select_block_middle(const ops::KernelTable& K, const Item& it, const BlockMiddle& bm,
                         const float* q_middle, int64_t q_dim, const int64_t* ends, int64_t* idx,
                         int64_t* sizes) {
  const MiddleStore& ms = bm.ms;
  const int64_t hd = it.hd, group = it.group, nq = it.rows * group, C = MiddleStore::kChunk;
  float* qm = it.sc + bm.ml.qm;  // [hd][ldm], unscaled: logits are <q, k> * scale, as the rows'
  float* logits = it.sc + bm.ml.logits;  // [key j of the chunk][ldm]
  float* work = it.sc + it.lay.work;
  transpose_queries(q_middle, q_dim, it.g, group, hd, it.rows, it.ldm, 1.0f, qm);
  std::fill(sizes, sizes + nq, 0);
  const int64_t row_bytes = kv_row_bytes(ms.k_type(), hd);
  // logits[j][lane] for n key rows at `keys`: flash_scores over tiles of kFlashKeys rows.
  auto score = [&](const void* keys, int64_t n) {
    for (int64_t j0 = 0; j0 < n; j0 += ops::kFlashKeys) {
      const int64_t nt = std::min(ops::kFlashKeys, n - j0);
      const void* rows = static_cast<const uint8_t*>(keys) + j0 * row_bytes;
      DType kt = ms.k_type();
      readable(nt * hd, ops::flash_work_keys(work), &rows, &kt);
      K.flash_scores(qm, it.ldm, hd, rows, kt, nt, logits + j0 * it.ldm, work);
    }
  };
  float bias[ops::kFlashMaxM];
  for (int64_t h = 0; h < group; ++h)
    bias[h] = it.slopes ? it.slopes[h] * static_cast<float>(bm.mt.distance) : 0.0f;
  // Lane `lane`'s heap takes logits[lane * C + j] for the j in [0, n) that keep(j) admits, in
  // order, as key ref_of(j). A logit below a full heap's worst is rejected before TopK::push (the
  // push's own first test, so the heap ends the same), which skips the call for almost every key.
  auto push_lane = [&](int64_t lane, int64_t h, int64_t n, const int64_t* pos_of, auto keep,
                       auto ref_of) {
    TopK hp{it.sc + bm.ml.heap + lane * bm.kcols, idx + bm.ml.refs + lane * bm.kcols, sizes[lane],
            bm.kcols, pos_of};
    constexpr float kNone = -std::numeric_limits<float>::infinity();
    float worst = hp.size < hp.cap ? kNone : hp.logit[0];
    for (int64_t j = 0; j < n; ++j) {
      const float x = logits[j * it.ldm + lane] * bm.scale - bias[h];
      if (x < worst || !keep(j)) continue;
      hp.push(x, ref_of(j));
      worst = hp.size < hp.cap ? kNone : hp.logit[0];
    }
    sizes[lane] = hp.size;
  };
  const int64_t first = bm.mt.first;
  if (!ms.bounded()) {
    int64_t end = first;
    for (int64_t r = 0; r < it.rows; ++r) end = std::max(end, ends[r]);
    for (int64_t c = 0; c * C < end - first; ++c) {
      const int64_t n = std::min(C, end - first - c * C);
      score(ms.chunk_k(it.layer, it.g, c), n);
      for (int64_t r = 0; r < it.rows; ++r) {
        const int64_t lim = std::min(n, ends[r] - first - c * C);
        for (int64_t h = 0; h < group && lim > 0; ++h)
          push_lane(
              r * group + h, h, lim, nullptr, [](int64_t) { return true; },
              [&](int64_t j) { return c * C + j; });
      }
    }
    return;
  }
  // Bounded pool: a row's candidates are the P best by (score, position) among the held rows
  // before its end (select_middle); thr[r] is the worst of them (-1: every such row).
  const int64_t held = ms.held(it.layer, it.g);
  const int64_t* ps = ms.positions(it.layer, it.g);
  const float* psc = ms.scores(it.layer, it.g);
  auto lower = [&](int64_t a, int64_t b) {
    return psc[a] < psc[b] || (psc[a] == psc[b] && ps[a] < ps[b]);
  };
  int64_t thr[kMaxRows];
  int64_t* cand = idx + bm.ml.cand;
  for (int64_t r = 0; r < it.rows; ++r) {
    int64_t nc = 0;
    for (int64_t e = 0; e < held; ++e)
      if (ps[e] < ends[r]) cand[nc++] = e;
    thr[r] = -1;
    if (nc > bm.mt.pool) {
      std::nth_element(cand, cand + (nc - bm.mt.pool), cand + nc, lower);
      thr[r] = cand[nc - bm.mt.pool];
    }
  }
  for (int64_t c0 = 0; c0 < held; c0 += C) {
    const int64_t n = std::min(C, held - c0);
    score(static_cast<const uint8_t*>(ms.k(it.layer, it.g)) + c0 * row_bytes, n);
    for (int64_t r = 0; r < it.rows; ++r)
      for (int64_t h = 0; h < group; ++h)
        push_lane(
            r * group + h, h, n, ps,
            [&](int64_t j) {
              const int64_t e = c0 + j;
              return ps[e] < ends[r] && (thr[r] < 0 || !lower(e, thr[r]));
            },
            [&](int64_t j) { return c0 + j; });
  }
}

// The chosen middle keys join each query's running softmax state (mx, l, ot) of the tiles.
void merge_block_middle(const Item& it, const BlockMiddle& bm, const int64_t* idx,
                        const int64_t* sizes) {
  const MiddleStore& ms = bm.ms;
  float* mx = it.sc + it.lay.mx;
  float* l = it.sc + it.lay.l;
  float* ot = it.sc + it.lay.ot;
  float* v = it.sc + bm.ml.logits;  // free again: one decoded value row
  for (int64_t lane = 0; lane < it.rows * it.group; ++lane) {
    const int64_t n = sizes[lane];
    if (n == 0) continue;
    const float* hl = it.sc + bm.ml.heap + lane * bm.kcols;
    const int64_t* refs = idx + bm.ml.refs + lane * bm.kcols;
    float m = mx[lane];
    for (int64_t j = 0; j < n; ++j) m = std::max(m, hl[j]);
    const float alpha = std::exp(mx[lane] - m);
    l[lane] *= alpha;
    for (int64_t d = 0; d < it.hd; ++d) ot[d * it.ldm + lane] *= alpha;
    for (int64_t j = 0; j < n; ++j) {
      const float p = std::exp(hl[j] - m);
      l[lane] += p;
      const void* row = ms.v_row(it.layer, it.g, refs[j]);
      const float* vr = static_cast<const float*>(row);
      if (ms.v_type() != DType::F32) {
        kv_decode(ms.v_type(), row, v, it.hd);
        vr = v;
      }
      for (int64_t d = 0; d < it.hd; ++d) ot[d * it.ldm + lane] += p * vr[d];
    }
    mx[lane] = m;
  }
}

}  // namespace

bool flash_serves(const AttentionShape& s, int64_t n_q, bool rows_only) {
  return !rows_only && n_q >= kFlashMinRows &&
         s.n_heads / s.n_kv_heads <= ops::kernels().flash_max_m;
}

int64_t flash_thread_floats(const AttentionShape& s, int64_t kcols) {
  return kcols > 0 ? mid_layout(s.head_dim, kcols, 0).floats : layout_of(s.head_dim).floats;
}

int64_t flash_thread_indices(int64_t kcols, int64_t middle_capacity) {
  return kcols > 0 ? mid_layout(0, kcols, middle_capacity).indices : 0;
}

void attend_flash(ThreadPool& pool, const KvCache& cache, int64_t layer, const AttentionShape& s,
                  const AttentionPolicy* policy, const float* q, const float* q_global, int64_t n_q,
                  int64_t pos0, float* out, float* scratch, int64_t thread_floats,
                  const float* q_middle, int64_t* scratch_idx, int64_t thread_indices) {
  const ops::KernelTable& K = ops::kernels();
  const int64_t hd = s.head_dim, q_dim = s.n_heads * hd, group = s.n_heads / s.n_kv_heads;
  const Layout lay = layout_of(hd);
  const bool topk = policy && policy->middle().active(layer) && cache.middle().has_layer(layer);
  const int64_t kcols =
      topk ? std::min(policy->middle().k,
                      policy->middle().pool > 0 ? policy->middle().pool : policy->middle().k)
           : 0;
  const MidLayout ml = mid_layout(hd, kcols, cache.middle().capacity());
  const int64_t need = topk ? ml.floats : lay.floats;
  check(thread_floats >= need, "attend_flash: ", thread_floats,
        " floats of scratch per thread, expected at least ", need);
  check(!topk || (q_middle && scratch_idx && thread_indices >= ml.indices),
        "attend_flash: top-k middle tokens need the middle queries and ", ml.indices,
        " indices of scratch per thread");
  const TramsSelect* ts = policy && policy->trams().pool > 0 ? &policy->trams() : nullptr;
  check(!ts || !ts->compacted, "attend_flash: TRAMS with compacted distances runs row by row");
  check(!ts || (scratch_idx && thread_indices >= ts->pool), "attend_flash: TRAMS needs ",
        ts ? ts->pool : 0, " indices of scratch per thread");
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
    int64_t* ix = topk || ts ? scratch_idx + t * thread_indices : nullptr;
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
      if (ts) {
        int64_t pa[kMaxRows], pb[kMaxRows], thr_pos[kMaxRows], plo, phi;
        float thr[kMaxRows];
        trams_pool(it, *ts, pos0 + r0, la, pa, pb, thr, thr_pos, ix, &plo, &phi);
        const Pick pick{thr, thr_pos};
        if (phi >= plo)
          run_segment(K, it, Segment{false, sc + lay.qt, plo, phi, pa, pb, lb, &pick});
      }
      if (hi >= lo) run_segment(K, it, Segment{false, sc + lay.qt, lo, hi, la, lb, lb});
      if (topk) {
        const BlockMiddle bm{cache.middle(), policy->middle(), kcols, scale, ml};
        int64_t sizes[ops::kFlashMaxM];
        select_block_middle(K, it, bm, q_middle + r0 * q_dim, q_dim, la, ix, sizes);
        merge_block_middle(it, bm, ix, sizes);
      }
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
