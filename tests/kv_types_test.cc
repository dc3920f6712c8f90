// KV-cache element types (attention/kv_types.h): the bf16/f16 value-pass and the q8_0 score and
// value kernels per ISA against their references; row conversions; the policy kernel over a typed
// cache against the same policy over an f32 cache holding the very same (rounded) values -- every
// policy, GQA, odd blocks, ring wrap-around, decode after prefill; flags, labels and errors.
#include "attention/kv_types.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "attention/attention.h"
#include "attention/parse.h"
#include "attention/policy.h"
#include "core/cpu.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "ops/ops.h"
#include "ops/reference.h"
#include "policy_cases.h"
#include "policy_tokens.h"

namespace lc {
namespace {

std::vector<Isa> isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512})
    if (isa_supported(isa)) out.push_back(isa);
  return out;
}

// Rows of n elements of t holding x rounded to t; x is replaced by the rounded values.
std::vector<uint8_t> encode_rows(DType t, std::vector<float>& x, int64_t n) {
  const int64_t rows = static_cast<int64_t>(x.size()) / n, rb = kv_row_bytes(t, n);
  std::vector<uint8_t> out(static_cast<size_t>(rows * rb));
  for (int64_t r = 0; r < rows; ++r) {
    kv_encode(t, x.data() + r * n, out.data() + r * rb, n);
    kv_decode(t, out.data() + r * rb, x.data() + r * n, n);
  }
  return out;
}

TEST(KvTypes, TypedWeightedSumMatchesReferencePerIsa) {
  Rng rng(5);
  for (Isa isa : isas())
    for (DType t : {DType::BF16, DType::F16})
      for (int64_t rows : {1, 3, 5})
        for (int64_t keys : {0, 1, 7, 70})
          for (int64_t cols : {7, 32, 64, 65}) {
            SCOPED_TRACE(testing::Message() << isa_name(isa) << " " << dtype_name(t) << " rows "
                                            << rows << " keys " << keys << " cols " << cols);
            const int64_t ldp = keys + 3, ldo = cols + 2;
            std::vector<float> p(rows * ldp), v(keys * cols), out(rows * ldo, -7.0f),
                want(rows * ldo, -7.0f);
            for (float& x : p) x = rng.uniform();
            for (float& x : v) x = rng.normal();
            std::vector<uint8_t> vt = encode_rows(t, v, cols);
            const ops::KernelTable& K = ops::kernels_for(isa);
            (t == DType::BF16 ? K.weighted_sum_bf16 : K.weighted_sum_f16)(
                p.data(), ldp, rows, vt.data(), cols, keys, cols, out.data(), ldo);
            ops::ref::weighted_sum(p.data(), ldp, rows, v.data(), cols, keys, cols, want.data(),
                                   ldo);
            for (int64_t r = 0; r < rows; ++r)
              for (int64_t d = 0; d < ldo; ++d) {
                double mag = 0;
                for (int64_t j = 0; j < keys; ++j)
                  mag += std::fabs(p[r * ldp + j] * v[j * cols + d % cols]);
                ASSERT_NEAR(out[r * ldo + d], want[r * ldo + d], 1e-6 * (keys + 1) * mag + 1e-30)
                    << "r " << r << " d " << d;
              }
          }
}

TEST(KvTypes, Q8ScoresAndValuesMatchTheReferencePerIsa) {
  Rng rng(6);
  for (Isa isa : isas())
    for (int64_t hd : {32, 64, 96, 128})
      for (int64_t group : {1, 3, 4, 5, 9})
        for (int64_t n : {0, 1, 3, 4, 7, 70}) {
          SCOPED_TRACE(testing::Message()
                       << isa_name(isa) << " hd " << hd << " group " << group << " n " << n);
          const ops::KernelTable& K = ops::kernels_for(isa);
          // Keys / values as stored (rounded to q8_0; one all-zero block: scale 0), queries and
          // probabilities in f32.
          std::vector<float> k(n * hd), v(n * hd), q(group * hd), p(group * (n + 2));
          for (float& x : k) x = 2.0f * rng.normal();
          for (float& x : v) x = rng.normal();
          for (float& x : q) x = rng.normal();
          for (float& x : p) x = rng.uniform();
          if (n > 2)
            for (int64_t c = 0; c < 32; ++c) k[2 * hd + c] = v[2 * hd + c] = 0.0f;
          const std::vector<uint8_t> kq = encode_rows(DType::Q8_0, k, hd);
          const std::vector<uint8_t> vq = encode_rows(DType::Q8_0, v, hd);
          const int64_t ld = n + 2, ldo = hd + 3;
          std::vector<float> scores(group * ld, -7.0f), out(group * ldo, -7.0f);
          K.q8_scores(kq.data(), hd, q.data(), group, scores.data(), ld, n);
          K.q8_weighted_sum(p.data(), ld, group, vq.data(), hd, n, out.data(), ldo);
          // Entry i < used of a row: sum over t < terms of a(t) * b(t) in double, to f32's
          // rounding of a sum of `terms` products; entries past `used` untouched.
          auto check_row = [](const float* got, int64_t width, int64_t used, int64_t terms, auto a,
                              auto b) {
            for (int64_t i = 0; i < width; ++i) {
              if (i >= used) {
                ASSERT_EQ(got[i], -7.0f) << i;
                continue;
              }
              double want = 0, mag = 0;
              for (int64_t t = 0; t < terms; ++t) {
                want += static_cast<double>(a(t)) * b(i, t);
                mag += std::fabs(static_cast<double>(a(t)) * b(i, t));
              }
              ASSERT_NEAR(got[i], want, 1e-6 * (terms + 1) * mag + 1e-30) << i;
            }
          };
          for (int64_t h = 0; h < group; ++h) {
            SCOPED_TRACE(testing::Message() << "head " << h);
            check_row(
                scores.data() + h * ld, ld, n, hd, [&](int64_t c) { return q[h * hd + c]; },
                [&](int64_t j, int64_t c) { return k[j * hd + c]; });
            check_row(
                out.data() + h * ldo, ldo, hd, n, [&](int64_t j) { return p[h * ld + j]; },
                [&](int64_t d, int64_t j) { return v[j * hd + d]; });
          }
        }
}

TEST(KvTypes, RowsRoundTripWithinTheTypesPrecision) {
  Rng rng(7);
  std::vector<float> x(64);
  for (float& v : x) v = rng.normal();
  float amax = 0;
  for (float v : x) amax = std::fmax(amax, std::fabs(v));
  struct Bound {
    DType t;
    double rel, abs;
  };
  // bf16: 8 significant bits; f16: 11; q8_0: half a step of amax/127 per block of 32 (+ the
  // f16 rounding of the scale).
  for (const Bound& b :
       {Bound{DType::F32, 0, 0}, Bound{DType::BF16, 1.0 / 256, 0},
        Bound{DType::F16, 1.0 / 2048, 1e-7}, Bound{DType::Q8_0, 1.0 / 1024, amax / 127.0 * 0.5}}) {
    std::vector<uint8_t> row(static_cast<size_t>(kv_row_bytes(b.t, 64)));
    std::vector<float> back(64);
    kv_encode(b.t, x.data(), row.data(), 64);
    kv_decode(b.t, row.data(), back.data(), 64);
    for (int i = 0; i < 64; ++i)
      ASSERT_NEAR(back[i], x[i], b.rel * std::fabs(x[i]) + b.abs) << dtype_name(b.t) << " " << i;
  }
  EXPECT_EQ(kv_row_bytes(DType::BF16, 64), 128);
  EXPECT_EQ(kv_row_bytes(DType::Q8_0, 64), 68);
}

struct TypedCase {
  AttentionConfig cfg;
  int64_t heads, kv_heads, hd, block;
  int threads;
};

// Streams n tokens (blocks of c.block; then single-token decode steps for the last `decode`)
// through cache_store + attend_policy into a cache of types (kt, vt) and, with the same values
// rounded to those types, into an f32 cache; returns the largest difference of the outputs. q4
// values are exact while the typed cache holds them in its residual (KvCache::value_exact): the
// f32 cache then gets them unrounded.
double typed_vs_rounded(const TypedCase& c, DType kt, DType vt, int64_t n, int64_t decode,
                        uint64_t seed) {
  const int64_t hd = c.hd;
  AttentionConfig typed_cfg = c.cfg;
  typed_cfg.k_type = kt;
  typed_cfg.v_type = vt;
  PolicyContext pc{64, n, c.block};
  auto p32 = make_policy(c.cfg, pc);
  auto pt = make_policy(typed_cfg, pc);
  const ops::RopeFreqs rope(hd, 10000.0);
  KvCache c32(2, c.kv_heads, hd, p32->geometry()), ct(2, c.kv_heads, hd, pt->geometry());
  const AttentionShape shape{c.heads, c.kv_heads, hd, nullptr, &rope};
  ThreadPool pool(c.threads);
  std::vector<float> scratch(std::max(attention_scratch_floats(shape, *pt, c.threads),
                                      attention_scratch_floats(shape, ct.capacity(), c.threads)));
  std::vector<int64_t> idx(std::max<int64_t>(1, attention_scratch_indices(shape, *pt, c.threads)));
  test::PolicyTokens tk(c.heads, c.kv_heads, hd, c.block, seed);
  // Per slot of the typed cache: the value it was last given, exact and rounded ([slot][g][hd]).
  const int64_t vrow = c.kv_heads * hd;
  std::vector<float> exact(ct.capacity() * vrow), rounded(exact.size());
  double max_err = 0;
  for (int64_t r0 = 0; r0 < n;) {
    const int64_t nb = r0 >= n - decode ? 1 : std::min(c.block, n - decode - r0);
    for (int64_t b = 0; b < nb; ++b) {
      const int64_t pos = r0 + b;
      tk.next(*pt, b, pos);
      cache_store(ct, 1, c.kv_heads, pos, tk.k.data(), tk.kr.data(), tk.v.data(), tk.scores.data());
      // The f32 cache gets the values the typed cache holds.
      std::vector<float> k2 = tk.k, kr2 = tk.kr, v2 = tk.v;
      encode_rows(kt, k2, hd);
      encode_rows(kt, kr2, hd);
      encode_rows(vt, v2, hd);
      // A lagged middle store takes position pos - lag from its slot now: the typed one as it is
      // stored there (rounded), so the f32 cache's slot gets the rounded value back first.
      const int64_t lag = c32.geometry().middle_lag;
      if (ct.value_residual() && lag > 0 && pos >= lag)
        for (int64_t g = 0, old = ct.slot(pos - lag); g < c.kv_heads; ++g)
          c32.store_v(1, g, old, rounded.data() + old * vrow + g * hd);
      cache_store(c32, 1, c.kv_heads, pos, k2.data(), kr2.data(), v2.data(), tk.scores.data());
      std::copy(tk.v.begin(), tk.v.end(), exact.begin() + ct.slot(pos) * vrow);
      std::copy(v2.begin(), v2.end(), rounded.begin() + ct.slot(pos) * vrow);
    }
    if (ct.value_residual())
      for (int64_t s = 0; s < ct.capacity(); ++s)
        for (int64_t g = 0; g < c.kv_heads; ++g)
          c32.store_v(1, g, s,
                      (ct.value_exact(1, g, s) ? exact : rounded).data() + s * vrow + g * hd);
    test::attend_and_compare(pool, shape, tk, r0, nb, ct, *pt, c32, *p32, scratch.data(),
                             idx.data(), &max_err);
    r0 += nb;
  }
  return max_err;
}

TEST(KvTypes, EveryPolicyOverATypedCacheMatchesTheSameValuesInF32) {
  std::vector<AttentionConfig> cfgs = test::small_policies();
  // LM-Infinite's top-k middle tokens: the unbounded store and a bounded pool (20 rows).
  cfgs.push_back(test::lambda_topk(3, 17, 17, 4, 0));
  cfgs.push_back(test::lambda_topk(3, 17, 17, 4, 0, 20));
  struct Dims {
    int64_t heads, kv, hd;
  };
  const std::pair<DType, DType> types[] = {{DType::BF16, DType::BF16}, {DType::F16, DType::F16},
                                           {DType::Q8_0, DType::Q8_0}, {DType::Q8_0, DType::BF16},
                                           {DType::F16, DType::Q8_0},  {DType::Q8_0, DType::Q4_1}};
  int idx = 0;
  for (const AttentionConfig& cfg : cfgs)
    for (const Dims& d : {Dims{6, 2, 32}, Dims{3, 1, 64}, Dims{4, 4, 96}})
      for (const auto& [kt, vt] : types) {
        TypedCase c{cfg, d.heads, d.kv, d.hd, 1 + 4 * (idx % 3), 1 + idx % 3};
        // 150 tokens: several times every window (the rings wrap); the last 20 one at a time.
        const double err = typed_vs_rounded(c, kt, vt, 150, 20, 300 + idx);
        EXPECT_LT(err, 2e-5) << cfg.label() << " " << dtype_name(kt) << "/" << dtype_name(vt)
                             << " heads " << d.heads << "/" << d.kv << " hd " << d.hd << " block "
                             << c.block << " threads " << c.threads;
        ++idx;
      }
}

TEST(KvTypes, FlagsLabelsAndErrors) {
  AttentionConfig base;
  auto one = parse_attention_list("lambda:kv=q8_0", base, true);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].k_type, DType::Q8_0);
  EXPECT_EQ(one[0].v_type, DType::Q8_0);
  EXPECT_NE(one[0].label().find("+kv(q8_0)"), std::string::npos);
  auto two = parse_attention_list("full:kt=bf16:vt=f16,window:kv=f32", base, true);
  EXPECT_EQ(two[0].k_type, DType::BF16);
  EXPECT_EQ(two[0].v_type, DType::F16);
  EXPECT_NE(two[0].label().find("+kv(k=bf16,v=f16)"), std::string::npos);
  EXPECT_EQ(two[1].label().find("+kv"), std::string::npos);  // f32: labels unchanged
  AttentionConfig c;
  apply_attention_flag(&c, "--kv-type", "bf16");
  apply_attention_flag(&c, "--v-type", "q8_0");
  EXPECT_EQ(c.k_type, DType::BF16);
  EXPECT_EQ(c.v_type, DType::Q8_0);
  try {
    parse_attention_list("lambda:kv=q4_k", base, true);
    FAIL() << "q4_k accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected one of f32, bf16, f16, q8_0, q4, got 'q4_k'"),
              std::string::npos)
        << e.what();
  }
  // The policy carries the types into the cache geometry and its label.
  PolicyContext pc{64, 256, 8};
  auto p = make_policy(two[0], pc);
  EXPECT_EQ(p->geometry().k_type, DType::BF16);
  EXPECT_EQ(p->geometry().v_type, DType::F16);
  EXPECT_EQ(p->label(), "full+kv(k=bf16,v=f16)");
  // q8_0 needs whole blocks of 32 per row.
  CacheGeometry geo{16, 0, 0};
  geo.k_type = DType::Q8_0;
  try {
    KvCache cache(1, 1, 48, geo);
    FAIL() << "head size 48 accepted for q8_0";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("head size 48 is not a multiple"), std::string::npos)
        << e.what();
  }
  // Bytes: a q8_0 cache holds 34 bytes per 32 elements (f32: 128).
  geo.k_type = geo.v_type = DType::Q8_0;
  EXPECT_EQ(KvCache(2, 3, 64, geo).bytes(), size_t{2 * 3 * 16 * 68 * 2});
}

}  // namespace
}  // namespace lc
