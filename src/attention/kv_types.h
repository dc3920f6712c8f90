// The element types a KV cache can store (docs/design.md, "KV-cache precision"): f32, bf16,
// f16 and q8_0, for keys and values separately. Rows are converted as they are stored (bf16 and
// f16 round to nearest even, q8_0 is ggml's block quantizer) and read by the attention kernels
// in place: bf16 / f16 straight into the score and value kernels, q8_0 a tile of kKvTile rows at
// a time dequantized into a thread's scratch (16 KiB at head size 64, in L1), never as a copy of
// the cache.
#pragma once
#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "ops/ops.h"

namespace lc {

// Rows of a q8_0 key or value run dequantized at a time.
constexpr int64_t kKvTile = 64;

// Whether t is a KV-cache type (f32, bf16, f16, q8_0).
bool kv_type_supported(DType t);
// "f32, bf16, f16, q8_0"
const char* kv_type_names();
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

// Floats of per-thread scratch kv_scores / kv_values need for `group` query heads over keys of
// k_type and values of v_type (none unless one of them is read a tile at a time: q8_0).
inline int64_t kv_scratch_floats(int64_t head_dim, int64_t group, DType k_type, DType v_type) {
  const bool tiled = k_type == DType::Q8_0 || v_type == DType::Q8_0;
  return tiled ? kKvTile * head_dim + group * head_dim : 0;
}

// scores[h * ld + j] = <q_h, key_j> for the group's query heads h < group (q: [group, hd]) and n
// key rows of type t starting at keys. scratch: kv_scratch_floats(hd, group, t, ...) floats.
void kv_scores(const ops::KernelTable& K, DType t, const void* keys, int64_t hd, const float* q,
               int64_t group, float* scores, int64_t ld, int64_t n, float* scratch);
// out[h * ldo + d] = sum_j p[h * ldp + j] * value_j[d] over n value rows of type t (overwrites
// out; zeros when n == 0). scratch: kv_scratch_floats(hd, group, ..., t) floats.
void kv_values(const ops::KernelTable& K, DType t, const float* p, int64_t ldp, int64_t group,
               const void* vals, int64_t hd, int64_t n, float* out, int64_t ldo, float* scratch);

}  // namespace lc
