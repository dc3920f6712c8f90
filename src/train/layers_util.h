// Scalar helpers shared by the training layers (layers.cc, layers_mixers.cc): the dispatched
// SIMD kernels for float (those files are compiled for the baseline ISA), plain loops for double.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "ops/ops.h"

namespace lc::train::detail {

template <typename T>
T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// sum_i a[i] b[i] and y += alpha x.
template <typename T>
inline T vdot(const T* a, const T* b, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    return ops::kernels().dot(a, b, n);
  } else {
    T s = 0;
    for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
  }
}

template <typename T>
inline void vaxpy(T alpha, const T* x, T* y, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    ops::kernels().axpy(alpha, x, y, n);
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
  }
}

}  // namespace lc::train::detail
