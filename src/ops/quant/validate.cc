#include "ops/quant/validate.h"

#include <cstddef>
#include <cstring>

#include "ops/quant/blocks.h"

namespace lc::ops::quant {
namespace {

bool bad_half(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return (v & 0x7c00u) == 0x7c00u;  // exponent all ones: infinity or NaN
}

}  // namespace

ScaleFields scale_fields(DType t) {
  switch (t) {
    case DType::Q8_0:
      return {offsetof(BlockQ8_0, d), -1};
    case DType::Q4_0:
      return {offsetof(BlockQ4_0, d), -1};
    case DType::Q4_1:
      return {offsetof(BlockQ4_1, d), offsetof(BlockQ4_1, m)};
    case DType::Q5_0:
      return {offsetof(BlockQ5_0, d), -1};
    case DType::Q5_1:
      return {offsetof(BlockQ5_1, d), offsetof(BlockQ5_1, m)};
    case DType::IQ4_NL:
      return {offsetof(BlockIq4Nl, d), -1};
    case DType::Q2_K:
      return {offsetof(BlockQ2K, d), offsetof(BlockQ2K, dmin)};
    case DType::Q3_K:
      return {offsetof(BlockQ3K, d), -1};
    case DType::Q4_K:
      return {offsetof(BlockQ4K, d), offsetof(BlockQ4K, dmin)};
    case DType::Q5_K:
      return {offsetof(BlockQ5K, d), offsetof(BlockQ5K, dmin)};
    case DType::Q6_K:
      return {offsetof(BlockQ6K, d), -1};
    case DType::IQ4_XS:
      return {offsetof(BlockIq4Xs, d), -1};
    default:
      return {-1, -1};
  }
}

int64_t first_bad_scale(DType t, const void* data, int64_t n_blocks) {
  const ScaleFields f = scale_fields(t);
  if (f.a < 0) return -1;
  const auto* p = static_cast<const uint8_t*>(data);
  const int64_t bb = dtype_block_bytes(t);
  for (int64_t i = 0; i < n_blocks; ++i, p += bb)
    if (bad_half(p + f.a) || (f.b >= 0 && bad_half(p + f.b))) return i;
  return -1;
}

}  // namespace lc::ops::quant
