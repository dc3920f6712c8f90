#include "attention/kv_types.h"

#include <cstring>

#include "core/error.h"
#include "ops/quant/dequant.h"
#include "ops/quant/quantize.h"

namespace lc {

bool kv_type_supported(DType t) {
  return t == DType::F32 || t == DType::BF16 || t == DType::F16 || t == DType::Q8_0 ||
         t == DType::Q4_1;
}

const char* kv_type_names() { return "f32, bf16, f16, q8_0, q4"; }

const char* kv_type_name(DType t) { return t == DType::Q4_1 ? "q4" : dtype_name(t); }

DType parse_kv_type(const std::string& what, const std::string& s) {
  for (DType t : {DType::F32, DType::BF16, DType::F16, DType::Q8_0, DType::Q4_1})
    if (s == kv_type_name(t)) return t;
  fail(what, ": expected one of ", kv_type_names(), ", got '", s, "'");
}

void check_kv_type(DType t, int64_t head_dim) {
  check(kv_type_supported(t), "KV cache: type ", kv_type_name(t), " is not one of ",
        kv_type_names());
  check(head_dim % dtype_block(t) == 0, "KV cache: type ", kv_type_name(t), " stores blocks of ",
        dtype_block(t), " elements; this model's head size ", head_dim,
        " is not a multiple (use f32, bf16 or f16)");
}

void kv_encode(DType t, const float* x, void* out, int64_t n) {
  switch (t) {
    case DType::F32:
      std::memcpy(out, x, sizeof(float) * static_cast<size_t>(n));
      return;
    case DType::BF16: {
      auto* o = static_cast<uint16_t*>(out);
      for (int64_t i = 0; i < n; ++i) o[i] = f32_to_bf16(x[i]);
      return;
    }
    case DType::F16: {
      auto* o = static_cast<uint16_t*>(out);
      for (int64_t i = 0; i < n; ++i) o[i] = f32_to_f16(x[i]);
      return;
    }
    default:
      ops::quant::quantize_row(t, x, out, n);
  }
}

void kv_decode(DType t, const void* src, float* out, int64_t n) {
  ops::quant::dequantize_row(t, src, out, n);
}

void kv_scores(const ops::KernelTable& K, DType t, const void* keys, int64_t hd, const float* q,
               int64_t group, float* scores, int64_t ld, int64_t n) {
  if (t == DType::Q8_0) return K.q8_scores(keys, hd, q, group, scores, ld, n);
  check(t != DType::Q4_1, "kv_scores: q4 keys are stored in groups; read them with KvCache");
  ops::gemm_for(K, t)(keys, hd, q, hd, group, scores, ld, 0, n);
}

void kv_values(const ops::KernelTable& K, DType t, const float* p, int64_t ldp, int64_t group,
               const void* vals, int64_t hd, int64_t n, float* out, int64_t ldo) {
  switch (t) {
    case DType::BF16:
      return K.weighted_sum_bf16(p, ldp, group, vals, hd, n, hd, out, ldo);
    case DType::F16:
      return K.weighted_sum_f16(p, ldp, group, vals, hd, n, hd, out, ldo);
    case DType::Q8_0:
      return K.q8_weighted_sum(p, ldp, group, vals, hd, n, out, ldo);
    case DType::Q4_1:
      return K.q4_weighted_sum(p, ldp, group, vals, hd, n, out, ldo);
    default:
      return K.weighted_sum(p, ldp, group, vals, hd, n, hd, out, ldo);
  }
}

}  // namespace lc
