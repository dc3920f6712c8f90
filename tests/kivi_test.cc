// The 4-bit KV cache (attention/kivi.h): the KIVI key-group score kernel and the Q4_1 value pass
// per ISA against double-precision references; the cache's grouping (a group is quantized per
// channel when its last slot is stored, the open group's keys stay exact, the ring rounded to
// whole groups, a ring entered mid-group, the newest 4 groups' keys exact); the newest 128 values
// kept exact beside their Q4_1 rows (KIVI's residual) and summed in place; and every policy over a
// q4 cache against the same policy over an f32 cache holding the values the q4 cache reads back at
// that moment (GQA, odd blocks, ring wrap-around, decode after prefill).
#include "attention/kivi.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "attention/attention.h"
#include "attention/kv_types.h"
#include "attention/policy.h"
#include "core/cpu.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "ops/ops.h"
#include "ops/rope.h"
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

// sum_t a(t) b(t) in double and the sum of the magnitudes (the f32 rounding scale).
template <class A, class B>
std::pair<double, double> dot_and_mag(int64_t n, A a, B b) {
  double s = 0, m = 0;
  for (int64_t t = 0; t < n; ++t) {
    const double x = static_cast<double>(a(t)) * b(t);
    s += x;
    m += std::fabs(x);
  }
  return {s, m};
}

TEST(Kivi, GroupScoresAndQ4ValuesMatchTheReferencePerIsa) {
  Rng rng(41);
  for (Isa isa : isas())
    for (int64_t hd : {32, 64, 96, 128, 160, 256})
      for (int64_t group : {1, 3, 4, 5, 9}) {
        SCOPED_TRACE(testing::Message() << isa_name(isa) << " hd " << hd << " group " << group);
        const ops::KernelTable& K = ops::kernels_for(isa);
        // One key group with a per-channel offset and scale (outlier channels), one channel
        // constant (scale 0).
        std::vector<float> keys(kKiviGroup * hd), q(group * hd);
        for (int64_t c = 0; c < hd; ++c) {
          const float off = 3.0f * rng.normal(), sc = c % 7 == 0 ? 10.0f : 1.0f;
          for (int64_t t = 0; t < kKiviGroup; ++t)
            keys[t * hd + c] = c == 5 ? 2.5f : off + sc * rng.normal();
        }
        for (float& x : q) x = rng.normal();
        std::vector<uint8_t> grp(kivi_group_bytes(hd));
        kivi_quantize_group(keys.data(), hd, grp.data());
        std::vector<float> back(kKiviGroup * hd);
        for (int64_t t = 0; t < kKiviGroup; ++t)
          kivi_decode_key(grp.data(), hd, t, back.data() + t * hd);
        for (auto [j0, j1] :
             {std::pair<int64_t, int64_t>{0, 32}, {0, 1}, {5, 17}, {16, 32}, {31, 32}, {3, 3}}) {
          const int64_t ld = 40;
          std::vector<float> scores(group * ld, -7.0f);
          K.kivi_scores(grp.data(), hd, q.data(), group, j0, j1, scores.data(), ld);
          for (int64_t h = 0; h < group; ++h)
            for (int64_t i = 0; i < ld; ++i) {
              const float got = scores[h * ld + i];
              if (i >= j1 - j0) {
                ASSERT_EQ(got, -7.0f) << "h " << h << " column " << i << " written";
                continue;
              }
              const int64_t j = j0 + i;
              auto [want, mag] = dot_and_mag(
                  hd, [&](int64_t c) { return q[h * hd + c]; },
                  [&](int64_t c) { return back[j * hd + c]; });
              ASSERT_NEAR(got, want, 1e-6 * (hd + 1) * mag + 1e-30) << "h " << h << " key " << j;
            }
        }
        // Q4_1 value rows.
        for (int64_t n : {0, 1, 3, 4, 7, 70}) {
          std::vector<float> v(n * hd), p(group * (n + 2));
          for (float& x : v) x = rng.normal();
          for (float& x : p) x = rng.uniform();
          const int64_t rb = kv_row_bytes(DType::Q4_1, hd), ld = n + 2, ldo = hd + 3;
          std::vector<uint8_t> vq(n * rb);
          for (int64_t j = 0; j < n; ++j) {
            kv_encode(DType::Q4_1, v.data() + j * hd, vq.data() + j * rb, hd);
            kv_decode(DType::Q4_1, vq.data() + j * rb, v.data() + j * hd, hd);
          }
          std::vector<float> out(group * ldo, -7.0f);
          K.q4_weighted_sum(p.data(), ld, group, vq.data(), hd, n, out.data(), ldo);
          for (int64_t h = 0; h < group; ++h)
            for (int64_t d = 0; d < ldo; ++d) {
              if (d >= hd) {
                ASSERT_EQ(out[h * ldo + d], -7.0f);
                continue;
              }
              auto [want, mag] = dot_and_mag(
                  n, [&](int64_t j) { return p[h * ld + j]; },
                  [&](int64_t j) { return v[j * hd + d]; });
              ASSERT_NEAR(out[h * ldo + d], want, 1e-6 * (n + 1) * mag + 1e-30)
                  << "n " << n << " h " << h << " d " << d;
            }
        }
      }
}

// Key t of a quantized group read back (`back`) against the group's 32 keys x: each channel
// within half a step of its value (step = the channel's range over the group / 15, stored as
// fp16 with the minimum).
void expect_quantized(const std::vector<float>& x, const float* back, int64_t hd, int64_t t) {
  for (int64_t c = 0; c < hd; ++c) {
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t u = 0; u < kKiviGroup; ++u) {
      lo = std::fmin(lo, x[u * hd + c]);
      hi = std::fmax(hi, x[u * hd + c]);
    }
    ASSERT_NEAR(back[c], x[t * hd + c],
                0.5 * (hi - lo) / 15.0 * 1.01 + 1e-3 * (std::fabs(lo) + std::fabs(hi)) + 1e-7)
        << "channel " << c << " token " << t;
  }
}

TEST(Kivi, CacheQuantizesAGroupWhenItIsCompleteAndKeepsTheNewestGroupsExact) {
  Rng rng(42);
  const int64_t hd = 64, heads = 2, G = kKiviGroup, R = kKiviKeyResidual;
  // Full attention (every slot grouped, a partial last group), a ring of 8 groups after 3 pinned
  // slots (which stay f32), and a ring of 5 groups (whose newest 4 share residual entries across
  // its end, so fewer of them are exact, which must still read right).
  for (const CacheGeometry& base :
       {CacheGeometry{300, 0, 0}, CacheGeometry{3, 8 * G, 0}, CacheGeometry{3, 5 * G, 0}}) {
    CacheGeometry geo = base;
    geo.k_type = geo.v_type = DType::Q4_1;
    KvCache cache(1, heads, hd, geo);
    EXPECT_TRUE(cache.grouped_keys());
    EXPECT_EQ(cache.key_group_base(), base.ring > 0 ? 3 : 0);
    EXPECT_EQ(cache.bytes_per_position(), heads * 2 * 40);  // 20 bytes per 32 keys and values
    const int64_t n = base.ring > 0 ? 3 + base.ring * 2 + 45 : 300;  // the ring wraps twice
    std::vector<std::vector<float>> keys(n, std::vector<float>(heads * hd));
    std::vector<float> row(hd);
    for (int64_t p = 0; p < n; ++p) {
      for (int64_t g = 0; g < heads; ++g) {
        for (int64_t c = 0; c < hd; ++c)
          keys[p][g * hd + c] = (c % 9 == 0 ? 8.0f : 1.0f) * rng.normal() + c * 0.1f;
        cache.store_k(0, g, cache.slot(p), keys[p].data() + g * hd);
      }
      // Every held position reads back as expected after every store.
      const int64_t first = base.ring > 0 ? std::max<int64_t>(3, p + 1 - base.ring) : 0;
      // The first position of the newest group.
      const int64_t p0 = p - (cache.slot(p) - cache.key_group_base()) % G;
      for (int64_t g = 0; g < heads; ++g)
        for (int64_t q = 0; q <= p; ++q) {
          if (q >= 3 && q < first) continue;  // overwritten in the ring
          const int64_t s = cache.slot(q), r = s - cache.key_group_base();
          cache.load_k(0, g, s, row.data());
          const bool exact = r < 0 || cache.key_exact(0, g, s);
          // The keys of the newest R groups, as far as they are stored.
          if (r >= 0 && base.ring % (R * G) == 0) {
            EXPECT_EQ(exact, q >= p0 - (R - 1) * G) << q << " " << p;
          }
          if (exact) {
            for (int64_t c = 0; c < hd; ++c) ASSERT_EQ(row[c], keys[q][g * hd + c]) << q;
            continue;
          }
          // Quantized with the 32 positions that filled its group.
          const int64_t q0 = q - r % kKiviGroup;
          std::vector<float> x(kKiviGroup * hd);
          for (int64_t t = 0; t < kKiviGroup; ++t)
            std::copy_n(keys[q0 + t].data() + g * hd, hd, x.data() + t * hd);
          expect_quantized(x, row.data(), hd, r % kKiviGroup);
        }
    }
  }
}

TEST(Kivi, CacheKeepsTheNewestValuesExactAndSumsThemInPlace) {
  Rng rng(7);
  const int64_t hd = 64, heads = 2, group = 3;
  const ops::KernelTable& K = ops::kernels();
  // Full attention; a ring of 256 slots after 3 pinned slots (whose values have no residual); a
  // ring of 200 slots (the residues of the newest 128 collide across its end, so fewer of them
  // are exact, which must still read right).
  const int64_t R = kKiviValueResidual;
  for (const CacheGeometry& base :
       {CacheGeometry{300, 0, 0}, CacheGeometry{3, 256, 0}, CacheGeometry{3, 200, 0}}) {
    CacheGeometry geo = base;
    geo.v_type = DType::Q4_1;
    KvCache cache(1, heads, hd, geo);
    ASSERT_TRUE(cache.value_residual());
    const int64_t n = base.ring > 0 ? 3 + base.ring * 2 + 45 : 300;
    std::vector<std::vector<float>> vals(n, std::vector<float>(heads * hd));
    std::vector<float> row(hd), rounded(hd), p(group * n), out(group * hd), tmp(group * hd);
    std::vector<uint8_t> q4(kv_row_bytes(DType::Q4_1, hd));
    for (int64_t pos = 0; pos < n; ++pos) {
      for (float& x : vals[pos]) x = rng.normal();
      for (int64_t g = 0; g < heads; ++g)
        cache.store_v(0, g, cache.slot(pos), vals[pos].data() + g * hd);
      const int64_t first = base.ring > 0 ? std::max<int64_t>(3, pos + 1 - base.ring) : 0;
      for (int64_t g = 0; g < heads; ++g) {
        // Every held value: exact when it is one of the 128 newest (and not pinned before a
        // ring), its Q4_1 row otherwise.
        for (int64_t q = 0; q <= pos; ++q) {
          if (q >= 3 && q < first) continue;
          const int64_t s = cache.slot(q);
          const bool exact = cache.value_exact(0, g, s);
          if (base.ring % R == 0) {
            EXPECT_EQ(exact, q > pos - R && (base.ring == 0 || q >= 3)) << q << " " << pos;
          }
          cache.load_v(0, g, s, row.data());
          kv_encode(DType::Q4_1, vals[q].data() + g * hd, q4.data(), hd);
          kv_decode(DType::Q4_1, q4.data(), rounded.data(), hd);
          const float* want = exact ? vals[q].data() + g * hd : rounded.data();
          for (int64_t c = 0; c < hd; ++c) ASSERT_EQ(row[c], want[c]) << q << " " << pos;
        }
        // value_sum over runs of held slots that do not wrap, overwriting and accumulating,
        // against a double sum of load_v.
        if (pos % 7 != 0) continue;
        const int64_t lo = cache.slot(first), hi = cache.slot(pos) + 1;
        for (int64_t r = 0; r < 4; ++r) {
          const int64_t s0 = hi > lo ? lo + static_cast<int64_t>(rng.next_u32() % (hi - lo)) : lo;
          const int64_t s1 = std::max(
              s0, hi > lo ? hi - static_cast<int64_t>(rng.next_u32() % 3) : cache.capacity());
          const int64_t m = s1 - s0;
          for (float& x : p) x = static_cast<float>(rng.next_u32() % 1000) / 1000.0f;
          for (float& x : out) x = 1.0f;
          const bool acc = r % 2 == 1;
          cache.value_sum(K, 0, g, s0, m, p.data(), n, group, out.data(), hd, acc, tmp.data());
          for (int64_t h = 0; h < group; ++h) {
            std::vector<double> want(hd, acc ? 1.0 : 0.0);
            for (int64_t j = 0; j < m; ++j) {
              cache.load_v(0, g, s0 + j, row.data());
              for (int64_t c = 0; c < hd; ++c)
                want[c] += static_cast<double>(p[h * n + j]) * row[c];
            }
            for (int64_t c = 0; c < hd; ++c)
              ASSERT_NEAR(out[h * hd + c], want[c], 1e-4 * (1.0 + std::fabs(want[c])))
                  << "slots " << s0 << ".." << s1 << " accumulate " << acc;
          }
        }
      }
    }
  }
}

TEST(Kivi, RingsAreRoundedToWholeGroupsAndTopKIsRefused) {
  PolicyContext pc{64, 4096, 8};
  AttentionConfig c = test::config_of(test::Pol{AttnPolicy::Lambda, 4, 50, 50});
  const int64_t ring32 = make_policy(c, pc)->geometry().ring;
  c.k_type = c.v_type = DType::Q4_1;
  auto p = make_policy(c, pc);
  EXPECT_EQ(p->geometry().ring % kKiviGroup, 0);
  EXPECT_GE(p->geometry().ring, ring32);
  EXPECT_LT(p->geometry().ring, ring32 + kKiviGroup);
  EXPECT_NE(p->label().find("+kv(q4)"), std::string::npos) << p->label();
  try {
    make_policy(test::lambda_topk(4, 50, 50, 5, 0), pc);
  } catch (const Error&) {
    FAIL() << "top-k with f32 keys refused";
  }
  AttentionConfig topk = test::lambda_topk(4, 50, 50, 5, 0);
  topk.k_type = DType::Q4_1;
  try {
    make_policy(topk, pc);
    FAIL() << "top-k with q4 keys accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not keep q4 keys"), std::string::npos) << e.what();
  }
  topk.k_type = DType::Q8_0;
  topk.v_type = DType::Q4_1;
  EXPECT_NO_THROW(make_policy(topk, pc));
}

// Streams n tokens (blocks of `block`, the last `decode` one at a time) through cache_store +
// attend_policy into a q4 cache and compares each block's outputs with the same policy over an
// f32 cache into which every slot of the q4 cache is read back after the block is stored.
double q4_vs_readback(const AttentionConfig& cfg, int64_t heads, int64_t kv_heads, int64_t hd,
                      int64_t block, int threads, int64_t n, int64_t decode, uint64_t seed) {
  PolicyContext pc{64, n, block};
  auto pol = make_policy(cfg, pc);
  CacheGeometry g32 = pol->geometry();
  g32.k_type = g32.v_type = DType::F32;
  KvCache cq(2, kv_heads, hd, pol->geometry()), c32(2, kv_heads, hd, g32);
  const ops::RopeFreqs rope(hd, 10000.0);
  const AttentionShape shape{heads, kv_heads, hd, nullptr, &rope};
  ThreadPool pool(threads);
  std::vector<float> scratch(std::max(attention_scratch_floats(shape, *pol, threads),
                                      attention_scratch_floats(shape, cq.capacity(), threads)));
  std::vector<int64_t> idx(std::max<int64_t>(1, attention_scratch_indices(shape, *pol, threads)));
  test::PolicyTokens tk(heads, kv_heads, hd, block, seed, /*outlier_every=*/11);
  std::vector<float> row(hd);
  double max_err = 0;
  const int64_t layer = 1;
  for (int64_t r0 = 0; r0 < n;) {
    const int64_t nb = r0 >= n - decode ? 1 : std::min(block, n - decode - r0);
    for (int64_t b = 0; b < nb; ++b) {
      const int64_t pos = r0 + b;
      tk.next(*pol, b, pos);
      cache_store(cq, layer, kv_heads, pos, tk.k.data(), tk.kr.data(), tk.v.data(),
                  tk.scores.data());
    }
    // The f32 cache: every slot as the q4 cache reads it now.
    const CacheGeometry& geo = cq.geometry();
    for (int64_t g = 0; g < kv_heads; ++g) {
      for (int64_t s = 0; s < cq.capacity(); ++s) {
        cq.load_k(layer, g, s, row.data());
        c32.store_k(layer, g, s, row.data());
        cq.load_v(layer, g, s, row.data());
        c32.store_v(layer, g, s, row.data());
        if (geo.slot_scores) *c32.score(layer, g, s) = *cq.score(layer, g, s);
      }
      for (int64_t p = 0; p < geo.n_raw; ++p) {
        cq.load_k_raw(layer, g, p, row.data());
        c32.store_k_raw(layer, g, p, row.data());
      }
    }
    test::attend_and_compare(pool, shape, tk, r0, nb, cq, *pol, c32, *pol, scratch.data(),
                             idx.data(), &max_err);
    r0 += nb;
  }
  return max_err;
}

TEST(Kivi, EveryPolicyOverAQ4CacheMatchesTheValuesItReadsBack) {
  std::vector<AttentionConfig> cfgs = test::small_policies();
  struct Dims {
    int64_t heads, kv, hd;
  };
  int idx = 0;
  for (AttentionConfig cfg : cfgs)
    for (const Dims& d : {Dims{6, 2, 32}, Dims{3, 1, 64}, Dims{4, 4, 96}})
      for (DType vt : {DType::Q4_1, DType::BF16}) {
        cfg.k_type = DType::Q4_1;
        cfg.v_type = vt;
        const int64_t block = 1 + 4 * (idx % 3);
        const int threads = 1 + idx % 3;
        // 200 tokens: the rings wrap several times, groups close mid-block; the last 40 one at a
        // time (a group opens and closes during decode).
        const double err =
            q4_vs_readback(cfg, d.heads, d.kv, d.hd, block, threads, 200, 40, 500 + idx);
        EXPECT_LT(err, 2e-5) << cfg.label() << " v " << kv_type_name(vt) << " heads " << d.heads
                             << "/" << d.kv << " hd " << d.hd << " block " << block << " threads "
                             << threads;
        ++idx;
      }
}

}  // namespace
}  // namespace lc
