// BASED's sliding-window attention (src/attention/sliding_window.h) against a direct reference
// written from ../shared/specs/based.md, "Sliding-window attention layers": query i attends keys
// [i - window_size/2, i], rotate-half RoPE at absolute positions, scale 1/sqrt(head_dim). Streamed
// in pieces of every size (whole prefill, pure decode, mixed), so that prefill continues from the
// ring and decode wraps it many times, with a second layer interleaved.
#include "attention/sliding_window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>
#include <vector>

#include "attention_dense_reference.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/thread_pool.h"

namespace lc {
namespace {

// Rotate-half RoPE of one head at position p, in double (spec: pairs (x[c], x[c + hd/2]),
// angle p * theta^(-2c/hd)).
void rotate_half(double* x, int64_t hd, double p, double theta) {
  for (int64_t c = 0; c < hd / 2; ++c) {
    const double a = p * std::pow(theta, -2.0 * static_cast<double>(c) / static_cast<double>(hd));
    const double x0 = x[c], x1 = x[c + hd / 2];
    x[c] = x0 * std::cos(a) - x1 * std::sin(a);
    x[c + hd / 2] = x0 * std::sin(a) + x1 * std::cos(a);
  }
}

// The spec's window attention in double over rows q/k/v + t*ld, and the per-element error bound
// of an f32 implementation. First order, a logit error dl_j moves y_c by sum_j p_j dl_j (v_jc -
// y_c), and a relative error r in the value pass by r sum_j p_j |v_jc|. Logits are f32 dot
// products of hd rotated products plus RoPE, scale and max-subtraction roundings:
// dl_j <= (hd + 12) eps sum_c |q~_c k~_c| / sqrt(hd); the softmax adds (W + 4) eps relative to
// each p_j (exp, sum, division) and the value pass (W + 2) eps. We allow that plus one rounding.
struct WindowExpected {
  std::vector<double> y, bound;
};

WindowExpected window_reference(const SlidingWindowShape& s, const float* q, const float* k,
                                const float* v, int64_t ld, int64_t n) {
  const int64_t hd = s.head_dim, d = s.n_heads * hd, half_window = s.window_size / 2;
  const double eps = FLT_EPSILON;
  WindowExpected ex{std::vector<double>(n * d), std::vector<double>(n * d)};
  std::vector<double> qr(hd), kr(n * hd);
  for (int64_t h = 0; h < s.n_heads; ++h) {
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t c = 0; c < hd; ++c) kr[j * hd + c] = k[j * ld + h * hd + c];
      rotate_half(kr.data() + j * hd, hd, static_cast<double>(j), s.rope_theta);
    }
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t c = 0; c < hd; ++c) qr[c] = q[i * ld + h * hd + c];
      rotate_half(qr.data(), hd, static_cast<double>(i), s.rope_theta);
      const int64_t lo = std::max<int64_t>(0, i - half_window), nk = i - lo + 1;
      std::vector<double> logit(nk), dl(nk);
      double mx = -INFINITY, sum = 0;
      for (int64_t j = lo; j <= i; ++j) {
        double dot = 0, abs_dot = 0;
        for (int64_t c = 0; c < hd; ++c) {
          dot += qr[c] * kr[j * hd + c];
          abs_dot += std::fabs(qr[c] * kr[j * hd + c]);
        }
        logit[j - lo] = dot / std::sqrt(static_cast<double>(hd));
        dl[j - lo] =
            static_cast<double>(hd + 12) * eps * abs_dot / std::sqrt(static_cast<double>(hd)) +
            static_cast<double>(nk + 4) * eps;
        mx = std::max(mx, logit[j - lo]);
      }
      for (auto& l : logit) sum += (l = std::exp(l - mx));
      for (int64_t c = 0; c < hd; ++c) {
        double y = 0, abs_y = 0;
        for (int64_t j = lo; j <= i; ++j) {
          y += logit[j - lo] / sum * v[j * ld + h * hd + c];
          abs_y += logit[j - lo] / sum * std::fabs(v[j * ld + h * hd + c]);
        }
        double spread = 0;
        for (int64_t j = lo; j <= i; ++j)
          spread += logit[j - lo] / sum * dl[j - lo] * std::fabs(v[j * ld + h * hd + c] - y);
        ex.y[i * d + h * hd + c] = y;
        ex.bound[i * d + h * hd + c] =
            spread + static_cast<double>(nk + 2) * eps * abs_y + eps * std::fabs(y);
      }
    }
  }
  return ex;
}

struct WindowCase {
  int64_t n_heads, head_dim, window_size, block;
  int threads;
};

std::string describe(const WindowCase& c) {
  return "heads " + std::to_string(c.n_heads) + " hd " + std::to_string(c.head_dim) +
         " window_size " + std::to_string(c.window_size) + " block " + std::to_string(c.block) +
         " threads " + std::to_string(c.threads);
}

// Streams n tokens of layer 1 (of 2) through forward() in pieces of the given sizes (cycled),
// from a fused [n, 3d] qkv buffer; layer 0 gets other tokens interleaved, which must not
// disturb layer 1. Returns max error / bound over all rows (<= 1 passes; NaN = inf).
double stream_window(const WindowCase& c, int64_t n, const std::vector<int64_t>& pieces,
                     uint64_t seed) {
  const SlidingWindowShape s{c.n_heads, c.head_dim, c.window_size, 10000.0};
  const int64_t d = c.n_heads * c.head_dim, ld = 3 * d;
  Rng rng(seed);
  // Logits of a few units (q, k ~ 1.5 N(0,1)) so that a wrong key set or position shows.
  std::vector<float> qkv(n * ld), other(n * ld);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < ld; ++i) {
      qkv[t * ld + i] = (i < 2 * d ? 1.5f : 1.0f) * rng.normal();
      other[t * ld + i] = rng.normal();
    }
  const WindowExpected ex =
      window_reference(s, qkv.data(), qkv.data() + d, qkv.data() + 2 * d, ld, n);
  SlidingWindowAttention attn(s, 2, c.block, c.threads);
  ThreadPool pool(c.threads);
  std::vector<float> out(n * d, NAN), junk(n * d);
  for (int64_t t = 0, p = 0; t < n; ++p) {
    const int64_t len = std::min(pieces[p % pieces.size()], n - t);
    const float* row = qkv.data() + t * ld;
    attn.forward(pool, 1, row, row + d, row + 2 * d, ld, len, out.data() + t * d);
    const float* o = other.data() + t * ld;
    attn.forward(pool, 0, o, o + d, o + 2 * d, ld, len, junk.data());
    t += len;
    EXPECT_EQ(attn.position(1), t);
  }
  double worst = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const double r = std::fabs(out[i] - ex.y[i]) / ex.bound[i];
    if (!(r <= worst)) worst = std::isnan(r) ? INFINITY : r;
  }
  return worst;
}

TEST(SlidingWindow, MatchesSpecReferenceAcrossRingWrapAround) {
  const WindowCase cases[] = {
      {1, 2, 0, 1, 1},  {2, 8, 1, 1, 2},  {3, 6, 2, 4, 1},    {4, 12, 7, 3, 2},
      {2, 16, 8, 8, 3}, {5, 4, 16, 5, 2}, {2, 10, 32, 16, 1}, {4, 32, 12, 64, 2},
  };
  // Whole prefill, pure decode, and mixed piece sizes (some larger than the block).
  const std::vector<std::vector<int64_t>> piece_sets = {{1000}, {1}, {5, 1, 1, 13, 2, 1, 30, 1}};
  double worst = 0;
  for (const WindowCase& c : cases)
    for (size_t p = 0; p < piece_sets.size(); ++p) {
      const int64_t n = 3 * (c.window_size / 2 + c.block) + 17;  // the ring wraps several times
      const double r = stream_window(c, n, piece_sets[p], 17 * p + c.window_size);
      EXPECT_LE(r, 1.0) << describe(c) << " pieces set " << p;
      worst = std::max(worst, r);
    }
  std::printf("[ INFO     ] worst error / bound %.3g\n", worst);
}

// The spec's window [i - window_size/2, i] is the `window` policy with W = window_size/2 + 1: the
// independent dense reference of the attention tests (attention_dense_reference.h) agrees with
// the one above, and the decode ring has the spec's window_size/2 + 1 slots.
TEST(SlidingWindow, IsTheWindowPolicyWithHalfWindowPlusOne) {
  for (int64_t window_size : {0, 1, 2, 5, 8, 256}) {
    const SlidingWindowShape s{2, 8, window_size, 10000.0};
    SlidingWindowAttention decode_only(s, 1, 1, 1);
    EXPECT_EQ(decode_only.window(), window_size / 2 + 1);
    EXPECT_EQ(decode_only.ring_slots(), window_size / 2 + 1);
    EXPECT_EQ(SlidingWindowAttention(s, 1, 64, 1).ring_slots(), window_size / 2 + 64);
    if (window_size > 8) continue;
    const int64_t n = 23, d = 16;
    Rng rng(window_size + 1);
    std::vector<float> q(n * d), k(n * d), v(n * d);
    std::vector<std::vector<double>> qd(n), kd(n), vd(n);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t i = 0; i < d; ++i) {
        qd[t].push_back(q[t * d + i] = 1.5f * rng.normal());
        kd[t].push_back(k[t * d + i] = 1.5f * rng.normal());
        vd[t].push_back(v[t * d + i] = rng.normal());
      }
    std::vector<int64_t> pos(n);
    for (int64_t t = 0; t < n; ++t) pos[t] = t;
    const auto dense = test::dense_attention(
        test::DensePolicy{AttnPolicy::Window, 0, window_size / 2 + 1},
        test::DenseShape{2, 2, 8, 10000.0, ops::RopeStyle::RotateHalf}, pos, qd, kd, vd);
    const WindowExpected ex = window_reference(s, q.data(), k.data(), v.data(), d, n);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t i = 0; i < d; ++i)
        EXPECT_NEAR(dense[t][i], ex.y[t * d + i], 1e-12) << "window_size " << window_size;
  }
}

TEST(SlidingWindow, ResetStartsOver) {
  const SlidingWindowShape s{2, 4, 6, 10000.0};
  const int64_t n = 12, d = 8;
  Rng rng(3);
  std::vector<float> x(n * d);
  for (auto& a : x) a = rng.normal();
  SlidingWindowAttention attn(s, 1, 4, 1);
  ThreadPool pool(1);
  std::vector<float> first(n * d), second(n * d);
  attn.forward(pool, 0, x.data(), x.data(), x.data(), d, n, first.data());
  attn.reset();
  EXPECT_EQ(attn.position(0), 0);
  attn.forward(pool, 0, x.data(), x.data(), x.data(), d, n, second.data());
  EXPECT_EQ(first, second);  // the same operations on the same numbers
}

TEST(SlidingWindow, RejectsBadArguments) {
  EXPECT_THROW(SlidingWindowAttention(SlidingWindowShape{0, 8, 4}, 1, 1, 1), Error);
  EXPECT_THROW(SlidingWindowAttention(SlidingWindowShape{2, 7, 4}, 1, 1, 1), Error);
  EXPECT_THROW(SlidingWindowAttention(SlidingWindowShape{2, 8, -1}, 1, 1, 1), Error);
  EXPECT_THROW(SlidingWindowAttention(SlidingWindowShape{2, 8, 4}, 0, 1, 1), Error);
  EXPECT_THROW(SlidingWindowAttention(SlidingWindowShape{2, 8, 4}, 1, 0, 1), Error);
  SlidingWindowAttention attn(SlidingWindowShape{2, 8, 4}, 2, 4, 1);
  ThreadPool pool(2);
  std::vector<float> x(16), out(16);
  EXPECT_THROW(attn.forward(pool, 0, x.data(), x.data(), x.data(), 16, 1, out.data()), Error);
  ThreadPool one(1);
  EXPECT_THROW(attn.forward(one, 2, x.data(), x.data(), x.data(), 16, 1, out.data()), Error);
  EXPECT_THROW(attn.forward(one, 0, x.data(), x.data(), x.data(), 15, 1, out.data()), Error);
}

}  // namespace
}  // namespace lc
