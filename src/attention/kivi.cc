#include "attention/kivi.h"

#include "core/dtype.h"
#include "ops/quant/dequant.h"
#include "ops/quant/quantize.h"

namespace lc {

void kivi_quantize_group(const float* rows, int64_t head_dim, void* out) {
  auto* o = static_cast<uint8_t*>(out);
  float channel[kKiviGroup];
  for (int64_t c = 0; c < head_dim; ++c) {
    for (int64_t t = 0; t < kKiviGroup; ++t) channel[t] = rows[t * head_dim + c];
    ops::quant::quantize_row(DType::Q4_1, channel, o + c * 20, kKiviGroup);
  }
}

void kivi_decode_key(const void* grp, int64_t head_dim, int64_t t, float* out) {
  const auto* g = static_cast<const uint8_t*>(grp);
  for (int64_t c = 0; c < head_dim; ++c) {
    const uint8_t* blk = g + c * 20;
    uint16_t d, m;
    __builtin_memcpy(&d, blk, 2);
    __builtin_memcpy(&m, blk + 2, 2);
    const uint8_t byte = blk[4 + t % 16];
    const int u = t < 16 ? byte & 15 : byte >> 4;
    out[c] = f16_to_f32(d) * static_cast<float>(u) + f16_to_f32(m);
  }
}

}  // namespace lc
