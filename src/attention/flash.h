// Tiled ("flash") attention for a block of query rows (prefill): rows are taken in blocks of up
// to KernelTable::flash_max_m query vectors (rows x the kv head's query heads), keys and values in
// tiles of ops::kFlashKeys positions, one online-softmax update per tile (ops::FlashTile), so
// each key tile is read once per row block instead of once per row and no row x key matrix is
// kept. A row's keys are its policy's plan (RowPlan): the global keys [0, n_global) scored with
// the query rotated to the global position, and the local keys [local_lo, pos]; a tile that every
// row of the block sees whole has no mask, the others get a -inf bias where a row does not see a
// key, and tiles that no row sees are skipped. Tiles start at multiples of kFlashKeys in position
// space (and at the ring's seams), so a row's result does not depend on which rows share its
// block. ALiBi's distance bias joins the mask tile (every tile gets one). attend_full and
// attend_policy call it for the policies it serves (flash_serves); the row-by-row kernels stay for
// decode, top-k middle tokens and TRAMS.
#pragma once
#include <cstdint>

#include "attention/attention.h"

namespace lc {

class AttentionPolicy;

// Fewest rows for which the tiled kernel is used (decode rows stay row by row).
constexpr int64_t kFlashMinRows = 4;

// Whether attend_flash serves n_q rows of a layer: no top-k middle tokens, no TRAMS selection,
// and a head group that fits one flash block.
bool flash_serves(const AttentionShape& s, int64_t n_q, bool topk, bool trams);

// Floats of scratch per thread.
int64_t flash_thread_floats(const AttentionShape& s);

// As attend_policy (policy nullptr: plain causal attention over slot == position, attend_full).
// scratch: thread_floats (>= flash_thread_floats) floats per thread of the pool.
void attend_flash(ThreadPool& pool, const KvCache& cache, int64_t layer, const AttentionShape& s,
                  const AttentionPolicy* policy, const float* q, const float* q_global, int64_t n_q,
                  int64_t pos0, float* out, float* scratch, int64_t thread_floats);

}  // namespace lc
