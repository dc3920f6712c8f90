#include <cmath>
#include <cstring>
#include <vector>

#include "attention/attention.h"
#include "core/thread_pool.h"
#include "ops/ops.h"

namespace lc {

void attend_full(ThreadPool& pool, const KvCache& cache, int64_t layer, const AttentionShape& s,
                 const float* q, int64_t n_q, int64_t pos0, float* out, float* scratch) {
  const ops::KernelTable& K = ops::kernels();
  const int64_t hd = s.head_dim, q_dim = s.n_heads * hd, group = s.n_heads / s.n_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t cap = cache.capacity();
  // One work item per (query row, head); items are split evenly across threads.
  pool.run([&](int t, int nt) {
    int64_t b, e;
    ThreadPool::split_range(n_q * s.n_heads, 1, t, nt, &b, &e);
    float* scores = scratch + t * cap;
    for (int64_t item = b; item < e; ++item) {
      int64_t i = item / s.n_heads, h = item % s.n_heads, g = h / group;
      const float* qh = q + i * q_dim + h * hd;
      int64_t n_keys = pos0 + i + 1;
      for (int64_t j = 0; j < n_keys; ++j) scores[j] = K.dot(qh, cache.k(layer, j) + g * hd, hd) * scale;
      K.softmax(scores, n_keys);
      float* oh = out + i * q_dim + h * hd;
      std::memset(oh, 0, sizeof(float) * hd);
      for (int64_t j = 0; j < n_keys; ++j) K.axpy(scores[j], cache.v(layer, j) + g * hd, oh, hd);
    }
  });
}

void attend_full_reference(const KvCache& cache, int64_t layer, const AttentionShape& s,
                           const float* q, int64_t n_q, int64_t pos0, float* out) {
  const int64_t hd = s.head_dim, q_dim = s.n_heads * hd, group = s.n_heads / s.n_kv_heads;
  for (int64_t i = 0; i < n_q; ++i)
    for (int64_t h = 0; h < s.n_heads; ++h) {
      int64_t g = h / group, n_keys = pos0 + i + 1;
      std::vector<double> w(static_cast<size_t>(n_keys));
      double mx = -INFINITY;
      for (int64_t j = 0; j < n_keys; ++j) {
        double d = 0;
        for (int64_t c = 0; c < hd; ++c) d += static_cast<double>(q[i * q_dim + h * hd + c]) * cache.k(layer, j)[g * hd + c];
        w[j] = d / std::sqrt(static_cast<double>(hd));
        mx = std::fmax(mx, w[j]);
      }
      double sum = 0;
      for (auto& x : w) sum += (x = std::exp(x - mx));
      for (int64_t c = 0; c < hd; ++c) {
        double acc = 0;
        for (int64_t j = 0; j < n_keys; ++j) acc += w[j] / sum * cache.v(layer, j)[g * hd + c];
        out[i * q_dim + h * hd + c] = static_cast<float>(acc);
      }
    }
}

}  // namespace lc
