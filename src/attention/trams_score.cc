#include "attention/trams_score.h"

#include <cmath>

#include "core/error.h"
#include "ops/reference.h"

namespace lc {

TramsLayerWeights trams_layer_weights(const ops::WeightView& wq, int64_t n_heads,
                                      int64_t head_dim) {
  check(wq.rows == n_heads * head_dim, "TRAMS: W_Q has ", wq.rows, " rows, expected ",
        n_heads * head_dim);
  TramsLayerWeights w;
  w.n_heads = n_heads;
  w.head_dim = head_dim;
  w.d_model = wq.cols;
  const int64_t d = wq.cols, q_dim = n_heads * head_dim;
  std::vector<double> rows(static_cast<size_t>(q_dim * d));  // W_Q dequantised
  for (int64_t r = 0; r < q_dim; ++r)
    for (int64_t c = 0; c < d; ++c) rows[r * d + c] = ops::ref::load(wq.row(r), wq.dtype, c);
  w.u.assign(static_cast<size_t>(q_dim), 0.0);
  w.gram.assign(static_cast<size_t>(n_heads * head_dim * head_dim), 0.0);
  for (int64_t r = 0; r < q_dim; ++r)
    for (int64_t c = 0; c < d; ++c) w.u[r] += rows[r * d + c];
  for (int64_t h = 0; h < n_heads; ++h)
    for (int64_t a = 0; a < head_dim; ++a)
      for (int64_t b = 0; b <= a; ++b) {
        const double* ra = rows.data() + (h * head_dim + a) * d;
        const double* rb = rows.data() + (h * head_dim + b) * d;
        double s = 0;
        for (int64_t c = 0; c < d; ++c) s += ra[c] * rb[c];
        w.gram[(h * head_dim + a) * head_dim + b] = w.gram[(h * head_dim + b) * head_dim + a] = s;
      }
  return w;
}

void trams_scores(const TramsLayerWeights& w, TramsScore kind, int64_t n_kv_heads, const float* k,
                  float* out) {
  const int64_t hd = w.head_dim, group = w.n_heads / n_kv_heads;
  const double inv_sqrt_d = 1.0 / std::sqrt(static_cast<double>(w.d_model));
  for (int64_t g = 0; g < n_kv_heads; ++g) {
    const float* kg = k + g * hd;
    double best = -INFINITY;
    for (int64_t h = g * group; h < (g + 1) * group; ++h) {
      const double* u = w.u.data() + h * hd;
      double sum = 0;  // sum_d K'[d] = <u_h, k>
      for (int64_t a = 0; a < hd; ++a) sum += u[a] * kg[a];
      double s;
      if (kind == TramsScore::Paper) {
        s = sum * inv_sqrt_d;
      } else {
        const double* G = w.gram.data() + h * hd * hd;
        double norm2 = 0;  // |K'|^2 = k^T G k
        for (int64_t a = 0; a < hd; ++a) {
          double r = 0;
          for (int64_t b = 0; b < hd; ++b) r += G[a * hd + b] * kg[b];
          norm2 += kg[a] * r;
        }
        s = std::sqrt(std::fmax(norm2, 0.0)) * std::fabs(sum);
      }
      best = std::fmax(best, s);
    }
    out[g] = static_cast<float>(best);
  }
}

}  // namespace lc
