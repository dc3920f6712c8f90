// LM-Infinite top-k middle tokens through the real model: whole tiny models (GQA/MQA/MHA, both
// RoPE conventions, 2-3 layers so that H splits them) against the reference forward whose
// attention is the dense policy reference; decode after prefill versus one shot; identities.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "llama_policy_reference.h"
#include "policy_cases.h"
#include "sharp_model.h"
#include "test_util.h"

namespace lc {
namespace {

using test::lambda_topk;
using test::random_tokens;
using test::rel_err;

test::DensePolicy dense_of(const AttentionConfig& c, int64_t trained_ctx) {
  test::DensePolicy d{AttnPolicy::Lambda, c.sinks, c.window, c.ceiling};
  d.topk = c.topk;
  d.topk_distance = trained_ctx / 2;
  d.topk_from_layer = c.topk_from_layer;
  d.middle_pool = c.middle_pool;
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
  const AttentionConfig cfgs[] = {lambda_topk(3, 9, 9, 4, 1),    lambda_topk(2, 6, 6, 1, 0),
                                  lambda_topk(4, 5, 5, 100, 2),  lambda_topk(0, 7, 7, 2, 0),
                                  lambda_topk(3, 6, 6, 3, 0, 8), lambda_topk(2, 5, 5, 2, 1, 3)};
  const int64_t blocks[] = {1, 4, 7, 64, 3};
  std::vector<Case> v;
  int i = 0;
  for (const AttentionConfig& c : cfgs)
    for (int model = 0; model < 3; ++model, ++i) {
      AttentionConfig cc = c;
      cc.trams_score = i % 2 ? TramsScore::Code : TramsScore::Paper;
      v.push_back(Case{model, cc, blocks[i % 5], 1 + i % 3,
                       i % 2 ? ops::RopeStyle::RotateHalf : ops::RopeStyle::AdjacentPairs});
    }
  return v;
}

class AttentionTopKModel : public ::testing::TestWithParam<Case> {};

TEST_P(AttentionTopKModel, MatchesDenseReferenceForward) {
  const Case c = GetParam();
  auto f = test::load_sharp_model(c.model, c.style, "topk");
  LlamaModel m(*f);
  const int64_t n = 71;
  auto toks = random_tokens(n, f->config.vocab_size, 3 + c.model);
  auto got = test::session_logits(m, c.cfg, toks, c.block, c.threads, n);
  auto want = test::llama_policy_reference_logits(*f, toks, dense_of(c.cfg, f->config.ctx_len));
  EXPECT_LT(rel_err(got.data(), want.data(), got.size()), 5e-5);
}

TEST_P(AttentionTopKModel, DecodeAfterPrefillEqualsOneShot) {
  const Case c = GetParam();
  auto f = test::load_sharp_model(c.model, c.style, "topk");
  LlamaModel m(*f);
  const int64_t n = 57, V = f->config.vocab_size;
  auto toks = random_tokens(n, V, 9);
  auto all = test::session_logits(m, c.cfg, toks, c.block, c.threads, n);
  for (int64_t n_prompt : {int64_t{1}, int64_t{23}}) {
    Session s(m, SessionOptions{0, c.threads, c.block, c.cfg});  // no --ctx: the store grows
    const float* l = s.prefill(toks.data(), n_prompt);
    ASSERT_LT(rel_err(l, all.data() + (n_prompt - 1) * V, V), 1e-5) << "prompt " << n_prompt;
    for (int64_t i = n_prompt; i < n;) {
      const int64_t chunk = (i % 2) ? 1 : std::min<int64_t>(2 + i % 3, n - i);
      l = chunk == 1 ? s.decode(toks[i]) : s.prefill(toks.data() + i, chunk);
      i += chunk;
      ASSERT_LT(rel_err(l, all.data() + (i - 1) * V, V), 1e-5)
          << "prompt " << n_prompt << " position " << i - 1;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(TopK, AttentionTopKModel, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           std::string s = i.param.cfg.label();
                           for (char& ch : s)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s + "_" + test::kSharpModels[i.param.model].name + "_b" +
                                  std::to_string(i.param.block) + "_" + std::to_string(i.index);
                         });

// A session reused after reset() (all_logits resets) gives the same logits again: the middle
// store holds no stale tokens from the previous run.
TEST(AttentionTopKModelIdentities, ResetSessionRepeats) {
  auto f = test::load_sharp_model(0, ops::RopeStyle::AdjacentPairs, "topk");
  LlamaModel m(*f);
  auto toks = random_tokens(60, f->config.vocab_size, 4);
  for (int64_t P : {0, 6}) {
    Session s(m, SessionOptions{0, 2, 5, lambda_topk(2, 6, 6, 3, 0, P)});
    std::vector<float> a(60 * f->config.vocab_size), b(a.size());
    s.all_logits(toks.data(), 60, a.data());
    s.all_logits(toks.data(), 60, b.data());
    EXPECT_EQ(a, b) << "P " << P;
  }
}

}  // namespace
}  // namespace lc
