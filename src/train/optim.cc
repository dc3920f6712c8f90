#include "train/optim.h"

#include <cmath>

#include "core/error.h"
#include "core/thread_pool.h"

namespace lc::train {

double lr_at(const AdamWConfig& c, int64_t step) {
  if (c.warmup_steps > 0 && step < c.warmup_steps)
    return c.lr * static_cast<double>(step + 1) / static_cast<double>(c.warmup_steps);
  const int64_t span = c.total_steps - c.warmup_steps;
  if (span <= 1) return c.lr;
  double p = static_cast<double>(step - c.warmup_steps) / static_cast<double>(span - 1);
  p = p < 0 ? 0 : p > 1 ? 1 : p;
  const double lo = c.lr * c.min_lr_ratio;
  return lo + 0.5 * (c.lr - lo) * (1.0 + std::cos(M_PI * p));
}

AdamW::AdamW(const AdamWConfig& c, const std::vector<ParamInfo>& params) : c_(c), params_(params) {
  check(c.lr > 0 && c.beta1 >= 0 && c.beta1 < 1 && c.beta2 >= 0 && c.beta2 < 1 && c.eps > 0 &&
            c.weight_decay >= 0,
        "adamw: lr must be > 0, betas in [0, 1), eps > 0, weight_decay >= 0");
  const int64_t n = params.empty() ? 0 : params.back().offset + params.back().numel;
  m_.resize(n);
  v_.resize(n);
}

StepInfo AdamW::step(ThreadPool& pool, float* w, float* g) {
  StepInfo info;
  info.lr = lr_at(c_, t_);
  ++t_;
  const int64_t n = static_cast<int64_t>(m_.size());
  double ss = 0;  // one thread, fixed order: the same norm for every thread count
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(g[i]) * g[i];
  info.grad_norm = std::sqrt(ss);
  const float clip = (c_.clip_norm > 0 && info.grad_norm > c_.clip_norm)
                         ? static_cast<float>(c_.clip_norm / info.grad_norm)
                         : 1.0f;
  const float lr = static_cast<float>(info.lr);
  const float b1 = static_cast<float>(c_.beta1), b2 = static_cast<float>(c_.beta2);
  const float bc1 = static_cast<float>(1.0 - std::pow(c_.beta1, static_cast<double>(t_)));
  const float bc2 = static_cast<float>(1.0 - std::pow(c_.beta2, static_cast<double>(t_)));
  const float eps = static_cast<float>(c_.eps);
  for (const ParamInfo& p : params_) {
    const float decay = p.decay ? 1.0f - lr * static_cast<float>(c_.weight_decay) : 1.0f;
    float* pw = w + p.offset;
    float* pg = g + p.offset;
    float* pm = m_.data() + p.offset;
    float* pv = v_.data() + p.offset;
    pool.parallel_for(p.numel, 4096, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const float gi = pg[i] * clip;
        pg[i] = gi;
        pm[i] = b1 * pm[i] + (1.0f - b1) * gi;
        pv[i] = b2 * pv[i] + (1.0f - b2) * gi * gi;
        const float mh = pm[i] / bc1, vh = pv[i] / bc2;
        pw[i] = pw[i] * decay - lr * mh / (std::sqrt(vh) + eps);
      }
    });
  }
  return info;
}

}  // namespace lc::train
