// The element types a KV cache can store (docs/design.md, "KV-cache precision"): f32, bf16,
// f16 and q8_0, for keys and values separately. Rows are converted as they are stored (bf16 and
// f16 round to nearest even, q8_0 is ggml's block quantizer) and read by the attention kernels
// in place by the score and value kernels of their type (bf16 / f16: the gemm and weighted-sum
// kernels with the conversion in their loads; q8_0: q8_scores / q8_weighted_sum, which scale the
// int8 values by their block's fp16 scale as they load them), never as a copy of the cache.
#pragma once
#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "ops/ops.h"

namespace lc {

// Whether t is a KV-cache type (f32, bf16, f16, q8_0, and Q4_1, named q4: values as Q4_1 rows,
// keys quantized per channel after KIVI, attention/kivi.h).
bool kv_type_supported(DType t);
// "f32, bf16, f16, q8_0, q4"
const char* kv_type_names();
// The name of a KV-cache type as flags spell it (Q4_1 is "q4").
const char* kv_type_name(DType t);
// The KV-cache type named s; throws lc::Error naming `what` and the accepted names otherwise.
DType parse_kv_type(const std::string& what, const std::string& s);
// Throws unless rows of head_dim elements can be stored as t (q8_0: head_dim a multiple of 32).
void check_kv_type(DType t, int64_t head_dim);

// Bytes of one row of n elements.
inline int64_t kv_row_bytes(DType t, int64_t n) { return dtype_bytes(t, n); }
// Stores n floats as t at out (kv_row_bytes(t, n) bytes).
void kv_encode(DType t, const float* x, void* out, int64_t n);
// Reads n elements of type t back as floats.
void kv_decode(DType t, const void* src, float* out, int64_t n);

// scores[h * ld + j] = <q_h, key_j> for the group's query heads h < group (q: [group, hd]) and n
// key rows of type t starting at keys (not q4: its keys are groups, KvCache::key_scores).
void kv_scores(const ops::KernelTable& K, DType t, const void* keys, int64_t hd, const float* q,
               int64_t group, float* scores, int64_t ld, int64_t n);
// out[h * ldo + d] = sum_j p[h * ldp + j] * value_j[d] over n value rows of type t (overwrites
// out; zeros when n == 0).
void kv_values(const ops::KernelTable& K, DType t, const float* p, int64_t ldp, int64_t group,
               const void* vals, int64_t hd, int64_t n, float* out, int64_t ldo);

}  // namespace lc
