#include "attention/sliding_window.h"

#include <algorithm>
#include <cstring>

#include "attention/attention.h"
#include "attention/flash.h"
#include "attention/policy.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "ops/ops.h"

namespace lc {

namespace {

const SlidingWindowShape& checked(const SlidingWindowShape& s) {
  check(s.n_heads >= 1, "sliding-window attention: n_heads = ", s.n_heads, " must be >= 1");
  check(s.head_dim >= 2 && s.head_dim % 2 == 0, "sliding-window attention: head_dim = ", s.head_dim,
        " must be even and >= 2 (RoPE rotates pairs)");
  check(s.window_size >= 0, "sliding-window attention: window_size = ", s.window_size,
        " must be >= 0");
  check(s.rope_theta > 0, "sliding-window attention: rope_theta = ", s.rope_theta, " must be > 0");
  return s;
}

}  // namespace

SlidingWindowAttention::SlidingWindowAttention(const SlidingWindowShape& s, int64_t n_layers,
                                               int64_t block_tokens, int n_threads)
    : shape_(checked(s)), block_(block_tokens), n_threads_(std::max(1, n_threads)) {
  check(n_layers >= 1, "sliding-window attention: n_layers = ", n_layers, " must be >= 1");
  check(block_tokens >= 1, "sliding-window attention: block_tokens = ", block_tokens,
        " must be >= 1");
  const int64_t d = s.n_heads * s.head_dim;
  policy_ = make_window_policy(window(), block_tokens);
  policy_->set_kv_types(s.k_type, s.v_type);
  cache_ = KvCache(n_layers, s.n_heads, s.head_dim, policy_->geometry());
  pos_.assign(static_cast<size_t>(n_layers), 0);
  q_.resize(static_cast<size_t>(block_tokens * d));
  k_.resize(static_cast<size_t>(d));
  cos_.resize(static_cast<size_t>(s.head_dim / 2));
  sin_.resize(static_cast<size_t>(s.head_dim / 2));
  const AttentionShape shape{s.n_heads, s.n_heads, s.head_dim, nullptr};
  scratch_.resize(
      static_cast<size_t>(attention_row_scratch_floats(shape, cache_.capacity(), n_threads_)));
}

SlidingWindowAttention::~SlidingWindowAttention() = default;
SlidingWindowAttention::SlidingWindowAttention(SlidingWindowAttention&&) noexcept = default;
SlidingWindowAttention& SlidingWindowAttention::operator=(SlidingWindowAttention&&) noexcept =
    default;

size_t SlidingWindowAttention::bytes() const {
  return cache_.bytes() + q_.bytes() + k_.bytes() + cos_.bytes() + sin_.bytes() + scratch_.bytes();
}

void SlidingWindowAttention::reset() { std::fill(pos_.begin(), pos_.end(), 0); }

void SlidingWindowAttention::fill_random(int64_t n, uint64_t seed) {
  cache_.fill_random(n, seed);
  std::fill(pos_.begin(), pos_.end(), n);
}

void SlidingWindowAttention::forward(ThreadPool& pool, int64_t layer, const float* q,
                                     const float* k, const float* v, int64_t ld, int64_t n,
                                     float* out) {
  const int64_t hd = shape_.head_dim, d = shape_.n_heads * hd;
  check(layer >= 0 && layer < static_cast<int64_t>(pos_.size()), "sliding-window attention: layer ",
        layer, " out of range [0, ", pos_.size(), ")");
  check(n >= 0, "sliding-window attention: n = ", n, " tokens");
  check(ld >= d, "sliding-window attention: row stride ", ld, " < n_heads*head_dim = ", d);
  check(pool.size() <= n_threads_, "sliding-window attention: pool of ", pool.size(),
        " threads, scratch sized for ", n_threads_);
  const ops::KernelTable& K = ops::kernels();
  const AttentionShape shape{shape_.n_heads, shape_.n_heads, hd, nullptr};
  for (int64_t b0 = 0; b0 < n; b0 += block_) {
    const int64_t nb = std::min(block_, n - b0), pos0 = pos_[layer];
    for (int64_t i = 0; i < nb; ++i) {
      const int64_t row = b0 + i;
      float* qi = q_.data() + i * d;
      std::memcpy(qi, q + row * ld, sizeof(float) * d);
      std::memcpy(k_.data(), k + row * ld, sizeof(float) * d);
      if (shape_.rope) {
        ops::rope_angles(static_cast<double>(pos0 + i), hd, shape_.rope_theta, cos_.data(),
                         sin_.data());
        K.rope(qi, shape_.n_heads, hd, cos_.data(), sin_.data(), ops::RopeStyle::RotateHalf);
        K.rope(k_.data(), shape_.n_heads, hd, cos_.data(), sin_.data(), ops::RopeStyle::RotateHalf);
      }
      cache_store(cache_, layer, shape_.n_heads, pos0 + i, k_.data(), nullptr, v + row * ld);
    }
    // In pieces of fewer than kFlashMinRows rows: the row kernels, whose scratch is a few rows of
    // this small window. It is part of every sequence's state, and the tiled prefill kernel's
    // (attention/flash.h, ~100 KB) would be several times the rest of it.
    for (int64_t r = 0; r < nb; r += kFlashMinRows - 1) {
      const int64_t m = std::min(kFlashMinRows - 1, nb - r);
      attend_policy(pool, cache_, layer, shape, *policy_, q_.data() + r * d, nullptr, m, pos0 + r,
                    out + (b0 + r) * d, scratch_.data());
    }
    pos_[layer] += nb;
  }
}

}  // namespace lc
