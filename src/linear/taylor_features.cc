// The Taylor feature map (packed and full) and the recurrent state's storage.
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "linear/taylor.h"

namespace lc {

namespace {

int64_t round_up16(int64_t x) { return (x + 15) / 16 * 16; }

// Scales of the three blocks of phi (spec): 1 / f^(1/4), 1 / (sqrt(2) sqrt(f)), and for the
// packed off-diagonal terms sqrt(2) times the latter, 1 / sqrt(f).
struct Scales {
  float lin, diag, off;
  explicit Scales(int64_t f)
      : lin(static_cast<float>(1.0 / std::pow(static_cast<double>(f), 0.25))),
        diag(static_cast<float>(1.0 / (std::sqrt(2.0) * std::sqrt(static_cast<double>(f))))),
        off(static_cast<float>(1.0 / std::sqrt(static_cast<double>(f)))) {}
};

}  // namespace

void taylor_feature_map(const float* x, int64_t f, float* phi) {
  const Scales sc(f);
  phi[0] = 1.0f;
  for (int64_t a = 0; a < f; ++a) phi[1 + a] = x[a] * sc.lin;
  float* p = phi + 1 + f;
  for (int64_t a = 0; a < f; ++a) {
    *p++ = x[a] * x[a] * sc.diag;
    for (int64_t b = a + 1; b < f; ++b) *p++ = x[a] * x[b] * sc.off;
  }
}

void taylor_feature_map_full(const float* x, int64_t f, float* phi) {
  const Scales sc(f);
  phi[0] = 1.0f;
  for (int64_t a = 0; a < f; ++a) phi[1 + a] = x[a] * sc.lin;
  for (int64_t a = 0; a < f; ++a)
    for (int64_t b = 0; b < f; ++b) phi[1 + f + a * f + b] = x[a] * x[b] * sc.diag;
}

TaylorState::TaylorState(const TaylorShape& s)
    : shape_(s),
      n_features_(taylor_features(s.feature_dim)),
      kz_stride_(round_up16(taylor_features(s.feature_dim))) {
  check(s.n_heads >= 1 && s.feature_dim >= 1 && s.head_dim >= 1,
        "linear attention: n_heads = ", s.n_heads, ", feature_dim = ", s.feature_dim,
        ", head_dim = ", s.head_dim, " must all be >= 1");
  kv_.resize(static_cast<size_t>(s.n_heads * n_features_ * s.head_dim));
  kz_.resize(static_cast<size_t>(s.n_heads * kz_stride_));
}

void TaylorState::reset() {
  if (kv_.size()) std::memset(kv_.data(), 0, kv_.bytes());
  if (kz_.size()) std::memset(kz_.data(), 0, kz_.bytes());
  tokens_ = 0;
}

}  // namespace lc
