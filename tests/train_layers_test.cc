// Finite-difference gradient checks for every training layer (src/train/layers.h), in double
// precision: the loss is L = sum(out * R) for a fixed random R, every input and parameter entry
// is perturbed by +-h (h = 1e-5, central differences, truncation error O(h^2) ~ 1e-10), and
//   rel_err = max_i |analytic_i - numeric_i| / max(max_i |numeric_i|, 1e-8)
// must stay below 1e-6 (the measured errors, printed, are ~1e-9 .. 1e-11). Shapes are small and
// odd (sequences of 5-7, GQA, windows shorter than the sequence, several sequences per batch).
// The float path (gemm_f32 kernels) is checked against the double path at training shapes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "train/layers.h"

namespace lc::train {
namespace {

using Vec = std::vector<double>;

Vec rand_vec(int64_t n, uint64_t seed, double scale = 1.0) {
  Rng r(seed);
  Vec v(static_cast<size_t>(n));
  for (double& x : v) x = scale * r.normal();
  return v;
}

double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

constexpr double kBound = 1e-6;

// Checks analytic against central differences of loss() over every entry of x.
double grad_error(Vec& x, const Vec& analytic, const std::function<double()>& loss,
                  double h = 1e-5) {
  EXPECT_EQ(x.size(), analytic.size());
  double max_diff = 0, max_num = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    x[i] = x0 + h;
    const double lp = loss();
    x[i] = x0 - h;
    const double lm = loss();
    x[i] = x0;
    const double num = (lp - lm) / (2 * h);
    max_diff = std::max(max_diff, std::abs(num - analytic[i]));
    max_num = std::max(max_num, std::abs(num));
  }
  return max_diff / std::max(max_num, 1e-8);
}

void report(const std::string& what, double err) {
  std::printf("[gradcheck] %-28s rel_err %.3e\n", what.c_str(), err);
  EXPECT_LT(err, kBound) << what;
}

TEST(TrainLayers, LinearGradients) {
  ThreadPool pool(2);
  const int64_t N = 7, K = 5, M = 3;
  Vec X = rand_vec(N * K, 1), W = rand_vec(M * K, 2), b = rand_vec(M, 3), R = rand_vec(N * M, 4);
  auto loss = [&] {
    Vec Y(N * M);
    linear_forward(pool, X.data(), N, K, W.data(), b.data(), M, Y.data());
    return dot(Y, R);
  };
  Vec dX(N * K), dW(M * K, 0.0), db(M, 0.0);
  std::vector<double> scratch;
  linear_backward(pool, X.data(), R.data(), N, K, W.data(), M, dX.data(), dW.data(), db.data(),
                  scratch);
  report("linear dX", grad_error(X, dX, loss));
  report("linear dW", grad_error(W, dW, loss));
  report("linear db", grad_error(b, db, loss));
}

TEST(TrainLayers, EmbeddingAndTiedHeadGradients) {
  ThreadPool pool(1);
  const int64_t N = 6, V = 5, d = 4;
  const std::vector<int> tok = {1, 3, 3, 0, 4, 1};
  Vec E = rand_vec(V * d, 5), R = rand_vec(N * V, 6);
  // Embedding followed by a tied LM head (logits = x E^T): E gets both gradients.
  auto loss = [&] {
    Vec X(N * d), Z(N * V);
    embedding_forward(tok.data(), N, E.data(), V, d, X.data());
    linear_forward(pool, X.data(), N, d, E.data(), static_cast<const double*>(nullptr), V,
                   Z.data());
    return dot(Z, R);
  };
  Vec X(N * d), dX(N * d), dE(V * d, 0.0);
  embedding_forward(tok.data(), N, E.data(), V, d, X.data());
  std::vector<double> scratch;
  linear_backward(pool, X.data(), R.data(), N, d, E.data(), V, dX.data(), dE.data(),
                  static_cast<double*>(nullptr), scratch);
  embedding_backward(tok.data(), N, dX.data(), d, dE.data());
  report("embedding+tied head dE", grad_error(E, dE, loss));
  const std::vector<int> bad = {0, 5};
  EXPECT_THROW(embedding_forward(bad.data(), 2, E.data(), V, d, X.data()), Error);
}

TEST(TrainLayers, RmsNormGradients) {
  ThreadPool pool(2);
  const int64_t N = 5, d = 7;
  Vec X = rand_vec(N * d, 7), w = rand_vec(d, 8, 0.5), R = rand_vec(N * d, 9);
  for (double& x : w) x += 1.0;
  auto loss = [&] {
    Vec Y(N * d), r(N);
    rmsnorm_forward(pool, X.data(), w.data(), N, d, 1e-5, Y.data(), r.data());
    return dot(Y, R);
  };
  Vec Y(N * d), r(N), dX(N * d, 0.0), dw(d, 0.0);
  rmsnorm_forward(pool, X.data(), w.data(), N, d, 1e-5, Y.data(), r.data());
  rmsnorm_backward(pool, X.data(), w.data(), r.data(), R.data(), N, d, dX.data(), dw.data());
  report("rmsnorm dX", grad_error(X, dX, loss));
  report("rmsnorm dw", grad_error(w, dw, loss));
}

// Attention with RoPE applied to q and k inside the loss (as the model does).
void check_attention(const AttnShape& s, bool rope, const std::string& name) {
  ThreadPool pool(2);
  const int64_t N = s.batch * s.seq, qd = s.n_heads * s.head_dim, kvd = s.n_kv_heads * s.head_dim;
  const int64_t ld = qd + 2 * kvd;
  Vec qkv = rand_vec(N * ld, 11), R = rand_vec(N * qd, 12);
  auto run = [&](Vec& x, Vec& out) {
    if (rope) {
      rope_rotate_half(pool, x.data(), ld, N, s.seq, s.n_heads, s.head_dim, 100.0, false);
      rope_rotate_half(pool, x.data() + qd, ld, N, s.seq, s.n_kv_heads, s.head_dim, 100.0, false);
    }
    attention_forward(pool, s, x.data(), x.data() + qd, x.data() + qd + kvd, ld, out.data());
  };
  auto loss = [&] {
    Vec x = qkv, out(N * qd);
    run(x, out);
    return dot(out, R);
  };
  Vec x = qkv, out(N * qd), d(N * ld);
  run(x, out);
  attention_backward(pool, s, x.data(), x.data() + qd, x.data() + qd + kvd, ld, out.data(),
                     R.data(), d.data(), d.data() + qd, d.data() + qd + kvd);
  if (rope) {
    rope_rotate_half(pool, d.data(), ld, N, s.seq, s.n_heads, s.head_dim, 100.0, true);
    rope_rotate_half(pool, d.data() + qd, ld, N, s.seq, s.n_kv_heads, s.head_dim, 100.0, true);
  }
  report(name, grad_error(qkv, d, loss));
}

TEST(TrainLayers, AttentionGradients) {
  AttnShape s;
  s.batch = 2;
  s.seq = 6;
  s.n_heads = 2;
  s.n_kv_heads = 2;
  s.head_dim = 4;
  check_attention(s, false, "attention full");
  check_attention(s, true, "attention full + rope");
  s.window = 3;
  check_attention(s, true, "attention window 3 + rope");
  s.window = 0;
  s.n_heads = 4;
  s.n_kv_heads = 2;
  s.seq = 5;
  check_attention(s, true, "attention gqa 4/2 + rope");
}

TEST(TrainLayers, TaylorGradients) {
  ThreadPool pool(2);
  TaylorShape s;
  s.batch = 2;
  s.seq = 6;
  s.n_heads = 2;
  s.feature_dim = 3;
  s.head_dim = 4;
  const int64_t N = s.batch * s.seq, qk = s.n_heads * s.feature_dim, vd = s.n_heads * s.head_dim;
  const int64_t ld = 2 * qk + vd;
  Vec x = rand_vec(N * ld, 13), R = rand_vec(N * vd, 14);
  auto loss = [&] {
    Vec out(N * vd);
    taylor_forward(pool, s, x.data(), x.data() + qk, x.data() + 2 * qk, ld, out.data());
    return dot(out, R);
  };
  Vec out(N * vd), d(N * ld);
  taylor_forward(pool, s, x.data(), x.data() + qk, x.data() + 2 * qk, ld, out.data());
  taylor_backward(pool, s, x.data(), x.data() + qk, x.data() + 2 * qk, ld, out.data(), R.data(),
                  d.data(), d.data() + qk, d.data() + 2 * qk);
  report("taylor linear attention", grad_error(x, d, loss));
}

TEST(TrainLayers, TaylorMatchesSpecGoldenExample) {
  // ../shared/specs/based.md golden example: f = 2, dv = 2, T = 3.
  ThreadPool pool(1);
  TaylorShape s;
  s.seq = 3;
  s.feature_dim = 2;
  s.head_dim = 2;
  const double q[] = {1, 0, 0.5, -1, 0, 2}, k[] = {0, 1, 1, 1, -1, 0.5},
               v[] = {1, 2, 0, -1, 3, 0.5};
  double out[6];
  taylor_forward(pool, s, q, k, v, 2, out);
  const double want[] = {1.0, 2.0, 0.433676, 0.301029, 1.056912, 0.5};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(out[i], want[i], 1e-6) << i;
}

TEST(TrainLayers, ConvGateGradients) {
  ThreadPool pool(2);
  const int64_t B = 2, T = 5, w = 3, N = B * T;
  Vec u = rand_vec(N * 2 * w, 15), kernel = rand_vec(w * 3, 16), R = rand_vec(N * w, 17);
  auto loss = [&] {
    Vec c(N * w), g(N * w);
    conv_gate_forward(pool, B, T, w, u.data(), kernel.data(), c.data(), g.data());
    return dot(g, R);
  };
  Vec c(N * w), g(N * w), du(N * 2 * w), dk(w * 3, 0.0);
  conv_gate_forward(pool, B, T, w, u.data(), kernel.data(), c.data(), g.data());
  conv_gate_backward(pool, B, T, w, u.data(), kernel.data(), c.data(), R.data(), du.data(),
                     dk.data());
  report("baseconv gate du", grad_error(u, du, loss));
  report("baseconv gate dkernel", grad_error(kernel, dk, loss));
}

TEST(TrainLayers, SwigluGradients) {
  ThreadPool pool(2);
  const int64_t N = 5, h = 4;
  Vec a = rand_vec(N * 2 * h, 18), R = rand_vec(N * h, 19);
  auto loss = [&] {
    Vec m(N * h);
    swiglu_forward(pool, a.data(), N, h, m.data());
    return dot(m, R);
  };
  Vec da(N * 2 * h);
  swiglu_backward(pool, a.data(), R.data(), N, h, da.data());
  report("swiglu", grad_error(a, da, loss));
}

TEST(TrainLayers, CrossEntropyGradients) {
  ThreadPool pool(2);
  const int64_t N = 6, V = 5;
  Vec z = rand_vec(N * V, 20, 2.0);
  const std::vector<int> labels = {2, kIgnoreLabel, 0, 4, kIgnoreLabel, 1};
  int64_t scored = 0;
  auto loss = [&] {
    return cross_entropy(pool, z.data(), labels.data(), N, V, (double*)nullptr, &scored);
  };
  Vec dz(N * V);
  const double l = cross_entropy(pool, z.data(), labels.data(), N, V, dz.data(), &scored);
  EXPECT_EQ(scored, 4);
  // The loss itself against a direct evaluation.
  double want = 0;
  for (int64_t n = 0; n < N; ++n) {
    if (labels[n] == kIgnoreLabel) continue;
    double s = 0;
    for (int64_t i = 0; i < V; ++i) s += std::exp(z[n * V + i]);
    want += std::log(s) - z[n * V + labels[n]];
  }
  EXPECT_NEAR(l, want / 4, 1e-12);
  report("cross-entropy", grad_error(z, dz, loss));
  const std::vector<int> bad(N, V);
  EXPECT_THROW(cross_entropy(pool, z.data(), bad.data(), N, V, dz.data(), &scored), Error);
}

// The float path (gemm_f32 / weighted_sum kernels, float accumulation; dW in chunks of 256 rows)
// against the double path (the transposing reference); bound ~ K * 2^-24 * |x||w| with margin.
TEST(TrainLayers, FloatLinearMatchesDouble) {
  ThreadPool pool(2);
  const int64_t N = 523, K = 129, M = 33;  // N: two full dW chunks of 256 and a tail
  Vec X = rand_vec(N * K, 21), W = rand_vec(M * K, 22), dY = rand_vec(N * M, 23);
  std::vector<float> Xf(X.begin(), X.end()), Wf(W.begin(), W.end()), dYf(dY.begin(), dY.end());
  Vec Y(N * M), dX(N * K), dW(M * K, 0.0), db(M, 0.0);
  std::vector<float> Yf(N * M), dXf(N * K), dWf(M * K, 0.0f), dbf(M, 0.0f);
  std::vector<double> sd;
  std::vector<float> sf;
  linear_forward(pool, X.data(), N, K, W.data(), (const double*)nullptr, M, Y.data());
  linear_forward(pool, Xf.data(), N, K, Wf.data(), (const float*)nullptr, M, Yf.data());
  linear_backward(pool, X.data(), dY.data(), N, K, W.data(), M, dX.data(), dW.data(), db.data(),
                  sd);
  linear_backward(pool, Xf.data(), dYf.data(), N, K, Wf.data(), M, dXf.data(), dWf.data(),
                  dbf.data(), sf);
  for (int64_t i = 0; i < N * M; ++i) ASSERT_NEAR(Yf[i], Y[i], 1e-4 * std::sqrt(double(K))) << i;
  for (int64_t i = 0; i < N * K; ++i) ASSERT_NEAR(dXf[i], dX[i], 1e-4 * std::sqrt(double(M))) << i;
  for (int64_t i = 0; i < M * K; ++i) ASSERT_NEAR(dWf[i], dW[i], 1e-4 * std::sqrt(double(N))) << i;
  for (int64_t i = 0; i < M; ++i) ASSERT_NEAR(dbf[i], db[i], 1e-4 * std::sqrt(double(N))) << i;
}

// The float SwiGLU (SIMD silu_mul, sigmoid as silu(g)/g away from 0) against the double path,
// over gates from -100 to 100 including 0 and +-1e-3 (the switch to the series).
TEST(TrainLayers, FloatSwigluMatchesDouble) {
  ThreadPool pool(2);
  const int64_t N = 3, h = 37;
  Vec a = rand_vec(N * 2 * h, 41, 3.0), dm = rand_vec(N * h, 42);
  const double special[] = {0.0, 1e-3, -1e-3, 9.99e-4, 1e-7, -30.0, 30.0, -100.0, 100.0};
  for (int i = 0; i < 9; ++i) a[h + i] = special[i];
  const std::vector<float> af(a.begin(), a.end()), dmf(dm.begin(), dm.end());
  Vec m(N * h), da(N * 2 * h);
  std::vector<float> mf(N * h), daf(N * 2 * h);
  swiglu_forward(pool, a.data(), N, h, m.data());
  swiglu_backward(pool, a.data(), dm.data(), N, h, da.data());
  swiglu_forward(pool, af.data(), N, h, mf.data());
  swiglu_backward(pool, af.data(), dmf.data(), N, h, daf.data());
  // A few float roundings of values of size |val| |gate| |dm| (<= ~100 here): relative 1e-6.
  for (int64_t i = 0; i < N * h; ++i) ASSERT_NEAR(mf[i], m[i], 1e-6 * (1 + std::abs(m[i]))) << i;
  for (int64_t i = 0; i < N * 2 * h; ++i)
    ASSERT_NEAR(daf[i], da[i], 1e-6 * (1 + std::abs(da[i]))) << i;
}

// RoPE at a size the pool splits (its cos/sin table lives on the calling thread), against the
// formula, and the inverse rotation undoes it.
TEST(TrainLayers, RopeParallelMatchesFormula) {
  ThreadPool pool(2);
  const int64_t seq = 256, N = 2 * seq, H = 4, hd = 32, half = hd / 2;
  const Vec x0 = rand_vec(N * H * hd, 51);
  std::vector<float> x(x0.begin(), x0.end());
  rope_rotate_half(pool, x.data(), H * hd, N, seq, H, hd, 10000.0, false);
  double max_err = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < half; ++i) {
        const double ang = static_cast<double>(n % seq) * std::pow(10000.0, -2.0 * i / hd);
        const double* a = x0.data() + (n * H + h) * hd;
        const float* y = x.data() + (n * H + h) * hd;
        max_err = std::max(max_err,
                           std::abs(y[i] - (a[i] * std::cos(ang) - a[i + half] * std::sin(ang))));
        max_err = std::max(
            max_err, std::abs(y[i + half] - (a[i] * std::sin(ang) + a[i + half] * std::cos(ang))));
      }
  EXPECT_LT(max_err, 1e-5);
  rope_rotate_half(pool, x.data(), H * hd, N, seq, H, hd, 10000.0, true);
  for (int64_t i = 0; i < N * H * hd; ++i) ASSERT_NEAR(x[i], x0[i], 1e-5) << i;
}

// max |a - b| / max(max |b|, 1).
template <typename A>
double norm_error(const std::vector<A>& a, const Vec& b) {
  double diff = 0, mag = 1;
  for (size_t i = 0; i < b.size(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - b[i]));
    mag = std::max(mag, std::abs(b[i]));
  }
  return diff / mag;
}

// The float attention (matrix-kernel path, attention_gemm.cc) against the double reference, over
// shapes around its row blocks of 32 (1, 31..33, 65, 70 rows), GQA, sliding windows and odd head
// dims; and bit-identical for 1 and 2 threads. Each output is a sum of <= seq float products,
// so the bound is c * seq * 2^-24 relative to the largest value (c = 2: margin for the softmax;
// the measured errors are ~0.05-0.5 of seq * 2^-24).
TEST(TrainLayers, FloatAttentionMatchesReference) {
  struct Case {
    int64_t batch, seq, n_heads, n_kv_heads, head_dim, window;
  };
  const Case cases[] = {{2, 1, 1, 1, 2, 0},   {2, 33, 4, 2, 8, 0},  {1, 31, 2, 2, 6, 0},
                        {1, 70, 2, 2, 40, 0}, {2, 65, 4, 1, 16, 7}, {1, 96, 3, 3, 10, 40},
                        {1, 256, 4, 4, 32, 0}};
  ThreadPool pool1(1), pool2(2);
  for (const Case& c : cases) {
    AttnShape s{c.batch, c.seq, c.n_heads, c.n_kv_heads, c.head_dim, c.window};
    const int64_t N = s.batch * s.seq, qd = s.n_heads * s.head_dim;
    const int64_t kvd = s.n_kv_heads * s.head_dim, ld = qd + 2 * kvd;
    const Vec x = rand_vec(N * ld, 31, 1.5), dout = rand_vec(N * qd, 32);
    Vec out(N * qd), d(N * ld);
    attention_forward_ref(pool2, s, x.data(), x.data() + qd, x.data() + qd + kvd, ld, out.data());
    attention_backward_ref(pool2, s, x.data(), x.data() + qd, x.data() + qd + kvd, ld, out.data(),
                           dout.data(), d.data(), d.data() + qd, d.data() + qd + kvd);
    const std::vector<float> xf(x.begin(), x.end()), doutf(dout.begin(), dout.end());
    std::vector<float> outf[2], df[2];
    ThreadPool* pools[2] = {&pool1, &pool2};
    for (int p = 0; p < 2; ++p) {
      outf[p].assign(N * qd, 0.0f);
      df[p].assign(N * ld, -1.0f);
      const float* q = xf.data();
      attention_forward(*pools[p], s, q, q + qd, q + qd + kvd, ld, outf[p].data());
      float* g = df[p].data();
      attention_backward(*pools[p], s, q, q + qd, q + qd + kvd, ld, outf[p].data(), doutf.data(), g,
                         g + qd, g + qd + kvd);
    }
    const std::string name = "attention b" + std::to_string(c.batch) + " T" +
                             std::to_string(c.seq) + " h" + std::to_string(c.n_heads) + "/" +
                             std::to_string(c.n_kv_heads) + " hd" + std::to_string(c.head_dim) +
                             " w" + std::to_string(c.window);
    const double bound = 2.0 * static_cast<double>(c.seq) * std::ldexp(1.0, -24);
    const double eo = norm_error(outf[1], out), ed = norm_error(df[1], d);
    std::printf("[float-vs-ref] %-32s out %.2e  grads %.2e  (bound %.2e)\n", name.c_str(), eo, ed,
                bound);
    EXPECT_LT(eo, bound) << name;
    EXPECT_LT(ed, bound) << name;
    EXPECT_EQ(outf[0], outf[1]) << name << ": 1 vs 2 threads";
    EXPECT_EQ(df[0], df[1]) << name << ": 1 vs 2 threads";
  }
}

}  // namespace
}  // namespace lc::train
