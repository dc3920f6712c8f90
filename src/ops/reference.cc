#include "ops/reference.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <vector>

#include "ops/quant/dequant.h"

namespace lc::ops::ref {

float load(const void* W, DType t, int64_t i) {
  switch (t) {
    case DType::F32:
      return static_cast<const float*>(W)[i];
    case DType::BF16:
      return bf16_to_f32(static_cast<const uint16_t*>(W)[i]);
    case DType::F16:
      return f16_to_f32(static_cast<const uint16_t*>(W)[i]);
    default:
      return quant::dequantize_one(t, W, i);
  }
}

void gemm(const void* W, DType t, int64_t K, const float* X, int64_t ldx, int64_t N, float* Y,
          int64_t ldy, int64_t m0, int64_t m1) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = m0; m < m1; ++m) {
      double acc = 0.0;
      for (int64_t k = 0; k < K; ++k)
        acc += static_cast<double>(X[n * ldx + k]) * load(W, t, m * K + k);
      Y[n * ldy + m] = static_cast<float>(acc);
    }
}

void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  double ss = 0.0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  double scale = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(x[i] * scale * w[i]);
}

void layernorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  double mean = 0.0, var = 0.0;
  for (int64_t i = 0; i < n; ++i) mean += x[i];
  mean /= static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  const double scale = 1.0 / std::sqrt(var / static_cast<double>(n) + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>((x[i] - mean) * scale * w[i]);
}

void gelu(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    x[i] = static_cast<float>(0.5 * v * std::erfc(-v / std::sqrt(2.0)));  // = v * Phi(v)
  }
}

void softmax(float* x, int64_t n) {
  float mx = x[0];
  for (int64_t i = 1; i < n; ++i) mx = std::fmax(mx, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(x[i]) - mx);
  for (int64_t i = 0; i < n; ++i)
    x[i] = static_cast<float>(std::exp(static_cast<double>(x[i]) - mx) / sum);
}

void silu_mul(float* a, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    double v = a[i];
    a[i] = static_cast<float>(v / (1.0 + std::exp(-v)) * b[i]);
  }
}

void gelu_tanh_mul(float* a, const float* b, int64_t n) {
  // x/2 * (1 + tanh(u)) written as x / (1 + exp(-2u)), an exact identity: 1 + tanh(u) cancels
  // to nothing for x < -5 even in double (tanh(u) = -1 + 1e-15), while the quotient keeps full
  // relative precision everywhere.
  const double k = std::sqrt(2.0 / std::numbers::pi);
  for (int64_t i = 0; i < n; ++i) {
    const double x = a[i], u = k * (x + 0.044715 * x * x * x);
    a[i] = static_cast<float>(x / (1.0 + std::exp(-2.0 * u)) * b[i]);
  }
}

float dot(const float* a, const float* b, int64_t n) {
  double acc = 0.0;
  for (int64_t i = 0; i < n; ++i) acc += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(acc);
}

void axpy(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void weighted_sum(const float* p, int64_t ldp, int64_t n_rows, const float* v, int64_t ldv,
                  int64_t n_keys, int64_t d_cols, float* out, int64_t ldo) {
  for (int64_t r = 0; r < n_rows; ++r)
    for (int64_t d = 0; d < d_cols; ++d) {
      double acc = 0.0;
      for (int64_t j = 0; j < n_keys; ++j)
        acc += static_cast<double>(p[r * ldp + j]) * v[j * ldv + d];
      out[r * ldo + d] = static_cast<float>(acc);
    }
}

void gemm_tn(const float* A, int64_t lda, const float* B, int64_t ldb, int64_t N, int64_t K,
             float* C, int64_t ldc, int64_t m0, int64_t m1) {
  for (int64_t m = m0; m < m1; ++m)
    for (int64_t k = 0; k < K; ++k) {
      double acc = 0.0;
      for (int64_t n = 0; n < N; ++n) acc += static_cast<double>(A[n * lda + m]) * B[n * ldb + k];
      C[m * ldc + k] = static_cast<float>(C[m * ldc + k] + acc);
    }
}

void rope(float* x, int64_t n_heads, int64_t head_dim, const float* cos, const float* sin,
          RopeStyle style) {
  int64_t half = head_dim / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* v = x + h * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      int64_t a = style == RopeStyle::AdjacentPairs ? 2 * i : i;
      int64_t b = style == RopeStyle::AdjacentPairs ? 2 * i + 1 : i + half;
      double x0 = v[a], x1 = v[b];
      v[a] = static_cast<float>(x0 * cos[i] - x1 * sin[i]);
      v[b] = static_cast<float>(x0 * sin[i] + x1 * cos[i]);
    }
  }
}

void flash_tile(const FlashTile& t) {
  for (int64_t i = 0; i < t.ldm; ++i) {
    std::vector<double> s(static_cast<size_t>(t.nk));
    double m = t.mx[i];
    for (int64_t j = 0; j < t.nk; ++j) {
      double x = 0;
      for (int64_t d = 0; d < t.hd; ++d)
        x += static_cast<double>(t.qt[d * t.ldm + i]) * load(t.k, t.kt, j * t.hd + d);
      s[j] = x + (t.bias ? t.bias[j * t.ldm + i] : 0.0);
      m = std::max(m, s[j]);
    }
    const double alpha = std::exp(t.mx[i] - m);
    double sum = 0;
    for (double& x : s) sum += (x = std::exp(x - m));
    for (int64_t d = 0; d < t.hd; ++d) {
      double acc = alpha * t.ot[d * t.ldm + i];
      for (int64_t j = 0; j < t.nk; ++j) acc += s[j] * load(t.v, t.vt, j * t.hd + d);
      t.ot[d * t.ldm + i] = static_cast<float>(acc);
    }
    t.l[i] = static_cast<float>(alpha * t.l[i] + sum);
    t.mx[i] = static_cast<float>(m);
  }
}

}  // namespace lc::ops::ref
