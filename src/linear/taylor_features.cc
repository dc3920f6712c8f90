// The Taylor feature map (packed and full) and the recurrent state's storage.
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "linear/taylor.h"
#include "linear/taylor_block.h"

namespace lc {

namespace {

int64_t round_up16(int64_t x) { return (x + 15) / 16 * 16; }

}  // namespace

void taylor_feature_map(const float* x, int64_t f, float* phi) {
  taylor_detail::feature_map(x, f, taylor_detail::FeatureScales(f), phi);
}

void taylor_feature_map_full(const float* x, int64_t f, float* phi) {
  const taylor_detail::FeatureScales sc(f);
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
