#include "attention/kivi.h"

#include <cstring>

#include "core/dtype.h"
#include "ops/quant/quantize.h"

namespace lc {

namespace {
// One channel's 32 values as ggml's Q4_1 block (the weights' asymmetric quantizer).
struct Q4Block {
  uint16_t d, m;
  uint8_t qs[16];
};
static_assert(sizeof(Q4Block) == 20);
}  // namespace

void kivi_quantize_group(const float* rows, int64_t head_dim, void* out) {
  auto* d = static_cast<uint16_t*>(out);
  uint16_t* m = d + head_dim;
  uint8_t* nib = static_cast<uint8_t*>(out) + 4 * head_dim;
  float channel[kKiviGroup];
  for (int64_t c = 0; c < head_dim; ++c) {
    for (int64_t t = 0; t < kKiviGroup; ++t) channel[t] = rows[t * head_dim + c];
    Q4Block b;
    ops::quant::quantize_row(DType::Q4_1, channel, &b, kKiviGroup);
    d[c] = b.d;
    m[c] = b.m;
    std::memcpy(nib + c * 16, b.qs, 16);
  }
}

void kivi_decode_key(const void* grp, int64_t head_dim, int64_t t, float* out) {
  const auto* d = static_cast<const uint16_t*>(grp);
  const uint16_t* m = d + head_dim;
  const uint8_t* nib = static_cast<const uint8_t*>(grp) + 4 * head_dim;
  for (int64_t c = 0; c < head_dim; ++c) {
    const uint8_t byte = nib[c * 16 + t % 16];
    const int u = t < 16 ? byte & 15 : byte >> 4;
    out[c] = f16_to_f32(d[c]) * static_cast<float>(u) + f16_to_f32(m[c]);
  }
}

}  // namespace lc
