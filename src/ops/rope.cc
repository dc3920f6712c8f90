#include "ops/rope.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace lc::ops {

const char* rope_scaling_name(RopeScaling::Type t) {
  switch (t) {
    case RopeScaling::Type::None:
      return "none";
    case RopeScaling::Type::Linear:
      return "linear";
    case RopeScaling::Type::Llama3:
      return "llama3";
    case RopeScaling::Type::Yarn:
      return "yarn";
  }
  return "?";
}

RopeScaling::Type parse_rope_scaling(const std::string& name, const std::string& where) {
  if (name == "none" || name == "default") return RopeScaling::Type::None;
  if (name == "linear") return RopeScaling::Type::Linear;
  if (name == "llama3") return RopeScaling::Type::Llama3;
  if (name == "yarn") return RopeScaling::Type::Yarn;
  fail(where, ": rope scaling type '", name,
       "' is not supported (expected linear, llama3, yarn or none)");
}

namespace {

// Llama 3.1 (Meta's apply_scaling): wavelengths shorter than original_ctx / high_freq_factor
// keep their frequency, longer than original_ctx / low_freq_factor are divided by factor, and
// in between a linear ramp in original_ctx / wavelength mixes the two.
void llama3(std::vector<double>& f, const RopeScaling& s) {
  const double low_wavelen = s.original_ctx / s.low_freq_factor;
  const double high_wavelen = s.original_ctx / s.high_freq_factor;
  for (double& x : f) {
    const double wavelen = 2.0 * M_PI / x;
    if (wavelen < high_wavelen) continue;
    if (wavelen > low_wavelen) {
      x /= s.factor;
      continue;
    }
    const double smooth =
        (s.original_ctx / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
    x = (1.0 - smooth) * x / s.factor + smooth * x;
  }
}

double yarn_mscale(double factor, double mscale) {
  return factor <= 1.0 ? 1.0 : 0.1 * mscale * std::log(factor) + 1.0;
}

// YaRN: pair i rotates r_i = original_ctx * inv_freq[i] / 2pi times over the original context.
// Pairs with r above beta_fast keep their frequency (extrapolation), below beta_slow are
// divided by factor (interpolation), with a linear ramp in the pair index between the two
// correction dimensions (floored / ceiled, as the reference implementation does).
void yarn(std::vector<double>& f, int64_t head_dim, double theta, const RopeScaling& s) {
  const double d = static_cast<double>(head_dim);
  auto correction_dim = [&](double rotations) {
    return d * std::log(s.original_ctx / (rotations * 2.0 * M_PI)) / (2.0 * std::log(theta));
  };
  const double lo = std::max(std::floor(correction_dim(s.beta_fast)), 0.0);
  const double hi = std::min(std::ceil(correction_dim(s.beta_slow)), d - 1.0);
  const double span = hi == lo ? 0.001 : hi - lo;
  for (size_t i = 0; i < f.size(); ++i) {
    const double ramp = std::clamp((static_cast<double>(i) - lo) / span, 0.0, 1.0);
    const double extrapolate = 1.0 - ramp;
    f[i] = f[i] / s.factor * (1.0 - extrapolate) + f[i] * extrapolate;
  }
}

}  // namespace

double yarn_default_attention_factor(double factor) { return yarn_mscale(factor, 1.0); }

RopeFreqs::RopeFreqs(int64_t head_dim, double theta, const RopeScaling& s) : head_dim_(head_dim) {
  check(head_dim >= 2 && head_dim % 2 == 0, "rope: head_dim ", head_dim, " must be even");
  check(theta > 1.0, "rope: base theta ", theta, " must be > 1");
  inv_freq_.resize(static_cast<size_t>(head_dim / 2));
  for (int64_t i = 0; i < head_dim / 2; ++i)
    inv_freq_[static_cast<size_t>(i)] =
        std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
  if (s.type != RopeScaling::Type::None && !(s.factor > 0.0 && std::isfinite(s.factor)))
    fail("rope scaling ", rope_scaling_name(s.type), ": factor ", s.factor, " must be > 0");
  switch (s.type) {
    case RopeScaling::Type::None:
      break;
    case RopeScaling::Type::Linear:
      for (double& x : inv_freq_) x /= s.factor;
      break;
    case RopeScaling::Type::Llama3:
      if (!(s.original_ctx > 0) || !(s.low_freq_factor > 0) ||
          !(s.high_freq_factor > s.low_freq_factor))
        fail("rope scaling llama3: original_max_position_embeddings ", s.original_ctx,
             " must be > 0 and 0 < low_freq_factor ", s.low_freq_factor, " < high_freq_factor ",
             s.high_freq_factor);
      llama3(inv_freq_, s);
      break;
    case RopeScaling::Type::Yarn:
      if (!(s.original_ctx > 0) || !(s.beta_fast > 0) || !(s.beta_slow > 0))
        fail("rope scaling yarn: original context ", s.original_ctx, ", beta_fast ", s.beta_fast,
             " and beta_slow ", s.beta_slow, " must be > 0");
      yarn(inv_freq_, head_dim, theta, s);
      attention_factor_ =
          s.attention_factor > 0 ? s.attention_factor
          : s.mscale > 0 && s.mscale_all_dim > 0
              ? yarn_mscale(s.factor, s.mscale) / yarn_mscale(s.factor, s.mscale_all_dim)
              : yarn_mscale(s.factor, 1.0);
      break;
  }
  if (!s.freq_factors.empty()) {
    check(s.freq_factors.size() == inv_freq_.size(), "rope: ", s.freq_factors.size(),
          " frequency factors for ", inv_freq_.size(), " rotation pairs (head_dim / 2)");
    for (size_t i = 0; i < inv_freq_.size(); ++i) {
      const double ff = s.freq_factors[i];
      check(ff > 0 && std::isfinite(ff), "rope: frequency factor ", i, " is ", ff,
            " (expected a positive finite number)");
      inv_freq_[i] /= ff;
    }
  }
}

void RopeFreqs::angles(double pos, float* cos, float* sin) const {
  for (size_t i = 0; i < inv_freq_.size(); ++i) {
    const double angle = std::fmod(pos * inv_freq_[i], 2.0 * M_PI);
    cos[i] = static_cast<float>(std::cos(angle));
    sin[i] = static_cast<float>(std::sin(angle));
  }
}

}  // namespace lc::ops
