// The flash-attention tile (ops.h, FlashTile) on AMX tiles, for bf16 keys and values (the
// default KV cache). attention/flash.cc calls it in place of KernelTable::flash_tile where
// flash_enabled() and both rows are bf16.
//
// Numerics ("bf16 compute", as amx.h's products): the scaled queries are rounded to bf16 once per
// block (pack_flash_q) and the probabilities to bf16 before the value product; keys and values are
// used as stored; every product of two bf16 values is exact in f32 and the sums are f32. The
// softmax itself (max, exp, the running sum l and the rescale of earlier tiles) is f32, as in the
// FMA kernel. So a score s = sum_d q_d k_d moves by at most
//   ds <= (2^-8 + gamma_hd) * sum_d |q_d| |k_d|,
// and, with l summed from the unrounded probabilities, an output o = sum_j p_j v_j / sum_j p_j by
// at most (e^(2 ds_max) - 1 + 2^-8 e^(2 ds_max)) * max_j |v_j| (each weight p_j / l moves by a
// factor within e^(+-2 ds_max), then by 2^-8 from its rounding). tests/amx_flash_test.cc checks
// this against a double reference.
#pragma once
#include <cstdint>

#include "ops/ops.h"

namespace lc::ops::amx {

// Whether flash_tile_bf16 runs here: enabled() (amx.h) and LONGCTX_AMX_ATTN unset, empty or 1
// (0: the FMA kernel for every cache type; anything else throws lc::Error), unless overridden by
// set_flash_enabled (tests compare both paths). Decided once per process.
bool flash_enabled();
void set_flash_enabled(bool on);  // ignored (stays off) where enabled() is false

// Whether the tile takes a head size (a multiple of 32, the tile depth).
inline bool flash_takes(int64_t hd) { return hd > 0 && hd % 32 == 0; }

// Packed queries: ldm / 16 groups of 16 queries, each hd / 2 rows of 16 pairs (bf16 of dims 2p
// and 2p + 1 in the low and high halves of a 32-bit word): AMX's B operand.
inline int64_t flash_q_words(int64_t hd, int64_t ldm) { return hd / 2 * ldm; }
void pack_flash_q(const float* qt, int64_t ldm, int64_t hd, uint32_t* qp);

// The tile configuration for a run of flash_tile_bf16 calls on this thread (between them no
// other AMX code may run on it), and its release.
void flash_begin();
void flash_end();

// FlashTile's update with t.kt == t.vt == BF16, flash_takes(t.hd), t.ldm a multiple of 16 (<= 64)
// and qp = pack_flash_q(t.qt), between flash_begin and flash_end. Uses t.work as FlashTile says
// (the scores, then the staging parts).
void flash_tile_bf16(const FlashTile& t, const uint32_t* qp);

}  // namespace lc::ops::amx
