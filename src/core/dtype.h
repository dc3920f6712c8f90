// Element types of weights and their scalar conversions (round-to-nearest-even for narrowing).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

namespace lc {

// Q8_0 (GGUF/ggml): blocks of 32 elements, each an fp16 scale d followed by 32 int8 q; element
// i of a block is d * q[i]. A Q8_0 row must hold a whole number of blocks.
enum class DType : uint8_t { F32, BF16, F16, Q8_0 };

constexpr int64_t kQ8Block = 32;       // elements per Q8_0 block
constexpr int64_t kQ8BlockBytes = 34;  // fp16 scale + 32 int8

// Elements per storage block: 32 for Q8_0, 1 otherwise.
inline int64_t dtype_block(DType t) { return t == DType::Q8_0 ? kQ8Block : 1; }
// Bytes per element for the element types. Q8_0 has no whole byte count per element; its
// nominal 1 is only a size estimate -- use dtype_bytes for every size that matters.
inline size_t dtype_size(DType t) { return t == DType::F32 ? 4 : t == DType::Q8_0 ? 1 : 2; }
// Bytes of n consecutive elements (for Q8_0 n must be a multiple of 32, e.g. a row).
inline int64_t dtype_bytes(DType t, int64_t n) {
  return t == DType::Q8_0 ? n / kQ8Block * kQ8BlockBytes : n * static_cast<int64_t>(dtype_size(t));
}
inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "f32";
    case DType::BF16:
      return "bf16";
    case DType::F16:
      return "f16";
    case DType::Q8_0:
      return "q8_0";
  }
  return "?";
}
// Throws lc::Error for anything but f32|bf16|f16|q8_0.
DType parse_dtype(const std::string& s);

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
// Quantizes n floats (a multiple of 32) to Q8_0 blocks at out (n / 32 * 34 bytes), as ggml does:
// d = max|x| / 127 stored as fp16, q = round(x / d).
void quantize_q8_0(const float* x, int64_t n, uint8_t* out);

}  // namespace lc
