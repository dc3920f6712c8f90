// Element types of weights and their scalar conversions (round-to-nearest-even for narrowing).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

namespace lc {

// Weight element types. F32/BF16/F16 are plain arrays; the rest are ggml's block-quantized
// types, stored exactly as llama.cpp writes them (layouts in ops/quant/blocks.h): a row of a
// quantized matrix is a whole number of blocks of dtype_block() elements, dtype_block_bytes()
// bytes each. Q8_0: an fp16 scale d and 32 int8 q, element i = d * q[i].
enum class DType : uint8_t {
  F32,
  BF16,
  F16,
  Q8_0,
  Q4_0,
  Q4_1,
  Q5_0,
  Q5_1,
  Q2_K,
  Q3_K,
  Q4_K,
  Q5_K,
  Q6_K,
  IQ4_NL,
  IQ4_XS,
};
constexpr int kDTypeCount = 15;

constexpr int64_t kQ8Block = 32;       // elements per Q8_0 block
constexpr int64_t kQ8BlockBytes = 34;  // fp16 scale + 32 int8
constexpr int64_t kQKK = 256;          // elements per K-quant (and IQ4_XS) super-block

struct DTypeInfo {
  const char* name;     // "f32", "q4_k", ... (the --dtype spelling)
  int64_t block;        // elements per storage block (1 for plain types)
  int64_t block_bytes;  // bytes per storage block
};
const DTypeInfo& dtype_info(DType t);

// Elements per storage block: 32 or 256 for quantized types, 1 otherwise.
inline int64_t dtype_block(DType t) { return dtype_info(t).block; }
inline int64_t dtype_block_bytes(DType t) { return dtype_info(t).block_bytes; }
inline bool dtype_quantized(DType t) { return dtype_info(t).block > 1; }
// Bytes per element of the plain types (4 or 2). A quantized type has no whole byte count per
// element; its value here (1) is only a size estimate -- use dtype_bytes for sizes that matter.
inline size_t dtype_size(DType t) {
  return t == DType::F32 ? 4 : t == DType::BF16 || t == DType::F16 ? 2 : 1;
}
// Bytes of n consecutive elements (for a quantized type n must be a multiple of its block).
inline int64_t dtype_bytes(DType t, int64_t n) {
  const DTypeInfo& i = dtype_info(t);
  return n / i.block * i.block_bytes;
}
inline const char* dtype_name(DType t) { return dtype_info(t).name; }
// The DType named s (dtype_info names); throws lc::Error naming the accepted names otherwise.
DType parse_dtype(const std::string& s);
// "f32, bf16, ..., iq4_xs" (for messages and help).
std::string dtype_names();

inline float bf16_to_f32(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
// Quantizers for the block types live in ops/quant/quantize.h (quantize_row).

}  // namespace lc
