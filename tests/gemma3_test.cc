// Gemma 3 through the Llama-family forward: a tiny random model (tests/gemma3_model.h) against a
// slow reference written from transformers' Gemma3ForCausalLM, over sequences several sliding
// windows long; local layers keep their window while the session's policy (full, lambda,
// streaming) applies to the global layers; decode after prefill equals one-shot prefill; the HF
// and GGUF writers and readers round-trip the model; HF configs in both formats and GGUF's
// layer pattern are read as transformers and llama.cpp read them; unsupported options are
// refused by name.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "flash_amx_scope.h"
#include "formats/gguf_writer.h"
#include "formats/hf.h"
#include "gemma3_model.h"
#include "model/llama.h"
#include "policy_cases.h"
#include "runtime/session.h"
#include "test_util.h"

namespace lc {
namespace {

using test::DensePolicy;
using test::expect_error;
using test::gemma3_model;
using test::gemma3_reference_logits;
using test::Gemma3Spec;
using test::random_tokens;
using test::rel_err;

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/longctx_gemma3_" + std::to_string(::getpid()) + "_" + name;
}

std::vector<float> session_logits(const Model& m, const AttentionConfig& attn,
                                  const std::vector<int>& toks, int64_t block, int threads) {
  Session s(m, SessionOptions{0, threads, block, attn});
  std::vector<float> out(toks.size() * m.vocab_size());
  s.all_logits(toks.data(), static_cast<int64_t>(toks.size()), out.data());
  return out;
}

DensePolicy dense_full() { return DensePolicy{}; }

struct RunCase {
  int threads;
  int64_t block;
};

class Gemma3Forward : public ::testing::TestWithParam<RunCase> {};

// Full attention on the global layers; 40 tokens = more than six local windows of 6.
TEST_P(Gemma3Forward, AllLogitsMatchReference) {
  const RunCase r = GetParam();
  for (bool tied : {true, false}) {
    Gemma3Spec spec;
    spec.tied = tied;
    auto f = gemma3_model(spec);
    LlamaModel m(*f);
    EXPECT_EQ(m.groups(), 2);
    const auto toks = random_tokens(40, spec.vocab, 3);
    const auto got = session_logits(m, {}, toks, r.block, r.threads);
    const auto want = gemma3_reference_logits(*f, toks, dense_full());
    EXPECT_LT(rel_err(got.data(), want.data(), got.size()), 2e-5) << "tied " << tied;
    // Control: the same weights with the local layers' window and RoPE base ignored.
    const auto wrong = gemma3_reference_logits(*f, toks, dense_full(), /*local_as_global=*/true);
    EXPECT_GT(rel_err(got.data(), wrong.data(), got.size()), 1e-2);
  }
}

// Decoding token by token after a prefill equals the one-shot logits, across the moment the
// local ring wraps, under full and under lambda (bounded global layers).
TEST_P(Gemma3Forward, PrefillThenDecodeEqualsOneShot) {
  const RunCase r = GetParam();
  auto f = gemma3_model(Gemma3Spec{});
  LlamaModel m(*f);
  const int64_t n = 37, n_prompt = 13, V = m.vocab_size();
  const auto toks = random_tokens(n, V, 9);
  AttentionConfig lambda = test::config_of({AttnPolicy::Lambda, 2, 9, 9});
  for (const AttentionConfig& attn : {AttentionConfig{}, lambda}) {
    const SessionOptions so{0, r.threads, r.block, attn};
    Session a(m, so), b(m, so);
    std::vector<float> all(n * V);
    a.all_logits(toks.data(), n, all.data());
    const float* l = b.prefill(toks.data(), n_prompt);
    EXPECT_LT(rel_err(l, all.data() + (n_prompt - 1) * V, V), 1e-5) << attn.label();
    for (int64_t i = n_prompt; i < n; ++i) {
      l = b.decode(toks[i]);
      ASSERT_LT(rel_err(l, all.data() + i * V, V), 1e-5) << attn.label() << " position " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Runs, Gemma3Forward,
                         ::testing::Values(RunCase{1, 64}, RunCase{2, 5}, RunCase{3, 1}),
                         [](const ::testing::TestParamInfo<RunCase>& i) {
                           return "t" + std::to_string(i.param.threads) + "_b" +
                                  std::to_string(i.param.block);
                         });

// A bounded policy applies to the global layers only: lambda and streaming against the dense
// reference with the same policy on the global layers and the trained window on the local ones;
// the cache stays bounded (a ring per group) however long the stream.
TEST(Gemma3Policies, BoundedPolicyOnGlobalLayersLocalLayersKeepTheirWindow) {
  auto f = gemma3_model(Gemma3Spec{});
  LlamaModel m(*f);
  const auto toks = random_tokens(45, m.vocab_size(), 21);
  const test::Pol cases[] = {{AttnPolicy::Lambda, 2, 9, 9},
                             {AttnPolicy::Lambda, 3, 8, test::kNone},
                             {AttnPolicy::Streaming, 2, 10, test::kNone},
                             {AttnPolicy::Window, 0, 11, test::kNone}};
  for (const test::Pol& p : cases) {
    const AttentionConfig attn = test::config_of(p);
    DensePolicy dp;
    dp.policy = p.policy;
    dp.sinks = p.sinks;
    dp.window = p.window;
    dp.ceiling = p.policy == AttnPolicy::Lambda ? p.ceiling : test::kNone;
    const auto want = gemma3_reference_logits(*f, toks, dp);
    for (int64_t block : {int64_t{64}, int64_t{4}}) {
      const auto got = session_logits(m, attn, toks, block, 2);
      EXPECT_LT(rel_err(got.data(), want.data(), got.size()), 2e-5)
          << attn.label() << " block " << block;
    }
    // The same policy on every layer (local window ignored) is a different model.
    const auto everywhere = gemma3_reference_logits(*f, toks, dp, /*local_as_global=*/true);
    const auto got = session_logits(m, attn, toks, 64, 1);
    EXPECT_GT(rel_err(got.data(), everywhere.data(), got.size()), 1e-2) << attn.label();
  }
  // The state: the global group's policy, then the local group's trained window, each a ring.
  Session s(m, SessionOptions{0, 1, 8, test::config_of({AttnPolicy::Lambda, 2, 9, 9})});
  EXPECT_EQ(s.label(), "lambda(G=2,L=9,D=9)+local:window(W=6)");
  EXPECT_EQ(s.capacity(), INT64_MAX);
  const size_t bytes = s.state_bytes();
  // 1 global layer: 2 sinks (with unrotated copies) + ring 9 + 7; 3 local layers: ring 6 + 7.
  const int64_t kv = f->config.n_kv_heads * f->config.head_dim;
  EXPECT_EQ(bytes, sizeof(float) * kv * (1 * (2 * (2 + 16) + 2) + 3 * 2 * 13));
  std::vector<int> stream = random_tokens(300, m.vocab_size(), 5);
  s.prefill(stream.data(), 300);
  EXPECT_EQ(s.state_bytes(), bytes);
  // Full attention keeps every position in the global layer only.
  Session full(m, SessionOptions{100, 1, 8, {}});
  EXPECT_EQ(full.label(), "full+local:window(W=6)");
  EXPECT_EQ(full.capacity(), 100);
  EXPECT_EQ(full.state_bytes(), sizeof(float) * kv * (1 * 2 * 100 + 3 * 2 * 13));
}

// Linear position scaling on the global layers only (Gemma 3 4B+), and final softcapping.
TEST(Gemma3Forward, LinearScalingOnGlobalLayersAndSoftcap) {
  Gemma3Spec spec;
  spec.linear_factor = 8.0;
  spec.softcap = 2.0;
  spec.rope_theta = 1e4;  // large angles: the scaling must show
  auto f = gemma3_model(spec);
  LlamaModel m(*f);
  const auto toks = random_tokens(30, spec.vocab, 4);
  const auto got = session_logits(m, {}, toks, 7, 2);
  const auto want = gemma3_reference_logits(*f, toks, dense_full());
  EXPECT_LT(rel_err(got.data(), want.data(), got.size()), 2e-5);
  for (float x : got) EXPECT_LE(std::fabs(x), 2.0f);
  // Control: without the scaling (the reference scales the global layers only).
  auto g = gemma3_model(spec);
  g->config.rope_scaling = {};
  const auto other = gemma3_reference_logits(*g, toks, dense_full());
  EXPECT_GT(rel_err(got.data(), other.data(), got.size()), 1e-3);
}

// Writers and readers: an HF directory (norms written as w = factor - 1, config.json in the
// transformers layout) and a GGUF (gemma3.* keys; a periodic pattern as its period, an irregular
// one as per-layer flags; the query scale folded into attn_q_norm) give the original's logits.
TEST(Gemma3Formats, HfAndGgufRoundTrips) {
  for (int layout = 0; layout < 2; ++layout) {
    Gemma3Spec spec;
    if (layout == 1) spec.local = {true, false, true, false};  // period 2: (l + 1) % 2 == 0
    auto f = gemma3_model(spec);
    LlamaModel m(*f);
    const auto toks = random_tokens(33, spec.vocab, 8);
    const auto want = session_logits(m, {}, toks, 64, 2);

    const std::string dir = temp_path("hf" + std::to_string(layout));
    write_hf_dir(dir, *f);
    auto h = load_model_file(dir);
    EXPECT_EQ(h->config.arch, Arch::Gemma3);
    EXPECT_EQ(h->config.local_layers, spec.local);
    EXPECT_EQ(h->config.sliding_window, spec.window);
    EXPECT_EQ(h->config.query_pre_attn_scalar, spec.query_pre_attn_scalar);
    EXPECT_EQ(h->config.rope_local_theta, spec.rope_local_theta);
    const auto from_hf = session_logits(LlamaModel(*h), {}, toks, 64, 2);
    EXPECT_LT(rel_err(from_hf.data(), want.data(), want.size()), 1e-6) << "HF, layout " << layout;

    const std::string gguf = temp_path("g" + std::to_string(layout) + ".gguf");
    write_model_gguf(gguf, *f, {});
    auto g = load_model_file(gguf);
    EXPECT_EQ(g->config.arch, Arch::Gemma3);
    EXPECT_EQ(g->config.local_layers, spec.local);
    EXPECT_EQ(g->config.rope_style, ops::RopeStyle::RotateHalf);
    // llama.cpp's derived scale; the model's own is folded into attn_q_norm.
    EXPECT_EQ(g->config.query_pre_attn_scalar, static_cast<double>(spec.head_dim));
    EXPECT_TRUE(g->config.tied_embeddings);
    const auto from_gguf = session_logits(LlamaModel(*g), {}, toks, 64, 2);
    EXPECT_LT(rel_err(from_gguf.data(), want.data(), want.size()), 1e-5) << "GGUF " << layout;
    // And back to HF from the GGUF (the folded scale stays folded: the same model).
    const std::string back = temp_path("back" + std::to_string(layout));
    write_hf_dir(back, *g);
    const auto from_back = session_logits(LlamaModel(*load_model_file(back)), {}, toks, 64, 2);
    EXPECT_LT(rel_err(from_back.data(), want.data(), want.size()), 1e-5) << "back " << layout;
  }
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// An HF directory with the test model's weights and a hand-written config.json.
std::string hf_dir_with_config(const std::string& name, const std::string& config) {
  const std::string dir = temp_path(name);
  write_hf_dir(dir, *gemma3_model(Gemma3Spec{}));
  write_text(dir + "/config.json", config);
  return dir;
}

const char* kConfigHead =
    R"({"architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text", "hidden_size": 32,)"
    R"( "intermediate_size": 40, "num_hidden_layers": 4, "num_attention_heads": 4,)"
    R"( "num_key_value_heads": 2, "head_dim": 8, "vocab_size": 50, "sliding_window": 6,)"
    R"( "query_pre_attn_scalar": 5, "max_position_embeddings": 128)";

TEST(Gemma3Config, BothHfFormats) {
  // transformers >= 4.57: layer_types and rope_parameters keyed by layer type.
  auto a = load_model_file(hf_dir_with_config(
      "cfg_new",
      std::string(kConfigHead) +
          R"(, "layer_types": ["full_attention", "sliding_attention", "sliding_attention",)"
          R"( "full_attention"], "rope_parameters": {"full_attention": {"rope_type":)"
          R"( "linear", "factor": 8.0, "rope_theta": 500000.0}, "sliding_attention":)"
          R"( {"rope_type": "default", "rope_theta": 20000.0}}})"));
  const ModelConfig& c = a->config;
  EXPECT_EQ(c.local_layers, (std::vector<bool>{false, true, true, false}));
  EXPECT_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.rope_local_theta, 20000.0);
  EXPECT_EQ(c.rope_scaling.type, ops::RopeScaling::Type::Linear);
  EXPECT_EQ(c.rope_scaling.factor, 8.0);
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_EQ(c.ffn, FfnKind::GeGLU);
  EXPECT_EQ(c.bos_id, 2);
  // The older format: sliding_window_pattern (layer l global when (l + 1) % P == 0), the
  // rope_theta / rope_local_base_freq / rope_scaling keys; defaults as Gemma3TextConfig's.
  auto b = load_model_file(hf_dir_with_config(
      "cfg_old", std::string(kConfigHead) +
                     R"(, "sliding_window_pattern": 3, "rope_local_base_freq": 5000.0,)"
                     R"( "rope_scaling": {"rope_type": "linear", "factor": 4.0}})"));
  EXPECT_EQ(b->config.local_layers, (std::vector<bool>{true, true, false, true}));
  EXPECT_EQ(b->config.rope_theta, 1e6);
  EXPECT_EQ(b->config.rope_local_theta, 5000.0);
  EXPECT_EQ(b->config.rope_scaling.factor, 4.0);
  // No sliding_window_pattern: 6, so four layers are all local.
  auto d = load_model_file(hf_dir_with_config("cfg_default", std::string(kConfigHead) + "}"));
  EXPECT_EQ(d->config.local_layers, std::vector<bool>(4, true));
  EXPECT_EQ(d->config.local_pattern(), 5);
}

TEST(Gemma3Config, UnsupportedOptionsAreRefusedByName) {
  const std::string head = kConfigHead;
  const std::pair<std::string, std::vector<std::string>> cases[] = {
      {head + R"(, "attn_logit_softcapping": 50.0})", {"attn_logit_softcapping"}},
      {head + R"(, "hidden_activation": "silu"})", {"hidden_activation", "silu"}},
      {head + R"(, "use_bidirectional_attention": true})", {"use_bidirectional_attention"}},
      {head + R"(, "attention_bias": true})", {"attention_bias"}},
      {head + R"(, "layer_types": ["full_attention", "chunked_attention", "full_attention",)"
              R"( "full_attention"]})",
       {"layer_types[1]", "chunked_attention"}},
      {head + R"(, "layer_types": ["full_attention"]})", {"layer_types", "4"}},
      {head +
           R"(, "rope_parameters": {"full_attention": {"rope_type": "dynamic", "factor": 2.0}}})",
       {"dynamic"}},
      {head + R"(, "rope_parameters": {"sliding_attention": {"rope_type": "linear",)"
              R"( "factor": 2.0}}})",
       {"sliding_attention", "linear", "local layers"}},
      {R"({"architectures": ["Gemma3ForConditionalGeneration"]})",
       {"Gemma3ForConditionalGeneration", "Gemma3ForCausalLM"}},
  };
  int i = 0;
  for (const auto& [config, needles] : cases) {
    const std::string dir = hf_dir_with_config("bad" + std::to_string(i++), config);
    expect_error([&] { load_model_file(dir); }, needles);
  }
}

// GGUF gemma3 as llama.cpp reads it: no pattern key = period 6 (layers 5, 11, 17 global of 18),
// rope.freq_base_swa default 10000, the query scale derived from head_dim.
TEST(Gemma3Config, GgufPatternDefaults) {
  Gemma3Spec spec;
  spec.n_layers = 7;
  spec.local.assign(7, true);
  spec.local[5] = false;  // period 6
  spec.rope_local_theta = 10000.0;
  spec.query_pre_attn_scalar = 8.0;
  auto f = gemma3_model(spec);
  const std::string path = temp_path("defaults.gguf");
  write_model_gguf(path, *f, {});
  MappedFile mf(path);
  const GgufFile g = parse_gguf(mf.data(), mf.size(), path);
  EXPECT_EQ(g.get_int("gemma3.attention.sliding_window_pattern", 0, 100), 6);
  EXPECT_EQ(g.get_int("gemma3.attention.sliding_window", 0, 100), 6);
  auto back = load_model_file(path);
  EXPECT_EQ(back->config.local_layers, spec.local);
  EXPECT_EQ(back->config.query_pre_attn_scalar, 8.0);
  // q norms untouched when the scale needs no folding.
  EXPECT_EQ(*static_cast<const float*>(back->find("blk.0.attn_q_norm")->data),
            *static_cast<const float*>(f->find("blk.0.attn_q_norm")->data));
}

// Tensors that the config does not use are refused rather than ignored.
TEST(Gemma3Config, StrayGemmaTensorsAreRefused) {
  auto f = gemma3_model(Gemma3Spec{});
  f->config.qk_norm = false;
  expect_error([&] { LlamaModel m(*f); }, {"blk.0.attn_q_norm", "no q/k norm"});
  auto g = gemma3_model(Gemma3Spec{});
  g->config.post_norms = false;
  expect_error([&] { LlamaModel m(*g); }, {"blk.0.post_attention_norm"});
  auto h = gemma3_model(Gemma3Spec{});
  h->config.local_layers.resize(3);
  expect_error([&] { LlamaModel m(*h); }, {"3 local/global layer flags", "4 layers"});
}

// The real file (google/gemma-3-270m, Q4_K_M; scripts/fetch_gemma3.sh installs it outside the
// repository, Gemma terms), found through LONGCTX_GEMMA3_GGUF; skipped, saying why, without it.
// tests/parity/gemma3_llamacpp_parity.py compares it with llama.cpp at length.
std::string real_gemma3() {
  const char* env = std::getenv("LONGCTX_GEMMA3_GGUF");
  return env && *env ? std::string(env) : std::string();
}

#define LC_REQUIRE_GEMMA3(path)                                                                   \
  do {                                                                                            \
    if ((path).empty() || !test::file_exists(path))                                               \
      GTEST_SKIP() << "Gemma 3 GGUF not found (set LONGCTX_GEMMA3_GGUF; scripts/fetch_gemma3.sh " \
                      "installs it outside the repository)";                                      \
  } while (0)

TEST(Gemma3Real, ConfigAsLlamaCppReadsIt) {
  const std::string path = real_gemma3();
  LC_REQUIRE_GEMMA3(path);
  auto f = load_model_file(path);
  const ModelConfig& c = f->config;
  EXPECT_EQ(c.arch, Arch::Gemma3);
  EXPECT_EQ(c.n_layers, 18);
  EXPECT_EQ(c.d_model, 640);
  EXPECT_EQ(c.head_dim, 256);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.n_kv_heads, 1);
  EXPECT_EQ(c.vocab_size, 262144);
  EXPECT_EQ(c.ctx_len, 32768);
  EXPECT_EQ(c.sliding_window, 512);
  EXPECT_EQ(c.local_pattern(), 6);  // layers 5, 11, 17 global
  EXPECT_EQ(c.rope_theta, 1e6);
  EXPECT_EQ(c.rope_local_theta, 1e4);
  EXPECT_EQ(c.query_pre_attn_scalar, 256.0);
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_EQ(f->find("blk.0.ffn_down")->dtype, DType::Q6_K);
  EXPECT_EQ(f->find("token_embd")->dtype, DType::Q8_0);
}

// "The capital of France is" (llama.cpp's ids, with BOS): the first 10 greedy tokens, on which
// llama.cpp (f32 and f16 caches), the exact f32 computation of the same weights and longctx all
// agree (gemma3_llamacpp_parity.py: the continuations part at token 11, a near tie).
TEST(Gemma3Real, GreedyPrefixMatchesLlamaCpp) {
  const std::string path = real_gemma3();
  LC_REQUIRE_GEMMA3(path);
  auto f = load_model_file(path);
  LlamaModel m(*f);
  Session s(m, SessionOptions{1024, 2, 64, {}});
  const std::vector<int> prompt = {2, 818, 5279, 529, 7001, 563};
  const std::vector<int> want = {506, 5279, 529, 506, 2891, 529, 7001, 236761, 1030, 563};
  const float* l = s.prefill(prompt.data(), static_cast<int64_t>(prompt.size()));
  std::vector<int> got;
  for (size_t i = 0; i < want.size(); ++i) {
    got.push_back(static_cast<int>(std::max_element(l, l + m.vocab_size()) - l));
    l = s.decode(got.back());
  }
  EXPECT_EQ(got, want);
}

// Past the 512-token window: decoding after a prefill equals the one-shot prefill (the local
// rings wrap, the global cache does not), and with lambda on the global layers the memory stays
// that of two rings. On f32 weights and an f32 cache: as stored, the prefill's products run on
// the integer GEMM (activations quantized per row block) and decode on the integer GEMV, and the
// file's 8-bit activations turn a last-bit difference into a rounding step (3.8% / 4.7% of the
// largest logit), as large as the effect of a lost token; in f32 the two paths differ only in
// the order of their sums.
TEST(Gemma3Real, DecodeAfterPrefillPastTheWindow) {
  const std::string path = real_gemma3();
  LC_REQUIRE_GEMMA3(path);
  auto f = load_model_file(path);
  f->convert_matrices(DType::F32);
  LlamaModel m(*f);
  const int64_t n = 540, n_prompt = 505, V = m.vocab_size();
  const auto toks = random_tokens(n, 20000, 17);
  for (AttentionConfig attn :
       {AttentionConfig{}, test::config_of({AttnPolicy::Lambda, 4, 128, 128})}) {
    attn.k_type = attn.v_type = DType::F32;
    Session one(m, SessionOptions{1024, 2, 64, attn}), steps(m, SessionOptions{1024, 2, 64, attn});
    const float* a = one.prefill(toks.data(), n);
    std::vector<float> last(a, a + V);
    const float* b = steps.prefill(toks.data(), n_prompt);
    for (int64_t i = n_prompt; i < n; ++i) b = steps.decode(toks[i]);
    EXPECT_LT(rel_err(b, last.data(), V), 1e-5) << attn.label();
  }
}

}  // namespace
}  // namespace lc
