// The spec's definition read literally, in double: for every query the explicit causal row of
// weights 1 + s + s^2/2 (s = q . k / sqrt(f)), then the normalised weighted sum of values.
#include <cmath>
#include <vector>

#include "core/error.h"
#include "linear/taylor.h"

namespace lc {

void taylor_attention_reference(const TaylorShape& s, const float* q, const float* k,
                                const float* v, int64_t n, float* out) {
  check(n >= 0 && s.n_heads >= 1 && s.feature_dim >= 1 && s.head_dim >= 1,
        "linear attention (reference): bad shape or n = ", n);
  const int64_t f = s.feature_dim, dv = s.head_dim;
  const int64_t qd = s.n_heads * f, vd = s.n_heads * dv;
  std::vector<double> num(static_cast<size_t>(dv));
  for (int64_t h = 0; h < s.n_heads; ++h)
    for (int64_t i = 0; i < n; ++i) {
      double den = 0;
      for (auto& x : num) x = 0;
      for (int64_t j = 0; j <= i; ++j) {
        double dot = 0;
        for (int64_t a = 0; a < f; ++a)
          dot += static_cast<double>(q[i * qd + h * f + a]) * k[j * qd + h * f + a];
        const double sc = dot / std::sqrt(static_cast<double>(f));
        const double w = 1.0 + sc + sc * sc / 2.0;
        den += w;
        for (int64_t c = 0; c < dv; ++c) num[c] += w * v[j * vd + h * dv + c];
      }
      for (int64_t c = 0; c < dv; ++c)
        out[i * vd + h * dv + c] = static_cast<float>(num[c] / (den + 1e-12));
    }
}

}  // namespace lc
