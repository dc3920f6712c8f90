// BASED linear attention (src/linear/taylor.h; ../shared/specs/based.md, "Linear attention with
// the Taylor feature map"): the spec's golden example; phi(q) . phi(k) = 1 + s + s^2/2 for both
// packings; the four forms (double reference, f32 quadratic, chunked prefill, recurrent decode)
// against each other over seeded random shapes; prefill continued by decode or by more prefill.
//
// Tolerance, from the standard bound on float sums (as in ops_test.cc). Every fast form computes
// num_i = sum_j w_ij v_j and den_i = sum_j w_ij as sums whose terms, expanded over the features,
// are phi_d(q_i) phi_d(k_j) v_j: the state sums over at most n tokens, the readout over D
// features, s over f products, and phi itself has a few roundings. So with
//   wabs_ij = sum_d |phi_d(q_i) phi_d(k_j)| = 1 + t/sqrt(f) + t^2/(2f),  t = sum_a |q_ia k_ja|,
//   |d num_ic| <= K eps sum_j wabs_ij |v_jc|,   |d den_i| <= K eps sum_j wabs_ij,
//   K = n + D + f + 8,
// and y = num / den (den >= n/2 > 0) moves by at most (|d num| + |y| |d den|) / den. We allow
// that bound (about twice the gamma_K bound, eps = 2u) plus one rounding of y. Being linear in n
// it grows loose for long sequences, so results must also stay within the random-walk estimate
// (the same with sqrt(K) for K), which rounding errors of either sign meet with a wide margin.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "core/timer.h"
#include "linear/taylor.h"

namespace lc {
namespace {

struct Inputs {
  TaylorShape s;
  int64_t n;
  std::vector<float> q, k, v;
};

Inputs random_inputs(const TaylorShape& s, int64_t n, uint64_t seed, float qk_scale = 1.0f) {
  Rng rng(seed);
  Inputs in{s, n, {}, {}, {}};
  in.q.resize(n * s.n_heads * s.feature_dim);
  in.k.resize(n * s.n_heads * s.feature_dim);
  in.v.resize(n * s.n_heads * s.head_dim);
  for (auto& x : in.q) x = qk_scale * rng.normal();
  for (auto& x : in.k) x = qk_scale * rng.normal();
  for (auto& x : in.v) x = rng.normal();
  return in;
}

// The reference output (double, rounded to float) and the per-element error bound above.
struct Expected {
  std::vector<float> y;
  std::vector<double> bound;    // rigorous: K eps scale + eps |y|
  std::vector<double> typical;  // random-walk: sqrt(K) eps scale + eps |y|
};

Expected expected(const Inputs& in) {
  const TaylorShape& s = in.s;
  const int64_t f = s.feature_dim, dv = s.head_dim, qd = s.n_heads * f, vd = s.n_heads * dv;
  Expected ex{std::vector<float>(in.n * vd), std::vector<double>(in.n * vd),
              std::vector<double>(in.n * vd)};
  taylor_attention_reference(s, in.q.data(), in.k.data(), in.v.data(), in.n, ex.y.data());
  const double K = static_cast<double>(in.n + taylor_features(f) + f + 8);
  const double eps = FLT_EPSILON, sqf = std::sqrt(static_cast<double>(f));
  std::vector<double> wabs(in.n);
  for (int64_t h = 0; h < s.n_heads; ++h)
    for (int64_t i = 0; i < in.n; ++i) {
      double den = 0, wabs_sum = 0;
      for (int64_t j = 0; j <= i; ++j) {
        double dot = 0, t = 0;
        for (int64_t a = 0; a < f; ++a) {
          const double p = static_cast<double>(in.q[i * qd + h * f + a]) * in.k[j * qd + h * f + a];
          dot += p;
          t += std::fabs(p);
        }
        den += 1 + dot / sqf + dot * dot / (2 * f);
        wabs[j] = 1 + t / sqf + t * t / (2 * f);
        wabs_sum += wabs[j];
      }
      for (int64_t c = 0; c < dv; ++c) {
        const double y = ex.y[i * vd + h * dv + c];
        double num_bound = 0;
        for (int64_t j = 0; j <= i; ++j)
          num_bound += wabs[j] * std::fabs(in.v[j * vd + h * dv + c]);
        const double scale = (num_bound + std::fabs(y) * wabs_sum) / den;
        ex.bound[i * vd + h * dv + c] = K * eps * scale + eps * std::fabs(y);
        ex.typical[i * vd + h * dv + c] = std::sqrt(K) * eps * scale + eps * std::fabs(y);
      }
    }
  return ex;
}

// Largest |got - want| / bound (<= 1 passes); NaN counts as failure. typical: against the
// random-walk estimate instead of the rigorous bound.
double worst_ratio(const std::vector<float>& got, const Expected& ex, bool typical = false) {
  double worst = 0;
  const std::vector<double>& b = typical ? ex.typical : ex.bound;
  for (size_t i = 0; i < got.size(); ++i) {
    const double r = std::fabs(got[i] - ex.y[i]) / b[i];
    if (!(r <= worst)) worst = std::isnan(r) ? INFINITY : r;
  }
  return worst;
}

// Both checks; the random-walk one is what catches a dropped or doubled token in a long sequence,
// where the rigorous bound (linear in n) has grown loose.
void expect_close(const std::vector<float>& got, const Expected& ex, const std::string& what) {
  EXPECT_LE(worst_ratio(got, ex), 1.0) << what;
  EXPECT_LE(worst_ratio(got, ex, true), 1.0) << what << " (random-walk estimate)";
}

double max_rel_err(const std::vector<float>& got, const std::vector<float>& want) {
  double mx = 0, d = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    mx = std::max(mx, static_cast<double>(std::fabs(want[i])));
    d = std::max(d, static_cast<double>(std::fabs(got[i] - want[i])));
  }
  return d / std::max(mx, 1e-30);
}

// The three fast forms over a fresh sequence.
std::vector<float> run_chunked(ThreadPool& pool, const Inputs& in, int64_t chunk) {
  TaylorState st(in.s);
  std::vector<float> scratch(taylor_scratch_floats(in.s, chunk, pool.size()));
  std::vector<float> out(in.n * in.s.n_heads * in.s.head_dim, NAN);
  taylor_prefill(pool, st, in.q.data(), in.k.data(), in.v.data(), in.n, chunk, out.data(),
                 scratch.data());
  EXPECT_EQ(st.tokens(), in.n);
  return out;
}

std::vector<float> run_recurrent(ThreadPool& pool, const Inputs& in) {
  TaylorState st(in.s);
  std::vector<float> scratch(taylor_scratch_floats(in.s, 1, pool.size()));
  const int64_t qd = in.s.n_heads * in.s.feature_dim, vd = in.s.n_heads * in.s.head_dim;
  std::vector<float> out(in.n * vd, NAN);
  for (int64_t t = 0; t < in.n; ++t)
    taylor_decode(pool, st, in.q.data() + t * qd, in.k.data() + t * qd, in.v.data() + t * vd,
                  out.data() + t * vd, scratch.data());
  return out;
}

std::vector<float> run_quadratic(ThreadPool& pool, const Inputs& in) {
  std::vector<float> out(in.n * in.s.n_heads * in.s.head_dim, NAN);
  taylor_quadratic(pool, in.s, in.q.data(), in.k.data(), in.v.data(), in.n, out.data());
  return out;
}

std::string describe(const TaylorShape& s, int64_t n, int64_t chunk, int threads) {
  return "H " + std::to_string(s.n_heads) + " f " + std::to_string(s.feature_dim) + " dv " +
         std::to_string(s.head_dim) + " n " + std::to_string(n) + " chunk " +
         std::to_string(chunk) + " threads " + std::to_string(threads);
}

// --- Spec golden example (f = 2, dv = 2, T = 3) ----------------------------------------------

const float kGq[] = {1, 0, 0.5f, -1, 0, 2};
const float kGk[] = {0, 1, 1, 1, -1, 0.5f};
const float kGv[] = {1, 2, 0, -1, 3, 0.5f};
const float kGy[] = {1.0f, 2.0f, 0.433676f, 0.301029f, 1.056912f, 0.5f};

TEST(LinearTaylor, GoldenFeatureMap) {
  float phi[7];
  taylor_feature_map_full(kGq, 2, phi);
  const float want[7] = {1, 0.840896f, 0, 0.5f, 0, 0, 0};
  for (int d = 0; d < 7; ++d) EXPECT_NEAR(phi[d], want[d], 1e-5) << "phi(q_0)[" << d << "]";
  // Packed: [1, x/f^(1/4), x0^2 / 2, x0 x1 / sqrt(2), x1^2 / 2].
  float packed[6];
  ASSERT_EQ(taylor_features(2), 6);
  taylor_feature_map(kGq, 2, packed);
  const float want_packed[6] = {1, 0.840896f, 0, 0.5f, 0, 0};
  for (int d = 0; d < 6; ++d) EXPECT_NEAR(packed[d], want_packed[d], 1e-5) << "packed " << d;
}

TEST(LinearTaylor, GoldenOutputAllForms) {
  const TaylorShape s{1, 2, 2};
  Inputs in{s, 3, {kGq, kGq + 6}, {kGk, kGk + 6}, {kGv, kGv + 6}};
  ThreadPool pool(1);
  std::vector<float> ref(6);
  taylor_attention_reference(s, kGq, kGk, kGv, 3, ref.data());
  auto check = [&](const std::vector<float>& y, const char* what) {
    for (int i = 0; i < 6; ++i)
      EXPECT_NEAR(y[i], kGy[i], 1e-5) << what << " y[" << i / 2 << "][" << i % 2 << "]";
  };
  check(ref, "reference");
  check(run_quadratic(pool, in), "quadratic");
  check(run_recurrent(pool, in), "recurrent");
  for (int64_t chunk : {1, 2, 3, 64}) check(run_chunked(pool, in, chunk), "chunked");
}

// --- The kernel identity ----------------------------------------------------------------------

TEST(LinearTaylor, FeatureDotIsThePolynomialForBothPackings) {
  Rng rng(11);
  for (int64_t f : {1, 2, 3, 5, 16, 17}) {
    ASSERT_EQ(taylor_features(f), 1 + f + f * (f + 1) / 2);
    ASSERT_EQ(taylor_features_full(f), 1 + f + f * f);
    std::vector<float> x(f), y(f), px(taylor_features(f)), py(px.size());
    std::vector<float> fx(taylor_features_full(f)), fy(fx.size());
    for (int rep = 0; rep < 20; ++rep) {
      for (auto& a : x) a = 1.5f * rng.normal();
      for (auto& a : y) a = 1.5f * rng.normal();
      taylor_feature_map(x.data(), f, px.data());
      taylor_feature_map(y.data(), f, py.data());
      taylor_feature_map_full(x.data(), f, fx.data());
      taylor_feature_map_full(y.data(), f, fy.data());
      double dot = 0, t = 0, packed = 0, full = 0;
      for (int64_t a = 0; a < f; ++a) {
        dot += static_cast<double>(x[a]) * y[a];
        t += std::fabs(static_cast<double>(x[a]) * y[a]);
      }
      const double s = dot / std::sqrt(static_cast<double>(f));
      const double want = 1 + s + s * s / 2;
      for (size_t d = 0; d < px.size(); ++d) packed += static_cast<double>(px[d]) * py[d];
      for (size_t d = 0; d < fx.size(); ++d) full += static_cast<double>(fx[d]) * fy[d];
      // Each feature carries <= 3 float roundings (product, product, scale): 6 eps of wabs.
      const double wabs = 1 + t / std::sqrt(static_cast<double>(f)) + t * t / (2.0 * f);
      EXPECT_NEAR(packed, want, 6 * FLT_EPSILON * wabs) << "f " << f;
      EXPECT_NEAR(full, want, 6 * FLT_EPSILON * wabs) << "f " << f;
    }
  }
}

// --- The forms against each other -------------------------------------------------------------

TEST(LinearTaylor, AllFormsMatchReferenceOverRandomShapes) {
  const TaylorShape shapes[] = {{1, 1, 1},  {2, 2, 3},   {3, 16, 24},
                                {4, 5, 17}, {1, 16, 64}, {5, 3, 8}};
  const int64_t lengths[] = {1, 2, 7, 31, 63, 64, 65, 130};
  const int64_t chunks[] = {1, 3, 16, 64, 100};
  double worst = 0, worst_typ = 0, worst_rel = 0;
  int idx = 0;
  for (const TaylorShape& s : shapes)
    for (int64_t n : lengths) {
      const int threads = 1 + idx % 3;
      ThreadPool pool(threads);
      const Inputs in = random_inputs(s, n, 1000 + idx);
      const Expected ex = expected(in);
      auto check = [&](const std::vector<float>& got, const std::string& what) {
        expect_close(got, ex, what);
        worst = std::max(worst, worst_ratio(got, ex));
        worst_typ = std::max(worst_typ, worst_ratio(got, ex, true));
        worst_rel = std::max(worst_rel, max_rel_err(got, ex.y));
      };
      for (int64_t chunk : chunks)
        check(run_chunked(pool, in, chunk), "chunked " + describe(s, n, chunk, threads));
      check(run_recurrent(pool, in), "recurrent " + describe(s, n, 1, threads));
      check(run_quadratic(pool, in), "quadratic " + describe(s, n, 0, threads));
      ++idx;
    }
  std::printf("[ INFO     ] worst error / bound %.3g, / random-walk estimate %.3g, relative %.3g\n",
              worst, worst_typ, worst_rel);
}

// Long enough that the state accumulates thousands of tokens; sharper attention (|s| up to ~6).
TEST(LinearTaylor, LongSequenceMatchesReference) {
  const TaylorShape s{2, 16, 16};
  ThreadPool pool(2);
  const Inputs in = random_inputs(s, 1500, 77, 1.4f);
  const Expected ex = expected(in);
  for (int64_t chunk : {64, 37}) {
    const auto got = run_chunked(pool, in, chunk);
    expect_close(got, ex, "chunk " + std::to_string(chunk));
    std::printf(
        "[ INFO     ] n 1500 chunk %lld: relative error %.3g, error / bound %.3g, / "
        "random-walk estimate %.3g\n",
        static_cast<long long>(chunk), max_rel_err(got, ex.y), worst_ratio(got, ex),
        worst_ratio(got, ex, true));
  }
  expect_close(run_recurrent(pool, in), ex, "recurrent");
  expect_close(run_quadratic(pool, in), ex, "quadratic");
}

// --- Continuing a sequence --------------------------------------------------------------------

// Prefill of the first n0 tokens, then one decode per remaining token; or prefill in two pieces.
// Either must equal the whole-sequence reference (the state after a prefill is built from phi(k)).
TEST(LinearTaylor, DecodeAfterPrefillAndPrefillInPieces) {
  const TaylorShape s{3, 16, 20};
  const int64_t n = 75, qd = s.n_heads * s.feature_dim, vd = s.n_heads * s.head_dim;
  const Inputs in = random_inputs(s, n, 5);
  const Expected ex = expected(in);
  for (int threads : {1, 2})
    for (int64_t chunk : {8, 16, 64})
      for (int64_t n0 : {1, 15, 16, 17, 40, 74}) {
        ThreadPool pool(threads);
        const std::string what = describe(s, n, chunk, threads) + " split " + std::to_string(n0);
        std::vector<float> scratch(taylor_scratch_floats(s, chunk, threads));
        // Prefill then decode.
        TaylorState st(s);
        std::vector<float> out(n * vd, NAN);
        taylor_prefill(pool, st, in.q.data(), in.k.data(), in.v.data(), n0, chunk, out.data(),
                       scratch.data());
        for (int64_t t = n0; t < n; ++t)
          taylor_decode(pool, st, in.q.data() + t * qd, in.k.data() + t * qd, in.v.data() + t * vd,
                        out.data() + t * vd, scratch.data());
        EXPECT_EQ(st.tokens(), n);
        expect_close(out, ex, "prefill + decode " + what);
        // Two prefills; then reset() and a whole prefill must start from scratch.
        std::fill(out.begin(), out.end(), NAN);
        st.reset();
        EXPECT_EQ(st.tokens(), 0);
        taylor_prefill(pool, st, in.q.data(), in.k.data(), in.v.data(), n0, chunk, out.data(),
                       scratch.data());
        taylor_prefill(pool, st, in.q.data() + n0 * qd, in.k.data() + n0 * qd,
                       in.v.data() + n0 * vd, n - n0, chunk, out.data() + n0 * vd, scratch.data());
        expect_close(out, ex, "prefill + prefill " + what);
      }
}

TEST(LinearTaylor, ResetForgetsAndEmptyPrefillIsANoOp) {
  const TaylorShape s{2, 4, 6};
  ThreadPool pool(2);
  const Inputs a = random_inputs(s, 20, 1), b = random_inputs(s, 13, 2);
  std::vector<float> scratch(taylor_scratch_floats(s, 8, 2));
  TaylorState st(s);
  std::vector<float> out_a(20 * 12), out_b(13 * 12);
  taylor_prefill(pool, st, a.q.data(), a.k.data(), a.v.data(), 20, 8, out_a.data(), scratch.data());
  st.reset();
  taylor_prefill(pool, st, nullptr, nullptr, nullptr, 0, 8, nullptr, scratch.data());
  taylor_prefill(pool, st, b.q.data(), b.k.data(), b.v.data(), 13, 8, out_b.data(), scratch.data());
  expect_close(out_b, expected(b), "after reset");
  EXPECT_EQ(st.tokens(), 13);
}

TEST(LinearTaylor, RejectsBadArguments) {
  EXPECT_THROW(TaylorState(TaylorShape{0, 16, 64}), Error);
  EXPECT_THROW(TaylorState(TaylorShape{2, 0, 64}), Error);
  EXPECT_THROW(TaylorState(TaylorShape{2, 16, 0}), Error);
  EXPECT_THROW(taylor_scratch_floats(TaylorShape{2, 16, 64}, 0, 1), Error);
  TaylorState st(TaylorShape{1, 2, 2});
  ThreadPool pool(1);
  std::vector<float> scratch(taylor_scratch_floats(st.shape(), 4, 1)), out(6);
  EXPECT_THROW(taylor_prefill(pool, st, kGq, kGk, kGv, 3, 0, out.data(), scratch.data()), Error);
  EXPECT_THROW(taylor_prefill(pool, st, kGq, kGk, kGv, -1, 4, out.data(), scratch.data()), Error);
  TaylorState empty;
  EXPECT_THROW(taylor_prefill(pool, empty, kGq, kGk, kGv, 3, 4, out.data(), scratch.data()), Error);
}

// --- Timing (not run by default: --gtest_also_run_disabled_tests) -----------------------------

// Chunked prefill vs the f32 quadratic form at BASED's shape (H = 16, f = 16, dv = 64) on 2
// threads, after checking that they agree. Prints medians and min..max; asserts nothing on time.
TEST(LinearTaylor, DISABLED_TimingChunkedVsQuadratic) {
  const TaylorShape s{16, 16, 64};
  ThreadPool pool(2);
  auto median = [](std::vector<double> t) {
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
  };
  for (int64_t n : {4096, 16384}) {
    const Inputs in = random_inputs(s, n, 42, 0.7f);
    const int64_t vd = s.n_heads * s.head_dim;
    const std::vector<float> quad = run_quadratic(pool, in);
    for (int64_t chunk : {32, 64, 128}) {
      TaylorState st(s);
      std::vector<float> scratch(taylor_scratch_floats(s, chunk, pool.size()));
      std::vector<float> out(n * vd);
      std::vector<double> times;
      for (int rep = 0; rep < 6; ++rep) {
        st.reset();
        const double t0 = now_seconds();
        taylor_prefill(pool, st, in.q.data(), in.k.data(), in.v.data(), n, chunk, out.data(),
                       scratch.data());
        if (rep > 0) times.push_back(now_seconds() - t0);  // rep 0: warm-up
      }
      const double err = max_rel_err(out, quad);
      EXPECT_LT(err, 1e-4) << "chunk " << chunk;
      std::printf(
          "[ TIMING   ] n %6lld chunked C=%-3lld median %8.1f ms (min %.1f, max %.1f), "
          "%.2f us/token; max rel diff vs quadratic %.2g\n",
          static_cast<long long>(n), static_cast<long long>(chunk), 1e3 * median(times),
          1e3 * *std::min_element(times.begin(), times.end()),
          1e3 * *std::max_element(times.begin(), times.end()), 1e6 * median(times) / n, err);
      if (chunk != 64) continue;
      // Decode continuing the prefilled state.
      const int64_t qd = s.n_heads * s.feature_dim, steps = 512;
      const double t0 = now_seconds();
      for (int64_t i = 0; i < steps; ++i)
        taylor_decode(pool, st, in.q.data() + i * qd, in.k.data() + i * qd, in.v.data() + i * vd,
                      out.data(), scratch.data());
      std::printf("[ TIMING   ] n %6lld decode after prefill: %.2f us/token\n",
                  static_cast<long long>(n), 1e6 * (now_seconds() - t0) / steps);
    }
    std::vector<double> times;
    std::vector<float> out(n * vd);
    for (int rep = 0; rep < 3; ++rep) {
      const double t0 = now_seconds();
      taylor_quadratic(pool, s, in.q.data(), in.k.data(), in.v.data(), n, out.data());
      times.push_back(now_seconds() - t0);
    }
    std::printf("[ TIMING   ] n %6lld quadratic     median %8.1f ms (min %.1f, max %.1f)\n",
                static_cast<long long>(n), 1e3 * median(times),
                1e3 * *std::min_element(times.begin(), times.end()),
                1e3 * *std::max_element(times.begin(), times.end()));
  }
}

}  // namespace
}  // namespace lc
