// The K-quant block quantizers (Q2_K .. Q6_K), one 256-element super-block at a time, from
// ggml's reference algorithms (quantize.h): a scale (and min) per group found by a search, then
// the group scales quantized against the super-block's largest, then the quants recomputed from
// the scales as stored.
#include <cmath>
#include <cstring>

#include "ops/quant/quantize.h"
#include "ops/quant/quantize_internal.h"

namespace lc::ops::quant {
namespace {

int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

// make_qkx2: an asymmetric fit x ~ scale * L + min (L in [0, nmax], min <= 0) of n elements with
// weights w. Starts from the min-max fit, then tries nstep + 1 inverse scales
// (nmax + rmin + rdelta * is) / (max - min), refitting scale and min of each by weighted least
// squares, and keeps the fit of least weighted error (absolute when use_mad, else squared).
// Returns the scale; *neg_min = -min >= 0.
float make_qkx2(int n, int nmax, const float* x, const float* w, uint8_t* L, float* neg_min,
                float rmin, float rdelta, int nstep, bool use_mad) {
  float min = x[0], max = x[0];
  float sum_w = w[0], sum_x = w[0] * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (min > 0.0f) min = 0.0f;
  if (!(max > min)) {  // constant (or non-finite) group
    std::memset(L, 0, static_cast<size_t>(n));
    *neg_min = -min;
    return 0.0f;
  }
  auto error = [&](const uint8_t* l, float scale, float mn) {
    float e = 0.0f;
    for (int i = 0; i < n; ++i) {
      const float diff = scale * static_cast<float>(l[i]) + mn - x[i];
      e += w[i] * (use_mad ? std::fabs(diff) : diff * diff);
    }
    return e;
  };
  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1.0f / iscale;
  for (int i = 0; i < n; ++i)
    L[i] = static_cast<uint8_t>(clamp_int(nearest_int(iscale * (x[i] - min)), 0, nmax));
  float best_error = error(L, scale, min);
  uint8_t aux[32];
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
    float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = clamp_int(nearest_int(iscale * (x[i] - min)), 0, nmax);
      aux[i] = static_cast<uint8_t>(l);
      const float fl = static_cast<float>(l);
      sum_l += w[i] * fl;
      sum_l2 += w[i] * fl * fl;
      sum_xl += w[i] * fl * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (!(D > 0.0f)) continue;
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
    float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
    if (this_min > 0.0f) {  // the min is an offset below zero only
      this_min = 0.0f;
      this_scale = sum_xl / sum_l2;
    }
    const float e = error(aux, this_scale, this_min);
    if (e < best_error) {
      std::memcpy(L, aux, static_cast<size_t>(n));
      best_error = e;
      scale = this_scale;
      min = this_min;
    }
  }
  *neg_min = -min;
  return scale;
}

// The element of largest magnitude, with its sign.
float signed_absmax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  return max;
}

// make_q3: a symmetric fit x ~ scale * l, l in [-nmax, nmax - 1], weights x^2, starting from
// scale = max / -nmax (the largest element on the wider negative end); then up to 5 sweeps that
// move single elements to the level that increases (sum w x l)^2 / (sum w l^2), the weighted
// least-squares objective. Returns the scale; L = l + nmax.
float make_q3(int n, int nmax, const float* x, int8_t* L) {
  const float max = signed_absmax(x, n);
  if (std::fabs(max) < kGroupMaxEps) {
    std::memset(L, 0, static_cast<size_t>(n));
    return 0.0f;
  }
  const float iscale = -static_cast<float>(nmax) / max;
  float sumlx = 0.0f, suml2 = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  for (int sweep = 0; sweep < 5; ++sweep) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      const float li = static_cast<float>(L[i]);
      float slx = sumlx - w * x[i] * li;
      if (!(slx > 0.0f)) continue;
      float sl2 = suml2 - w * li * li;
      const int new_l = clamp_int(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
      if (new_l == L[i]) continue;
      slx += w * x[i] * static_cast<float>(new_l);
      sl2 += w * static_cast<float>(new_l) * static_cast<float>(new_l);
      if (sl2 > 0.0f && slx * slx * suml2 > sumlx * sumlx * sl2) {
        L[i] = static_cast<int8_t>(new_l);
        sumlx = slx;
        suml2 = sl2;
        ++changed;
      }
    }
    if (!changed) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// make_qx (weights x^2): a symmetric fit x ~ scale * l, l in [-nmax, nmax - 1]: the weighted
// least-squares refit of the rounding at each of 19 inverse scales -(nmax + 0.1 t) / max,
// t = -9..9, keeping the one of largest (sum w x l)^2 / (sum w l^2). Returns the scale;
// L = l + nmax.
float make_qx(int n, int nmax, const float* x, int8_t* L) {
  const float max = signed_absmax(x, n);
  if (std::fabs(max) < kGroupMaxEps) {
    std::memset(L, 0, static_cast<size_t>(n));
    return 0.0f;
  }
  auto fit = [&](float iscale, float* sumlx, float* suml2, int8_t* out) {
    *sumlx = *suml2 = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
      if (out) out[i] = static_cast<int8_t>(l + nmax);
      const float w = x[i] * x[i];
      *sumlx += w * x[i] * static_cast<float>(l);
      *suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
  };
  float sumlx, suml2;
  fit(-static_cast<float>(nmax) / max, &sumlx, &suml2, L);
  float scale = suml2 > 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int t = -9; t <= 9; ++t) {
    if (t == 0) continue;
    const float iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(t)) / max;
    fit(iscale, &sumlx, &suml2, nullptr);
    if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
      fit(iscale, &sumlx, &suml2, L);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Packs 2-bit values: byte l of each 32-byte half h holds elements 128 h + l + 32 k at bits 2k.
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < kQKK; j += 128)
    for (int l = 0; l < 32; ++l)
      qs[j / 4 + l] = static_cast<uint8_t>(L[j + l] | L[j + l + 32] << 2 | L[j + l + 64] << 4 |
                                           L[j + l + 96] << 6);
}

// Q4_K / Q5_K: the (scale, min) pair of group j as 6-bit values in the 12 packed bytes
// (blocks.h scale_min_k4 reads them back).
void pack_scale_min_k4(int j, int ls, int lm, uint8_t* q) {
  if (j < 4) {
    q[j] = static_cast<uint8_t>(ls);
    q[j + 4] = static_cast<uint8_t>(lm);
  } else {
    q[j + 4] = static_cast<uint8_t>((ls & 0xF) | (lm & 0xF) << 4);
    q[j - 4] = static_cast<uint8_t>(q[j - 4] | (ls >> 4) << 6);
    q[j] = static_cast<uint8_t>(q[j] | (lm >> 4) << 6);
  }
}

// Q4_K (nmax 15) and Q5_K (nmax 31): 8 groups of 32, each an asymmetric make_qkx2 fit with
// weights rms(group) + |x|; scales and mins as 6-bit multiples of d = max scale / 63 and
// dmin = max min / 63; then L recomputed from the stored values. L holds 0..nmax.
void k4_fit(const float* x, int nmax, float rmin, int nstep, uint16_t* d_out, uint16_t* dmin_out,
            uint8_t* packed, uint8_t* L) {
  constexpr int kGroups = kQKK / 32;
  float scales[kGroups], mins[kGroups], w[32];
  float max_scale = 0.0f, max_min = 0.0f;
  for (int j = 0; j < kGroups; ++j) {
    const float* xg = x + 32 * j;
    float sum_x2 = 0.0f;
    for (int l = 0; l < 32; ++l) sum_x2 += xg[l] * xg[l];
    const float av_x = std::sqrt(sum_x2 / 32.0f);
    for (int l = 0; l < 32; ++l) w[l] = av_x + std::fabs(xg[l]);
    scales[j] = make_qkx2(32, nmax, xg, w, L + 32 * j, &mins[j], rmin, 0.1f, nstep, false);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
  std::memset(packed, 0, 12);
  for (int j = 0; j < kGroups; ++j)
    pack_scale_min_k4(j, clamp_int(nearest_int(inv_scale * scales[j]), 0, 63),
                      clamp_int(nearest_int(inv_min * mins[j]), 0, 63), packed);
  *d_out = f32_to_f16(max_scale / 63.0f);
  *dmin_out = f32_to_f16(max_min / 63.0f);
  const float d = f16_to_f32(*d_out), dmin = f16_to_f32(*dmin_out);
  for (int j = 0; j < kGroups; ++j) {
    uint8_t sc, m;
    scale_min_k4(j, packed, &sc, &m);
    const float dl = d * static_cast<float>(sc);
    if (dl == 0.0f) continue;  // the group is all min: L from the fit is as good as any
    const float ml = dmin * static_cast<float>(m);
    for (int i = 0; i < 32; ++i)
      L[32 * j + i] =
          static_cast<uint8_t>(clamp_int(nearest_int((x[32 * j + i] + ml) / dl), 0, nmax));
  }
}

}  // namespace

// Q2_K: 16 groups of 16, each an asymmetric make_qkx2 fit (nmax 3) minimising the |x|-weighted
// absolute error; scale and min as 4-bit multiples of d = max scale / 15, dmin = max min / 15.
void quantize_block_q2_k(const float* x, BlockQ2K* y) {
  constexpr int kGroups = kQKK / 16;
  uint8_t L[kQKK];
  float scales[kGroups], mins[kGroups], w[16];
  float max_scale = 0.0f, max_min = 0.0f;
  for (int j = 0; j < kGroups; ++j) {
    for (int l = 0; l < 16; ++l) w[l] = std::fabs(x[16 * j + l]);
    scales[j] = make_qkx2(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], -0.5f, 0.1f, 15, true);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float is = max_scale > 0.0f ? 15.0f / max_scale : 0.0f;
  const float im = max_min > 0.0f ? 15.0f / max_min : 0.0f;
  for (int j = 0; j < kGroups; ++j)
    y->scales[j] = static_cast<uint8_t>(clamp_int(nearest_int(is * scales[j]), 0, 15) |
                                        clamp_int(nearest_int(im * mins[j]), 0, 15) << 4);
  y->d = f32_to_f16(max_scale / 15.0f);
  y->dmin = f32_to_f16(max_min / 15.0f);
  const float d = f16_to_f32(y->d), dmin = f16_to_f32(y->dmin);
  for (int j = 0; j < kGroups; ++j) {
    const float dl = d * static_cast<float>(y->scales[j] & 0xF);
    if (dl == 0.0f) continue;
    const float ml = dmin * static_cast<float>(y->scales[j] >> 4);
    for (int i = 0; i < 16; ++i)
      L[16 * j + i] = static_cast<uint8_t>(clamp_int(nearest_int((x[16 * j + i] + ml) / dl), 0, 3));
  }
  pack_2bit(L, y->qs);
}

// Q3_K: 16 groups of 16, each a signed make_q3 fit (levels -4..3); the scales as 6-bit signed
// multiples (l - 32, l in 0..63) of d = -s / 32, s the scale of largest magnitude; the third bit
// of each quant in hmask (element j: byte j % 32, bit j / 32; set means no -4 offset).
void quantize_block_q3_k(const float* x, BlockQ3K* y) {
  constexpr int kGroups = kQKK / 16;
  int8_t L[kQKK];
  float scales[kGroups];
  float max_scale = 0.0f, amax = 0.0f;
  for (int j = 0; j < kGroups; ++j) {
    scales[j] = make_q3(16, 4, x + 16 * j, L + 16 * j);
    if (std::fabs(scales[j]) > amax) {
      amax = std::fabs(scales[j]);
      max_scale = scales[j];
    }
  }
  std::memset(y->scales, 0, sizeof y->scales);
  if (max_scale != 0.0f) {
    const float iscale = -32.0f / max_scale;
    for (int j = 0; j < kGroups; ++j) {
      const int l = clamp_int(nearest_int(iscale * scales[j]), -32, 31) + 32;
      if (j < 8)
        y->scales[j] = static_cast<uint8_t>(l & 0xF);
      else
        y->scales[j - 8] = static_cast<uint8_t>(y->scales[j - 8] | (l & 0xF) << 4);
      y->scales[8 + j % 4] = static_cast<uint8_t>(y->scales[8 + j % 4] | (l >> 4) << (2 * (j / 4)));
    }
    y->d = f32_to_f16(1.0f / iscale);
  } else {
    y->d = f32_to_f16(0.0f);
  }
  int8_t sc[kGroups];
  scales_q3k(y->scales, sc);
  const float d = f16_to_f32(y->d);
  for (int j = 0; j < kGroups; ++j) {
    const float dl = d * static_cast<float>(sc[j] - 32);
    if (dl == 0.0f) continue;
    for (int i = 0; i < 16; ++i)
      L[16 * j + i] = static_cast<int8_t>(clamp_int(nearest_int(x[16 * j + i] / dl), -4, 3) + 4);
  }
  std::memset(y->hmask, 0, sizeof y->hmask);
  uint8_t low[kQKK];
  for (int j = 0; j < kQKK; ++j) {
    int l = L[j];
    if (l > 3) {
      y->hmask[j % 32] = static_cast<uint8_t>(y->hmask[j % 32] | 1 << (j / 32));
      l -= 4;
    }
    low[j] = static_cast<uint8_t>(l);
  }
  pack_2bit(low, y->qs);
}

// Q4_K: make_qkx2 with nmax 15, rmin -1, 20 steps; nibbles per 64-element chunk (group 2c in the
// low nibbles of its 32 bytes, group 2c + 1 in the high ones).
void quantize_block_q4_k(const float* x, BlockQ4K* y) {
  uint8_t L[kQKK];
  k4_fit(x, 15, -1.0f, 20, &y->d, &y->dmin, y->scales, L);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l)
      y->qs[32 * c + l] = static_cast<uint8_t>(L[64 * c + l] | L[64 * c + l + 32] << 4);
}

// Q5_K: make_qkx2 with nmax 31, rmin -0.5, 15 steps; low nibbles as Q4_K, the fifth bit of
// element l of group g at bit g of qh[l].
void quantize_block_q5_k(const float* x, BlockQ5K* y) {
  uint8_t L[kQKK];
  k4_fit(x, 31, -0.5f, 15, &y->d, &y->dmin, y->scales, L);
  std::memset(y->qh, 0, sizeof y->qh);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      const int a = L[64 * c + l], b = L[64 * c + l + 32];
      y->qs[32 * c + l] = static_cast<uint8_t>((a & 0xF) | (b & 0xF) << 4);
      y->qh[l] = static_cast<uint8_t>(y->qh[l] | (a >> 4) << (2 * c) | (b >> 4) << (2 * c + 1));
    }
}

// Q6_K: 16 groups of 16, each a signed make_qx fit (levels -32..31); the scales as int8
// multiples of d = -s / 128, s the scale of largest magnitude; 4 low bits in ql, 2 high in qh.
void quantize_block_q6_k(const float* x, BlockQ6K* y) {
  constexpr int kGroups = kQKK / 16;
  int8_t L[kQKK];
  float scales[kGroups];
  float max_scale = 0.0f, amax = 0.0f;
  for (int j = 0; j < kGroups; ++j) {
    scales[j] = make_qx(16, 32, x + 16 * j, L + 16 * j);
    if (std::fabs(scales[j]) > amax) {
      amax = std::fabs(scales[j]);
      max_scale = scales[j];
    }
  }
  std::memset(y, 0, sizeof *y);
  if (amax < kGroupMaxEps) return;  // all zero: d = 0
  const float iscale = -128.0f / max_scale;
  y->d = f32_to_f16(1.0f / iscale);
  for (int j = 0; j < kGroups; ++j)
    y->scales[j] = static_cast<int8_t>(clamp_int(nearest_int(iscale * scales[j]), -128, 127));
  const float d = f16_to_f32(y->d);
  for (int j = 0; j < kGroups; ++j) {
    const float dl = d * static_cast<float>(y->scales[j]);
    if (dl == 0.0f) continue;
    for (int i = 0; i < 16; ++i)
      L[16 * j + i] = static_cast<int8_t>(clamp_int(nearest_int(x[16 * j + i] / dl), -32, 31) + 32);
  }
  for (int half = 0; half < 2; ++half) {
    const int8_t* Lh = L + 128 * half;
    uint8_t* ql = y->ql + 64 * half;
    uint8_t* qh = y->qh + 32 * half;
    for (int l = 0; l < 32; ++l) {
      const int q1 = Lh[l], q2 = Lh[l + 32], q3 = Lh[l + 64], q4 = Lh[l + 96];
      ql[l] = static_cast<uint8_t>((q1 & 0xF) | (q3 & 0xF) << 4);
      ql[l + 32] = static_cast<uint8_t>((q2 & 0xF) | (q4 & 0xF) << 4);
      qh[l] = static_cast<uint8_t>(q1 >> 4 | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6);
    }
  }
}

}  // namespace lc::ops::quant
