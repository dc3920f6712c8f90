// Tiled ("flash") attention for a block of query rows (prefill): rows are taken in blocks of up
// to KernelTable::flash_max_m query vectors (rows x the kv head's query heads), keys and values in
// tiles of ops::kFlashKeys positions, one online-softmax update per tile (ops::FlashTile), so
// each key tile is read once per row block instead of once per row and no row x key matrix is
// kept. A row's keys are its policy's plan (RowPlan): the global keys [0, n_global) scored with
// the query rotated to the global position, and the local keys [local_lo, pos]; a tile that every
// row of the block sees whole has no mask, the others get a -inf bias where a row does not see a
// key, and tiles that no row sees are skipped. Tiles start at multiples of kFlashKeys in position
// space (and at the ring's seams), so a row's result does not depend on which rows share its
// block. ALiBi's distance bias joins the mask tile (every tile gets one). LM-Infinite's top-k
// middle tokens: the block's queries score each chunk of the middle store at once (one product
// of the block's query vectors against the chunk's keys, so a key is read once per block, not
// once per row), every query head of every row keeps its best k in a heap (topk_heap.h, as the
// row kernels do), and the chosen keys join each query's running softmax before the output is
// normalised. TRAMS: a row's pool keys are masked per row in the tiles of its pool (each row keeps
// the keys at or above its threshold score, found as select_trams finds its selection), so the
// pool is read once per block. attend_full and attend_policy call it for the policies it serves
// (flash_serves); the row-by-row kernels stay for decode and TRAMS with compacted distances (each
// row re-rotates its selected keys).
#pragma once
#include <cstdint>

#include "attention/attention.h"

namespace lc {

class AttentionPolicy;

// Fewest rows for which the tiled kernel is used (decode rows stay row by row).
constexpr int64_t kFlashMinRows = 4;

// Whether attend_flash serves n_q rows of a layer: not a policy that must run row by row
// (rows_only: TRAMS with compacted distances), and a head group that fits one flash block.
bool flash_serves(const AttentionShape& s, int64_t n_q, bool rows_only);

// Scratch per thread: floats, and int64s (none without top-k); kcols: the policy's top-k middle
// keys per query head (0: none), middle_capacity: a bounded middle store's rows (0: unbounded).
int64_t flash_thread_floats(const AttentionShape& s, int64_t kcols = 0);
int64_t flash_thread_indices(int64_t kcols, int64_t middle_capacity);

// As attend_policy (policy nullptr: plain causal attention over slot == position, attend_full).
// scratch: thread_floats (>= flash_thread_floats) floats per thread of the pool. Where the
// policy's top-k is active in this layer: q_middle (the queries rotated to the middle distance,
// as attend_policy's) and scratch_idx, thread_indices (>= flash_thread_indices) per thread;
// TRAMS: scratch_idx with thread_indices >= its pool M.
void attend_flash(ThreadPool& pool, const KvCache& cache, int64_t layer, const AttentionShape& s,
                  const AttentionPolicy* policy, const float* q, const float* q_global, int64_t n_q,
                  int64_t pos0, float* out, float* scratch, int64_t thread_floats,
                  const float* q_middle = nullptr, int64_t* scratch_idx = nullptr,
                  int64_t thread_indices = 0);

}  // namespace lc
