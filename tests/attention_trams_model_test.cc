// TRAMS through the real model (spec trams.md): whole tiny models against the reference forward
// whose scores are recomputed by hand from W_Q (K' = W_Q,h^T k) and whose attention is the dense
// policy reference, both score variants, true and compacted distances, GQA/MQA/MHA; decode after
// prefill; oracle 3 -- the ranking of one layer's cached tokens by the engine's stored scores
// equals the ranking by K' recomputed from W_Q, W_K and the hidden state, exactly; bounded
// memory; and the command-line flags.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "llama_policy_reference.h"
#include "sharp_model.h"
#include "test_util.h"

namespace lc {
namespace {

using test::random_tokens;
using test::rel_err;

AttentionConfig trams_config(int64_t M, int64_t R, int64_t m, TramsScore score,
                             bool compacted = false) {
  AttentionConfig c;
  c.policy = AttnPolicy::Trams;
  c.trams_pool = M;
  c.trams_recent = R;
  c.trams_select = m;
  c.trams_score = score;
  c.trams_compacted = compacted;
  return c;
}

test::DensePolicy dense_of(const AttentionConfig& c) {
  test::DensePolicy d;
  d.policy = AttnPolicy::Trams;
  d.trams_pool = c.trams_pool;
  d.trams_recent = c.trams_recent;
  d.trams_select = c.trams_select;
  d.trams_compacted = c.trams_compacted;
  d.score_code = c.trams_score == TramsScore::Code;
  return d;
}

struct Case {
  int model;
  AttentionConfig cfg;
  int64_t block;
  int threads;
  ops::RopeStyle style;
};

std::vector<Case> cases() {
  const int64_t shapes[][3] = {{20, 5, 9}, {12, 0, 5}, {30, 8, 16}, {9, 4, 4}};
  const int64_t blocks[] = {1, 4, 7, 64, 3};
  std::vector<Case> v;
  int i = 0;
  for (const auto& s : shapes)
    for (TramsScore score : {TramsScore::Paper, TramsScore::Code})
      for (int model = 0; model < 3; ++model, ++i)
        v.push_back(Case{model, trams_config(s[0], s[1], s[2], score, i % 4 == 3), blocks[i % 5],
                         1 + i % 3,
                         i % 2 ? ops::RopeStyle::RotateHalf : ops::RopeStyle::AdjacentPairs});
  return v;
}

class AttentionTramsModel : public ::testing::TestWithParam<Case> {};

TEST_P(AttentionTramsModel, MatchesDenseReferenceForward) {
  const Case c = GetParam();
  auto f = test::load_sharp_model(c.model, c.style, "trams");
  LlamaModel m(*f);
  const int64_t n = 71;
  auto toks = random_tokens(n, f->config.vocab_size, 3 + c.model);
  auto got = test::session_logits(m, c.cfg, toks, c.block, c.threads, n);
  auto want = test::llama_policy_reference_logits(*f, toks, dense_of(c.cfg));
  EXPECT_LT(rel_err(got.data(), want.data(), got.size()), 5e-5);
}

TEST_P(AttentionTramsModel, DecodeAfterPrefillEqualsOneShot) {
  const Case c = GetParam();
  auto f = test::load_sharp_model(c.model, c.style, "trams");
  LlamaModel m(*f);
  const int64_t n = 57, V = f->config.vocab_size;
  auto toks = random_tokens(n, V, 9);
  auto all = test::session_logits(m, c.cfg, toks, c.block, c.threads, n);
  Session s(m, SessionOptions{0, c.threads, c.block, c.cfg});
  const int64_t n_prompt = 23;
  const float* l = s.prefill(toks.data(), n_prompt);
  ASSERT_LT(rel_err(l, all.data() + (n_prompt - 1) * V, V), 1e-5);
  for (int64_t i = n_prompt; i < n; ++i) {
    l = s.decode(toks[i]);
    ASSERT_LT(rel_err(l, all.data() + i * V, V), 1e-5) << "position " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Trams, AttentionTramsModel, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           std::string s = i.param.cfg.label();
                           for (char& ch : s)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s + "_" + test::kSharpModels[i.param.model].name + "_" +
                                  std::to_string(i.index);
                         });

// Oracle 3: for layer 0 the hidden state is the token embedding, so k = W_K rmsnorm(x) and
// K' = W_Q,h^T k can be written out by hand. The engine's stored scores must rank the tokens
// exactly as the hand-computed score does, for one kv head of a GQA model (max over its 3 query
// heads) and of an MHA model, both variants.
TEST(AttentionTramsScore, RankingMatchesHandRecomputedKPrime) {
  for (int model : {0, 2})
    for (TramsScore kind : {TramsScore::Paper, TramsScore::Code}) {
      auto f = test::load_sharp_model(model, ops::RopeStyle::AdjacentPairs, "trams_rank");
      const ModelConfig& c = f->config;
      LlamaModel m(*f);
      const int64_t n = 40, d = c.d_model, hd = c.head_dim, group = c.n_heads / c.n_kv_heads;
      auto toks = random_tokens(n, c.vocab_size, 77);
      auto pol = make_policy(trams_config(n, 0, 1, kind), PolicyContext{c.ctx_len, n, 8});
      KvCache cache(c.n_layers, c.n_kv_heads, hd, pol->geometry());
      Workspace ws(c, 8, *pol, 1);
      ThreadPool pool(1);
      for (int64_t p = 0; p < n; p += 8)
        m.forward(pool, ws, cache, *pol, toks.data() + p, 8, p, nullptr, false);
      const int64_t g = c.n_kv_heads - 1;  // the last kv head
      // By hand, double precision, from the weight tensors.
      auto W = [&](const char* name, int64_t r, int64_t col) {
        const TensorRef* t = f->find(std::string("blk.0.") + name);
        return static_cast<double>(ops::ref::load(t->data, t->dtype, r * d + col));
      };
      const TensorRef* emb = f->find("token_embd");
      const float* norm = static_cast<const float*>(f->find("blk.0.attn_norm")->data);
      std::vector<double> hand(n);
      for (int64_t t = 0; t < n; ++t) {
        std::vector<double> x(d);
        double ss = 0;
        for (int64_t i = 0; i < d; ++i)
          ss += (x[i] = ops::ref::load(emb->data, emb->dtype, toks[t] * d + i)) * x[i];
        const double inv = 1.0 / std::sqrt(ss / static_cast<double>(d) + c.norm_eps);
        for (int64_t i = 0; i < d; ++i) x[i] *= inv * norm[i];
        std::vector<double> k(hd, 0.0);
        for (int64_t a = 0; a < hd; ++a)
          for (int64_t i = 0; i < d; ++i) k[a] += W("attn_k", g * hd + a, i) * x[i];
        double best = -INFINITY;
        for (int64_t h = g * group; h < (g + 1) * group; ++h) {
          std::vector<double> kp(d, 0.0);
          for (int64_t a = 0; a < hd; ++a)
            for (int64_t i = 0; i < d; ++i) kp[i] += W("attn_q", h * hd + a, i) * k[a];
          double sum = 0, norm2 = 0;
          for (double e : kp) sum += e, norm2 += e * e;
          best = std::max(best, kind == TramsScore::Paper ? sum / std::sqrt(double(d))
                                                          : std::sqrt(norm2) * std::fabs(sum));
        }
        hand[t] = best;
      }
      std::vector<int64_t> by_hand(n), by_engine(n);
      std::iota(by_hand.begin(), by_hand.end(), 0);
      std::iota(by_engine.begin(), by_engine.end(), 0);
      std::sort(by_hand.begin(), by_hand.end(),
                [&](int64_t a, int64_t b) { return hand[a] > hand[b]; });
      auto engine = [&](int64_t t) { return *cache.score(0, g, cache.slot(t)); };
      std::sort(by_engine.begin(), by_engine.end(),
                [&](int64_t a, int64_t b) { return engine(a) > engine(b); });
      EXPECT_EQ(by_engine, by_hand) << "model " << model << " " << trams_score_name(kind);
      // The values agree too (float storage).
      for (int64_t t = 0; t < n; ++t)
        EXPECT_NEAR(engine(t), hand[t], 1e-5 * (1 + std::fabs(hand[t]))) << t;
    }
}

TEST(AttentionTramsModelMemory, StreamsWithConstantCache) {
  auto f = test::load_sharp_model(1, ops::RopeStyle::AdjacentPairs, "trams");
  LlamaModel m(*f);
  auto toks = random_tokens(400, f->config.vocab_size, 8);
  Session s(m, SessionOptions{0, 2, 4, trams_config(20, 5, 9, TramsScore::Code)});
  EXPECT_EQ(s.capacity(), INT64_MAX);
  EXPECT_EQ(s.cache_slots(), 20 + 4);
  const size_t bytes = s.state_bytes();
  s.prefill(toks.data(), 150);
  for (int i = 150; i < 400; ++i) s.decode(toks[i]);
  EXPECT_EQ(s.state_bytes(), bytes);
}

// The flags reach the policy (run with a synthetic model through the CLI).
TEST(AttentionTramsCli, FlagsAndItemOverrides) {
  if (test::longctx_bin().empty()) GTEST_SKIP() << "LONGCTX_BIN not set";
  const std::string model = test::write_sharp_llama2c(test::kSharpModels[1].synth, 1.0f, "cli");
  auto run = [&](const std::string& args) {
    const std::string cmd = test::longctx_bin() + " bench -m " + model +
                            " --prompt 12 --gen 4 --reps 1 --fill 20 -t 1 " + args + " 2>&1";
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    char buf[512];
    while (p && fgets(buf, sizeof buf, p)) out += buf;
    const int rc = p ? pclose(p) : -1;
    return std::make_pair(rc, out);
  };
  EXPECT_EQ(run("--attn trams --pool 6 --recent 2 --select 4 --trams-score code").first, 0);
  EXPECT_EQ(run("--attn trams:M=6:R=2:m=4:score=paper:dist=compacted").first, 0);
  EXPECT_EQ(run("--attn lambda:G=2:L=4:K=2:H=0:P=3").first, 0);
  auto bad = run("--attn trams --pool 6 --recent 5 --select 4");
  EXPECT_NE(bad.first, 0);
  EXPECT_NE(bad.second.find("--recent 5"), std::string::npos) << bad.second;
  bad = run("--attn window --topk 3");
  EXPECT_NE(bad.first, 0);
  EXPECT_NE(bad.second.find("--topk"), std::string::npos) << bad.second;
  bad = run("--attn lambda --middle-pool 10");
  EXPECT_NE(bad.first, 0);
  EXPECT_NE(bad.second.find("--middle-pool"), std::string::npos) << bad.second;
  bad = run("--attn trams --trams-score best");
  EXPECT_NE(bad.first, 0);
  EXPECT_NE(bad.second.find("paper or code"), std::string::npos) << bad.second;
}

}  // namespace
}  // namespace lc
