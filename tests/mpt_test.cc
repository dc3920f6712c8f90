// The ALiBi architecture end to end: MPT Hugging Face directories (written by the project's own
// synthetic generator), loaded, checked against a slow double-precision forward whose attention
// is the dense policy reference (spec oracles 1-4 with ALiBi: every policy, the identities,
// decode-after-prefill across cache fill and ring wrap, GQA through mosaicml's kv_n_heads), the
// ALiBi slopes against MPT's definition, and every unsupported MPT option refused by name.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "formats/hf.h"
#include "formats/synthetic.h"
#include "llama_policy_reference.h"
#include "model/llama.h"
#include "policy_cases.h"
#include "runtime/session.h"
#include "test_util.h"

namespace lc {
namespace {

using test::kNone;

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/longctx_mpt_" + std::to_string(::getpid()) + "_" + name;
}

struct Shape {
  int64_t d_model, layers, heads, kv_heads, vocab;
  const char* name;
};
const Shape kShapes[] = {
    {32, 2, 4, 4, 41, "mha4"},  // transformers' MPT: multi-head
    {48, 2, 6, 2, 37, "gqa6"},  // mosaicml's grouped_query_attention, 6 heads (not a power of 2)
    {40, 1, 5, 1, 29, "mqa5"},  // multiquery_attention
};

// A random MPT directory. q and k rows of Wqkv are scaled up so that attention is sharp and a
// wrong key set or bias changes the logits well beyond float rounding.
std::string write_mpt_dir(const Shape& s, uint64_t seed = 7) {
  SynthSpec spec{s.d_model, 4 * s.d_model, s.layers, s.heads, s.kv_heads, s.vocab, 32};
  spec.seed = seed;
  SynthOptions o;
  o.weight_std = 0.3f;
  o.norm_jitter = 0.2f;
  auto m = synthetic_mpt(spec, o);
  const ModelConfig& c = m->config;
  for (TensorRef& t : m->tensors)
    if (t.name.find("attn_qkv") != std::string::npos) {
      float* w = static_cast<float*>(const_cast<void*>(t.data));  // owned by m
      for (int64_t i = 0; i < (c.q_dim() + c.kv_dim()) * c.d_model; ++i) w[i] *= 2.5f;
    }
  const std::string dir = temp_path(std::string(s.name) + "_" + std::to_string(seed));
  write_hf_dir(dir, *m);
  return dir;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

using test::expect_error;

using test::config_of;
using test::Pol;

std::vector<float> session_logits(const LlamaModel& m, const Pol& p, const std::vector<int>& toks,
                                  int64_t block, int threads) {
  const int64_t n = static_cast<int64_t>(toks.size());
  Session s(m, SessionOptions{n, threads, block, config_of(p)});
  std::vector<float> out(toks.size() * m.config().vocab_size);
  s.all_logits(toks.data(), n, out.data());
  return out;
}

TEST(MptLoad, ConfigMapsToLayerNormGeluAlibi) {
  const std::string dir = write_mpt_dir(kShapes[1]);
  const std::string cfg = slurp(dir + "/config.json");
  EXPECT_NE(cfg.find("\"MptForCausalLM\""), std::string::npos);
  EXPECT_NE(cfg.find("\"kv_n_heads\": 2"), std::string::npos) << cfg;
  auto f = load_model_file(dir);
  const ModelConfig& c = f->config;
  EXPECT_EQ(c.arch, Arch::Mpt);
  EXPECT_EQ(c.norm, NormKind::LayerNorm);
  EXPECT_EQ(c.ffn, FfnKind::GELU);
  EXPECT_EQ(c.position, PositionKind::ALiBi);
  EXPECT_EQ(c.d_model, 48);
  EXPECT_EQ(c.hidden, 4 * 48);
  EXPECT_EQ(c.n_heads, 6);
  EXPECT_EQ(c.n_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.ctx_len, 32);
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_DOUBLE_EQ(c.alibi_bias_max, 8.0);
  ASSERT_NE(f->find("blk.1.attn_qkv"), nullptr);
  EXPECT_EQ(f->find("blk.1.attn_qkv")->shape, (std::vector<int64_t>{48 + 2 * 16, 48}));
  EXPECT_EQ(hf_tensor_name("blk.1.attn_qkv", Arch::Mpt), "transformer.blocks.1.attn.Wqkv.weight");
  EXPECT_EQ(canonical_from_hf("transformer.wte.weight", Arch::Mpt), "token_embd");
}

TEST(MptLoad, AlibiSlopesMatchMpt) {
  // Powers of two: m_h = 2^(-8 (h+1) / H).
  const std::vector<float> s8 = alibi_slopes(8, 8.0);
  for (int h = 0; h < 8; ++h) EXPECT_FLOAT_EQ(s8[h], std::ldexp(1.0f, -(h + 1)));
  const std::vector<float> s4 = alibi_slopes(4, 8.0);
  for (int h = 0; h < 4; ++h) EXPECT_FLOAT_EQ(s4[h], std::ldexp(1.0f, -2 * (h + 1)));
  // 12 heads: H' = 16, base slopes 2^(-(k+1)/2) for k = 0..15; the odd-indexed eight
  // (2^-1 .. 2^-8) come first, then the even-indexed ones (2^-0.5, 2^-1.5, ...), cut at 12.
  const std::vector<float> s12 = alibi_slopes(12, 8.0);
  ASSERT_EQ(s12.size(), 12u);
  for (int h = 0; h < 8; ++h) EXPECT_FLOAT_EQ(s12[h], std::ldexp(1.0f, -(h + 1)));
  for (int h = 8; h < 12; ++h)
    EXPECT_FLOAT_EQ(s12[h], static_cast<float>(std::pow(2.0, -0.5 - (h - 8))));
  EXPECT_FLOAT_EQ(alibi_slopes(1, 8.0)[0], 1.0f / 256);
}

TEST(MptLoad, UnsupportedOptionsAreRefusedByName) {
  const std::string dir = write_mpt_dir(kShapes[0]);
  const std::string good = slurp(dir + "/config.json");
  struct Case {
    std::string from, to, needle;
  };
  const Case cases[] = {
      {"\"no_bias\": true", "\"no_bias\": false", "no_bias"},
      {"\"alibi\": true", "\"alibi\": false", "attn_config.alibi"},
      {"\"alibi\": true", "\"alibi\": true, \"qk_ln\": true", "attn_config.qk_ln"},
      {"\"alibi\": true", "\"alibi\": true, \"clip_qkv\": 8", "attn_config.clip_qkv"},
      {"\"alibi\": true", "\"alibi\": true, \"softmax_scale\": 0.1", "attn_config.softmax_scale"},
      {"\"alibi_bias_max\": 8.0", "\"alibi_bias_max\": -1", "alibi_bias_max"},
      {"\"multihead_attention\"", "\"flash_attention\"", "attn_type"},
      {"\"multihead_attention\"", "\"grouped_query_attention\", \"kv_n_heads\": 3", "kv_n_heads"},
      {"\"no_bias\": true", "\"no_bias\": true, \"logit_scale\": 0.5", "logit_scale"},
      {"\"norm_type\": \"low_precision_layernorm\"", "\"norm_type\": \"rmsnorm\"", "norm_type"},
      {"\"d_model\": 32", "\"d_model\": 33", "n_heads"},
      {"\"n_heads\": 4", "\"n_heads\": \"4\"", "'n_heads' is a string"},
      {"\"attn_config\": {", "\"attn_config\": 3, \"x\": {", "attn_config"},
  };
  for (const Case& c : cases) {
    std::string cfg = good;
    const size_t p = cfg.find(c.from);
    ASSERT_NE(p, std::string::npos) << c.from;
    cfg.replace(p, c.from.size(), c.to);
    std::ofstream(dir + "/config.json", std::ios::trunc) << cfg;
    expect_error([&] { load_model_file(dir); }, {dir + "/config.json", c.needle});
  }
  // A tensor outside the supported layout (a learned position embedding) is not dropped
  // silently: same-length rename inside the safetensors header keeps the offsets valid.
  std::ofstream(dir + "/config.json", std::ios::trunc) << good;
  std::string st = slurp(dir + "/model.safetensors");
  const size_t p = st.find("transformer.norm_f.weight");
  ASSERT_NE(p, std::string::npos);
  st.replace(p, 25, "transformer.wpe_ff.weight");
  std::ofstream(dir + "/model.safetensors", std::ios::binary | std::ios::trunc) << st;
  expect_error([&] { load_model_file(dir); }, {"model.safetensors", "transformer.wpe_ff.weight"});
}

struct ModelCase {
  int shape;
  Pol pol;
  int64_t block;
  int threads;
};

void PrintTo(const ModelCase& c, std::ostream* os) {
  *os << config_of(c.pol).label() << " " << kShapes[c.shape].name << " block " << c.block
      << " threads " << c.threads;
}

class MptPolicy : public ::testing::TestWithParam<ModelCase> {};

// Oracle 1: every policy's fast path (ALiBi bias in the kernel, global keys at -m*D) equals the
// dense reference forward.
TEST_P(MptPolicy, MatchesDenseReferenceForward) {
  const ModelCase c = GetParam();
  auto f = load_model_file(write_mpt_dir(kShapes[c.shape]));
  LlamaModel m(*f);
  const int64_t n = 61;  // several times every window below: the ring wraps many times
  auto toks = test::random_tokens(n, f->config.vocab_size, 3 + c.shape);
  auto got = session_logits(m, c.pol, toks, c.block, c.threads);
  test::DensePolicy dp{c.pol.policy, c.pol.sinks, c.pol.window, c.pol.ceiling};
  auto want = test::llama_policy_reference_logits(*f, toks, dp);
  EXPECT_LT(test::rel_err(got.data(), want.data(), got.size()), 5e-5);
}

// Oracle 3: prefill then decode (and uneven prefill chunks) equals one-shot prefill.
TEST_P(MptPolicy, DecodeAfterPrefillEqualsOneShot) {
  const ModelCase c = GetParam();
  auto f = load_model_file(write_mpt_dir(kShapes[c.shape]));
  LlamaModel m(*f);
  const int64_t n = 47, V = f->config.vocab_size;
  auto toks = test::random_tokens(n, V, 9);
  auto all = session_logits(m, c.pol, toks, c.block, c.threads);
  for (int64_t n_prompt : {int64_t{1}, int64_t{5}, int64_t{19}}) {
    Session s(m, SessionOptions{n, c.threads, c.block, config_of(c.pol)});
    const float* l = s.prefill(toks.data(), n_prompt);
    ASSERT_LT(test::rel_err(l, all.data() + (n_prompt - 1) * V, V), 1e-5);
    for (int64_t i = n_prompt; i < n;) {
      const int64_t chunk = (i % 2) ? 1 : std::min<int64_t>(2 + i % 3, n - i);
      l = chunk == 1 ? s.decode(toks[i]) : s.prefill(toks.data() + i, chunk);
      i += chunk;
      ASSERT_LT(test::rel_err(l, all.data() + (i - 1) * V, V), 1e-5)
          << "prompt " << n_prompt << " position " << i - 1;
    }
  }
}

const Pol kPols[] = {
    {AttnPolicy::Full, 0, 0, kNone},      {AttnPolicy::Full, 0, 0, 5},
    {AttnPolicy::Window, 0, 7, kNone},    {AttnPolicy::Streaming, 3, 9, kNone},
    {AttnPolicy::Streaming, 0, 5, kNone}, {AttnPolicy::Lambda, 3, 11, 11},
    {AttnPolicy::Lambda, 2, 6, kNone},    {AttnPolicy::Lambda, 5, 9, 4},
    {AttnPolicy::Lambda, 1, 1, 1},
};

std::vector<ModelCase> model_cases() {
  std::vector<ModelCase> v;
  const int64_t blocks[] = {1, 4, 7, 64, 3};
  int i = 0;
  for (const Pol& p : kPols)
    for (int shape = 0; shape < 3; ++shape, ++i)
      v.push_back(ModelCase{shape, p, blocks[i % 5], 1 + i % 3});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Policies, MptPolicy, ::testing::ValuesIn(model_cases()),
                         [](const ::testing::TestParamInfo<ModelCase>& i) {
                           std::string s = config_of(i.param.pol).label();
                           for (char& ch : s)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s + "_" + kShapes[i.param.shape].name + "_b" +
                                  std::to_string(i.param.block) + "_t" +
                                  std::to_string(i.param.threads);
                         });

// Oracle 2: identities, and the policies (ALiBi ceiling included) changing the output at all.
TEST(MptIdentities, LambdaWithoutGlobalsIsWindowAndBigBudgetsAreFull) {
  auto f = load_model_file(write_mpt_dir(kShapes[1]));
  LlamaModel m(*f);
  const int64_t n = 40;
  auto toks = test::random_tokens(n, f->config.vocab_size, 4);
  auto logits = [&](const Pol& p) { return session_logits(m, p, toks, 6, 2); };
  for (int64_t L : {1, 7, 16}) {
    auto a = logits({AttnPolicy::Lambda, 0, L, L}), b = logits({AttnPolicy::Window, 0, L, kNone});
    EXPECT_LT(test::rel_err(a.data(), b.data(), a.size()), 1e-6) << "L " << L;
  }
  auto full = logits({AttnPolicy::Full, 0, 0, kNone});
  for (const Pol& p :
       {Pol{AttnPolicy::Window, 0, n, kNone}, Pol{AttnPolicy::Lambda, 10, n, n},
        Pol{AttnPolicy::Streaming, 4, n - 4, kNone}, Pol{AttnPolicy::Full, 0, 0, n}}) {
    auto got = logits(p);
    EXPECT_LT(test::rel_err(got.data(), full.data(), got.size()), 2e-6) << config_of(p).label();
  }
  auto lam = logits({AttnPolicy::Lambda, 4, 10, 10});
  auto lam_none = logits({AttnPolicy::Lambda, 4, 10, kNone});
  auto win = logits({AttnPolicy::Window, 0, 10, kNone});
  auto full_d = logits({AttnPolicy::Full, 0, 0, 10});
  EXPECT_GT(test::rel_err(lam.data(), full.data(), full.size()), 1e-3);
  EXPECT_GT(test::rel_err(lam.data(), lam_none.data(), full.size()), 1e-4);
  EXPECT_GT(test::rel_err(lam.data(), win.data(), full.size()), 1e-3);
  EXPECT_GT(test::rel_err(full_d.data(), full.data(), full.size()), 1e-4);
}

// The command line end to end: synth-model --arch mpt, logits and a bounded-attention bench,
// converting to bf16 safetensors, and GGUF refused by name.
TEST(MptCli, SynthRunConvert) {
  if (test::longctx_bin().empty()) GTEST_SKIP() << "LONGCTX_BIN not set";
  const std::string dir = temp_path("cli"), log = temp_path("cli.log");
  const auto run = [&](const std::string& args) {
    const int st =
        std::system(("'" + test::longctx_bin() + "' " + args + " >'" + log + "' 2>&1").c_str());
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  };
  ASSERT_EQ(run("synth-model --arch mpt -o '" + dir +
                "' --dim 64 --layers 2 --heads 4 --vocab 300 --ctx 64 --seed 3"),
            0)
      << slurp(log);
  EXPECT_EQ(run("bench -m '" + dir + "' --attn lambda --prompt 40 --gen 100 --reps 1"), 0)
      << slurp(log);
  EXPECT_NE(slurp(log).find("lambda(G=10,L=64,D=64)"), std::string::npos) << slurp(log);
  EXPECT_EQ(run("logits -m '" + dir + "' --tokens 1,2,3,4 --out '" + temp_path("l.bin") + "'"), 0)
      << slurp(log);
  EXPECT_EQ(run("convert '" + dir + "' '" + temp_path("bf16") + "' --dtype bf16"), 0) << slurp(log);
  auto g = load_model_file(temp_path("bf16"));
  EXPECT_EQ(g->config.arch, Arch::Mpt);
  EXPECT_EQ(g->find("blk.0.attn_qkv")->dtype, DType::BF16);
  EXPECT_NE(run("convert '" + dir + "' '" + temp_path("x.gguf") + "'"), 0);
  EXPECT_NE(slurp(log).find("'mpt' architecture to GGUF is not supported"), std::string::npos)
      << slurp(log);
  EXPECT_NE(run("synth-model --arch mpt -o '" + temp_path("bad") +
                "' --dim 64 --hidden 100 --layers 1 --heads 4 --vocab 30 --ctx 8"),
            0);
  EXPECT_NE(slurp(log).find("multiple of --dim"), std::string::npos) << slurp(log);
}

// ALiBi with LM-Infinite top-k (unbounded and a bounded middle pool) and TRAMS (true and
// compacted distances): the whole model against the dense reference forward (scores recomputed
// by hand from Wqkv's q rows), and decode after prefill against one shot.
TEST(MptTopKAndTrams, MatchDenseReferenceAndDecodeAfterPrefill) {
  std::vector<AttentionConfig> cfgs(4);
  for (int i = 0; i < 2; ++i) {
    cfgs[i].policy = AttnPolicy::Lambda;
    cfgs[i].sinks = 2;
    cfgs[i].window = 6;
    cfgs[i].ceiling = 6;
    cfgs[i].topk = 3 - i;
    cfgs[i].topk_from_layer = i;
  }
  cfgs[1].middle_pool = 5;
  cfgs[1].trams_score = TramsScore::Code;
  for (int i = 2; i < 4; ++i) {
    cfgs[i].policy = AttnPolicy::Trams;
    cfgs[i].trams_pool = 14;
    cfgs[i].trams_recent = 3;
    cfgs[i].trams_select = 7;
  }
  cfgs[3].trams_compacted = true;
  cfgs[3].trams_score = TramsScore::Code;
  int idx = 0;
  for (const AttentionConfig& cfg : cfgs)
    for (int shape = 0; shape < 3; ++shape, ++idx) {
      auto f = load_model_file(write_mpt_dir(kShapes[shape]));
      LlamaModel m(*f);
      const int64_t n = 45, V = f->config.vocab_size, block = 1 + idx % 7;
      auto toks = test::random_tokens(n, V, 5 + shape);
      Session one(m, SessionOptions{n, 2, block, cfg});
      std::vector<float> got(n * V);
      one.all_logits(toks.data(), n, got.data());
      test::DensePolicy dp{cfg.policy, cfg.sinks, cfg.window, cfg.ceiling};
      dp.topk = cfg.topk;
      dp.topk_distance = f->config.ctx_len / 2;
      dp.topk_from_layer = cfg.topk_from_layer;
      dp.middle_pool = cfg.middle_pool;
      dp.trams_pool = cfg.trams_pool;
      dp.trams_recent = cfg.trams_recent;
      dp.trams_select = cfg.trams_select;
      dp.trams_compacted = cfg.trams_compacted;
      dp.score_code = cfg.trams_score == TramsScore::Code;
      auto want = test::llama_policy_reference_logits(*f, toks, dp);
      EXPECT_LT(test::rel_err(got.data(), want.data(), got.size()), 5e-5)
          << cfg.label() << " " << kShapes[shape].name;
      Session s(m, SessionOptions{0, 1, block, cfg});
      const float* l = s.prefill(toks.data(), 17);
      for (int64_t i = 17; i < n; ++i) l = s.decode(toks[i]);
      EXPECT_LT(test::rel_err(l, got.data() + (n - 1) * V, V), 1e-5)
          << cfg.label() << " " << kShapes[shape].name;
    }
}

}  // namespace
}  // namespace lc
