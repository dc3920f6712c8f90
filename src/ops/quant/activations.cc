// Activation quantizers (one for every ISA: they are a K-element pass against the M x K pass of
// the product, and sharing them keeps the tables' inputs identical).
#include <cmath>
#include <cstring>

#include "ops/quant/kernels_internal.h"

namespace lc::ops::quant {
namespace {

// Round to nearest, ties to even, for |v| < 2^22 (the quantizers' |v| <= 127.5).
// Adding 1.5 * 2^23 leaves only the integer part in the float's last place (no -ffast-math here,
// so the compiler keeps both operations).
inline float round_even(float v) {
  constexpr float kBig = 12582912.0f;
  return (v + kBig) - kBig;
}

// v (a rounded level) as an int without undefined behaviour: a NaN (from a NaN activation) gives
// 0, as the SIMD conversion's low byte does.
inline int level(float v) { return v >= -128.0f && v <= 128.0f ? static_cast<int>(v) : 0; }

}  // namespace

void quantize_q8x_row(const float* x, int64_t k, void* out) {
  auto* y = static_cast<BlockQ8x*>(out);
  for (int64_t b = 0; b < k / 32; ++b) {
    const float* xb = x + b * 32;
    float amax = 0.0f;
    for (int i = 0; i < 32; ++i) amax = std::fmax(amax, std::fabs(xb[i]));
    const bool zero = !(amax >= kMinAmax);
    const float d = zero ? 0.0f : amax / 127.0f;
    const float id = zero ? 0.0f : 127.0f / amax;
    int sum = 0;
    for (int i = 0; i < 32; ++i) {
      const int q = level(round_even(xb[i] * id));
      y[b].qs[i] = static_cast<int8_t>(q);
      sum += q;
    }
    // d at fp16 precision, as llama.cpp's Q8_0 / Q8_1 blocks hold it; s exactly d * sum in f32
    // (llama.cpp rounds its s to fp16 as well, but the SIMD kernels fold Q4_0's and Q5_0's
    // offsets into -8 d_w s and -16 d_w s, which must equal the exact integer offset terms).
    y[b].d = f16_to_f32(f32_to_f16(d));
    y[b].s = y[b].d * static_cast<float>(sum);
  }
}

void quantize_q8k_row(const float* x, int64_t k, void* out) {
  auto* y = static_cast<BlockQ8K*>(out);
  for (int64_t b = 0; b < k / 256; ++b) {
    const float* xb = x + b * 256;
    float amax = 0.0f;
    for (int i = 0; i < 256; ++i) amax = std::fmax(amax, std::fabs(xb[i]));
    const bool zero = !(amax >= kMinAmax);
    const float iscale = zero ? 0.0f : 127.0f / amax;
    for (int i = 0; i < 256; ++i) {
      const float v = round_even(xb[i] * iscale);
      y[b].qs[i] = static_cast<int8_t>(v > 127.0f ? 127 : v < -127.0f ? -127 : level(v));
    }
    for (int g = 0; g < 16; ++g) {
      int s = 0;
      for (int i = 0; i < 16; ++i) s += y[b].qs[16 * g + i];
      y[b].bsums[g] = static_cast<int16_t>(s);
    }
    y[b].d = zero ? 0.0f : 1.0f / iscale;
  }
}

void quantize_rows(const QuantKernels& k, DType w, const float* X, int64_t ldx, int64_t N,
                   int64_t K, void* xq) {
  const QuantizeXFn f = k.quantize_for(w);
  const int64_t rb = x_row_bytes(w, K);
  for (int64_t n = 0; n < N; ++n) f(X + n * ldx, K, static_cast<uint8_t*>(xq) + n * rb);
}

}  // namespace lc::ops::quant
