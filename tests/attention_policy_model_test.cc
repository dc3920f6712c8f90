// Bounded attention policies through the real model (spec oracles 1-4): whole tiny synthetic
// models with GQA/MQA/MHA, both RoPE conventions, against a reference forward whose attention is
// the dense n x n policy reference; the identities; decode-after-prefill versus one-shot prefill
// across the moment the cache fills and across ring wrap; bounded memory with unbounded streams.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "formats/llama2c.h"
#include "llama_policy_reference.h"
#include "model/llama.h"
#include "policy_cases.h"
#include "runtime/session.h"
#include "sharp_model.h"
#include "test_util.h"

namespace lc {
namespace {

using test::config_of;
using test::kNone;
using test::Pol;

struct ModelSpec {
  SynthSpec synth;
  const char* name;
};
const ModelSpec kModels[] = {
    {{48, 37, 2, 6, 2, 67, 64, 11, true}, "gqa3_hd8"},
    {{40, 29, 2, 4, 1, 53, 32, 12, false}, "mqa_hd10"},
    {{36, 31, 1, 3, 3, 41, 16, 13, true}, "mha_hd12"},
};

std::unique_ptr<ModelFile> load_sharp(int model, ops::RopeStyle style) {
  auto f = load_model_file(test::write_sharp_llama2c(kModels[model].synth, 6.0f, "policy"));
  f->config.rope_style = style;
  return f;
}

using test::random_tokens;
using test::rel_err;

std::vector<float> session_logits(const LlamaModel& m, const Pol& p, const std::vector<int>& toks,
                                  int64_t block, int threads, int64_t ctx = 0) {
  Session s(m, SessionOptions{ctx, threads, block, config_of(p)});
  std::vector<float> out(toks.size() * m.config().vocab_size);
  s.all_logits(toks.data(), static_cast<int64_t>(toks.size()), out.data());
  return out;
}

struct ModelCase {
  int model;
  Pol pol;
  int64_t block;
  int threads;
  ops::RopeStyle style;
};

void PrintTo(const ModelCase& c, std::ostream* os) {
  *os << config_of(c.pol).label() << " model " << kModels[c.model].name << " block " << c.block
      << " threads " << c.threads;
}

class AttentionPolicyModel : public ::testing::TestWithParam<ModelCase> {};

// Oracle 1 through the whole model: every policy's fast path equals the dense reference.
TEST_P(AttentionPolicyModel, MatchesDenseReferenceForward) {
  const ModelCase c = GetParam();
  auto f = load_sharp(c.model, c.style);
  LlamaModel m(*f);
  const int64_t n = 71;  // several times every window below: the ring wraps many times
  auto toks = random_tokens(n, f->config.vocab_size, 3 + c.model);
  auto got = session_logits(m, c.pol, toks, c.block, c.threads, /*ctx=*/n);
  test::DensePolicy dp{c.pol.policy, c.pol.sinks, c.pol.window, c.pol.ceiling};
  auto want = test::llama_policy_reference_logits(*f, toks, dp);
  // f32 accumulation through <= 2 layers of sharp attention: ~1e-6 relative.
  EXPECT_LT(rel_err(got.data(), want.data(), got.size()), 5e-5);
}

// Position scaling composes with every policy: token rotations, the ceiling distance D of global
// keys and the in-cache positions all use the scaled frequencies, and YaRN's attention factor
// scales every logit (dense reference: attention_dense_reference.h with the scaled inv_freq).
TEST(AttentionPolicyModelScaledRope, MatchesDenseReferenceForward) {
  using T = ops::RopeScaling::Type;
  ops::RopeScaling llama3, yarn, linear;
  llama3.type = T::Llama3;
  llama3.factor = 4.0;
  llama3.original_ctx = 16;
  yarn.type = T::Yarn;
  yarn.factor = 4.0;
  yarn.original_ctx = 32;
  linear.type = T::Linear;
  linear.factor = 3.0;
  const Pol pols[] = {{AttnPolicy::Full, 0, 0, 5},
                      {AttnPolicy::Lambda, 3, 11, 11},
                      {AttnPolicy::Lambda, 5, 9, 4},
                      {AttnPolicy::Streaming, 3, 9, kNone},
                      {AttnPolicy::Window, 0, 7, kNone}};
  const int64_t n = 71;
  for (const ops::RopeScaling& scaling : {llama3, yarn, linear})
    for (const Pol& pol : pols) {
      SCOPED_TRACE(std::string(ops::rope_scaling_name(scaling.type)) + " " +
                   config_of(pol).label());
      auto f = load_sharp(0, ops::RopeStyle::AdjacentPairs);
      const auto toks = random_tokens(n, f->config.vocab_size, 17);
      test::DensePolicy dp{pol.policy, pol.sinks, pol.window, pol.ceiling};
      const auto plain = test::llama_policy_reference_logits(*f, toks, dp);
      f->config.rope_scaling = scaling;
      LlamaModel m(*f);
      const auto got = session_logits(m, pol, toks, 4, 2, n);
      const auto want = test::llama_policy_reference_logits(*f, toks, dp);
      EXPECT_LT(rel_err(got.data(), want.data(), got.size()), 5e-5);
      // The scaling changes the result (the comparison above could otherwise pass vacuously).
      EXPECT_GT(rel_err(plain.data(), want.data(), got.size()), 1e-3);
    }
}

// Prefill followed by decode (and prefill in uneven chunks) equals one-shot prefill.
TEST_P(AttentionPolicyModel, DecodeAfterPrefillEqualsOneShot) {
  const ModelCase c = GetParam();
  auto f = load_sharp(c.model, c.style);
  LlamaModel m(*f);
  const int64_t n = 57, V = f->config.vocab_size;
  auto toks = random_tokens(n, V, 9);
  auto all = session_logits(m, c.pol, toks, c.block, c.threads, n);
  for (int64_t n_prompt : {int64_t{1}, int64_t{6}, int64_t{23}}) {
    Session s(m, SessionOptions{n, c.threads, c.block, config_of(c.pol)});
    const float* l = s.prefill(toks.data(), n_prompt);
    ASSERT_LT(rel_err(l, all.data() + (n_prompt - 1) * V, V), 1e-5) << "prompt " << n_prompt;
    for (int64_t i = n_prompt; i < n;) {
      // Decode one token, then a chunk of 2..4 through prefill, alternately.
      const int64_t chunk = (i % 2) ? 1 : std::min<int64_t>(2 + i % 3, n - i);
      l = chunk == 1 ? s.decode(toks[i]) : s.prefill(toks.data() + i, chunk);
      i += chunk;
      ASSERT_LT(rel_err(l, all.data() + (i - 1) * V, V), 1e-5)
          << "prompt " << n_prompt << " position " << i - 1;
    }
  }
}

const Pol kPols[] = {
    {AttnPolicy::Full, 0, 0, kNone},      {AttnPolicy::Full, 0, 0, 5},
    {AttnPolicy::Window, 0, 7, kNone},    {AttnPolicy::Window, 0, 1, kNone},
    {AttnPolicy::Streaming, 3, 9, kNone}, {AttnPolicy::Streaming, 0, 5, kNone},
    {AttnPolicy::Streaming, 4, 2, kNone}, {AttnPolicy::Lambda, 3, 11, 11},
    {AttnPolicy::Lambda, 2, 6, kNone},    {AttnPolicy::Lambda, 5, 9, 4},
    {AttnPolicy::Lambda, 1, 1, 1},        {AttnPolicy::Lambda, 12, 4, 30},
};

std::vector<ModelCase> model_cases() {
  std::vector<ModelCase> v;
  const int64_t blocks[] = {1, 4, 7, 64, 3};
  int i = 0;
  for (const Pol& p : kPols)
    for (int model = 0; model < 3; ++model, ++i)
      v.push_back(ModelCase{model, p, blocks[i % 5], 1 + i % 3,
                            i % 2 ? ops::RopeStyle::RotateHalf : ops::RopeStyle::AdjacentPairs});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Policies, AttentionPolicyModel, ::testing::ValuesIn(model_cases()),
                         [](const ::testing::TestParamInfo<ModelCase>& i) {
                           std::string s = config_of(i.param.pol).label();
                           for (char& ch : s)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s + "_" + kModels[i.param.model].name + "_b" +
                                  std::to_string(i.param.block) + "_t" +
                                  std::to_string(i.param.threads) +
                                  (i.param.style == ops::RopeStyle::RotateHalf ? "_half" : "_adj");
                         });

// Oracle 2: identities.
TEST(AttentionPolicyIdentities, LambdaWithoutGlobalsIsWindow) {
  for (auto style : {ops::RopeStyle::AdjacentPairs, ops::RopeStyle::RotateHalf}) {
    auto f = load_sharp(0, style);
    LlamaModel m(*f);
    auto toks = random_tokens(60, f->config.vocab_size, 4);
    for (int64_t L : {1, 7, 16}) {
      auto a = session_logits(m, {AttnPolicy::Lambda, 0, L, L}, toks, 5, 2);
      auto b = session_logits(m, {AttnPolicy::Window, 0, L, kNone}, toks, 5, 2);
      EXPECT_LT(rel_err(a.data(), b.data(), a.size()), 1e-6) << "L " << L;
    }
  }
}

TEST(AttentionPolicyIdentities, BudgetAtLeastNIsFull) {
  for (int model = 0; model < 3; ++model) {
    auto f =
        load_sharp(model, model == 1 ? ops::RopeStyle::RotateHalf : ops::RopeStyle::AdjacentPairs);
    LlamaModel m(*f);
    const int64_t n = 40;
    auto toks = random_tokens(n, f->config.vocab_size, 5);
    auto full = session_logits(m, {AttnPolicy::Full, 0, 0, kNone}, toks, 6, 2, n);
    const Pol same[] = {
        {AttnPolicy::Window, 0, n, kNone},        {AttnPolicy::Window, 0, 500, kNone},
        {AttnPolicy::Streaming, 4, n - 4, kNone}, {AttnPolicy::Streaming, 0, n, kNone},
        {AttnPolicy::Lambda, 10, n, n},           {AttnPolicy::Lambda, 3, n, 2},
        {AttnPolicy::Lambda, 10, n + 9, kNone},   {AttnPolicy::Full, 0, 0, n - 1}};
    for (const Pol& p : same) {
      auto got = session_logits(m, p, toks, 6, 2, n);
      EXPECT_LT(rel_err(got.data(), full.data(), got.size()), 2e-6)
          << config_of(p).label() << " model " << model;
    }
  }
}

TEST(AttentionPolicyIdentities, StreamingBeforeTheCacheFillsIsFull) {
  auto f = load_sharp(0, ops::RopeStyle::AdjacentPairs);
  LlamaModel m(*f);
  const int64_t n = 50, S = 3, W = 10, V = f->config.vocab_size;
  auto toks = random_tokens(n, V, 6);
  auto full = session_logits(m, {AttnPolicy::Full, 0, 0, kNone}, toks, 4, 1, n);
  auto st = session_logits(m, {AttnPolicy::Streaming, S, W, kNone}, toks, 4, 1, n);
  // Rows i < S + W see every token at its true position; later rows differ.
  EXPECT_LT(rel_err(st.data(), full.data(), (S + W) * V), 2e-6);
  EXPECT_GT(rel_err(st.data() + (n - 1) * V, full.data() + (n - 1) * V, V), 1e-3);
}

// The tests above only mean something if the policies change the model's output.
TEST(AttentionPolicyIdentities, PoliciesDifferWhereTheyShould) {
  auto f = load_sharp(0, ops::RopeStyle::AdjacentPairs);
  LlamaModel m(*f);
  const int64_t n = 60;
  auto toks = random_tokens(n, f->config.vocab_size, 7);
  auto logits = [&](const Pol& p) { return session_logits(m, p, toks, 8, 2, n); };
  auto full = logits({AttnPolicy::Full, 0, 0, kNone});
  auto lam = logits({AttnPolicy::Lambda, 4, 10, 10});
  auto lam_none = logits({AttnPolicy::Lambda, 4, 10, kNone});
  auto lam_d = logits({AttnPolicy::Lambda, 4, 10, 9});
  auto win = logits({AttnPolicy::Window, 0, 10, kNone});
  auto st = logits({AttnPolicy::Streaming, 4, 10, kNone});
  auto full_d = logits({AttnPolicy::Full, 0, 0, 10});
  const size_t N = full.size();
  EXPECT_GT(rel_err(lam.data(), full.data(), N), 1e-2);
  EXPECT_GT(rel_err(lam.data(), lam_none.data(), N), 1e-3);
  EXPECT_GT(rel_err(lam.data(), lam_d.data(), N), 1e-4);
  EXPECT_GT(rel_err(lam.data(), win.data(), N), 1e-2);
  EXPECT_GT(rel_err(lam.data(), st.data(), N), 1e-3);
  EXPECT_GT(rel_err(full_d.data(), full.data(), N), 1e-3);
}

// Bounded policies stream past any context limit with a cache of O(G + L) slots.
TEST(AttentionPolicyMemory, BoundedPoliciesStreamWithConstantCache) {
  auto f = load_sharp(1, ops::RopeStyle::AdjacentPairs);
  LlamaModel m(*f);  // trained context 32
  auto toks = random_tokens(400, f->config.vocab_size, 8);
  for (const Pol& p : {Pol{AttnPolicy::Lambda, 3, 8, 8}, Pol{AttnPolicy::Streaming, 2, 6, kNone},
                       Pol{AttnPolicy::Window, 0, 5, kNone}}) {
    Session s(m, SessionOptions{0, 2, 4, config_of(p)});
    EXPECT_EQ(s.capacity(), INT64_MAX);
    EXPECT_EQ(s.cache_slots(), p.sinks + p.window + 4 - 1) << config_of(p).label();
    const size_t bytes = s.state_bytes();
    s.prefill(toks.data(), 150);  // far beyond the trained context of 32
    for (int i = 150; i < 400; ++i) s.decode(toks[i]);
    EXPECT_EQ(s.pos(), 400);
    EXPECT_EQ(s.state_bytes(), bytes);
  }
  // Full keeps its limit.
  Session full(m, SessionOptions{0, 1, 4, {}});
  EXPECT_EQ(full.capacity(), 32);
  EXPECT_THROW(full.prefill(toks.data(), 33), Error);
}

TEST(AttentionPolicyMemory, FillRandomSetsThePosition) {
  auto f = load_sharp(0, ops::RopeStyle::AdjacentPairs);
  LlamaModel m(*f);
  for (const Pol& p : {Pol{AttnPolicy::Lambda, 3, 8, 8}, Pol{AttnPolicy::Full, 0, 0, kNone}}) {
    Session s(m, SessionOptions{100, 1, 4, config_of(p)});
    s.fill_random(90, 1);
    EXPECT_EQ(s.pos(), 90);
    const float* l = s.decode(3);
    for (int64_t i = 0; i < f->config.vocab_size; ++i) ASSERT_TRUE(std::isfinite(l[i]));
  }
}

}  // namespace
}  // namespace lc
