// The 4-bit KV cache after KIVI (Liu et al. 2024; docs/design.md, "KV-cache precision"): keys are
// quantized per channel over groups of kKiviGroup consecutive tokens, so that a channel's
// outliers get their own scale and minimum (ggml's Q4_1 quantizer over the channel's 32 values).
// A key group is stored as the head_dim fp16 scales d_c, the head_dim fp16 minimums m_c, then 16
// bytes of 4-bit levels u per channel (token t < 16 in the low nibble of byte t, t + 16 in its
// high nibble), so a key is x[t][c] = d_c u_c[t] + m_c and a group costs 20 bytes per channel, as
// Q4_1 rows of the same keys would; the scales and minimums are contiguous so that the kernel
// scales the query by a whole vector of them at once. Values are Q4_1 rows (per token). KIVI's
// full-precision residual, R = 128: KvCache keeps the keys of the newest kKiviKeyResidual groups
// (the one being filled, quantized when its last slot is stored, and the three before it) and the
// newest kKiviValueResidual values as f32 rows beside their quantized form, so that with prefill
// blocks of up to 64 tokens every row of a block reads at least its 32 newest keys and values
// exact; the attention kernel reads groups in place (KernelTable::kivi_scores).
#pragma once
#include <cstdint>

namespace lc {

constexpr int64_t kKiviGroup = 32;
constexpr int64_t kKiviValueResidual = 128;
// Key groups whose keys KvCache also keeps exact (the newest 4: R = 128 keys, as for values).
constexpr int64_t kKiviKeyResidual = 4;

// Bytes of one key group of head_dim channels.
inline int64_t kivi_group_bytes(int64_t head_dim) { return 20 * head_dim; }
// Quantizes kKiviGroup keys (rows [kKiviGroup, head_dim], row-major) into one group.
void kivi_quantize_group(const float* rows, int64_t head_dim, void* out);
// Key t of a group as head_dim floats.
void kivi_decode_key(const void* grp, int64_t head_dim, int64_t t, float* out);

}  // namespace lc
