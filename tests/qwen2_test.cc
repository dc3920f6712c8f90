// Qwen2ForCausalLM: q/k/v projection biases end to end. A tiny random Qwen2 Hugging Face
// directory (GQA, rotate-half RoPE, nonzero biases) is written with the project's safetensors
// writer plus a hand-written Qwen2-style config.json, loaded with load_model_file, and compared
// against the slow reference forward (tests/llama_reference.h, which adds the biases).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "formats/gguf_writer.h"
#include "formats/hf.h"
#include "formats/synthetic.h"
#include "llama_reference.h"
#include "model/llama.h"
#include "runtime/session.h"
#include "test_util.h"

namespace lc {
namespace {

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/longctx_qwen2_" + std::to_string(::getpid()) + "_" + name;
}

constexpr int64_t kDim = 32, kHidden = 40, kLayers = 2, kHeads = 4, kKvHeads = 2, kHeadDim = 8,
                  kVocab = 50, kCtx = 128;

// Writes a random Qwen2 directory; `drop` names a canonical tensor to leave out.
std::string write_qwen2_dir(const std::string& name, bool tied, const std::string& drop = "",
                            uint64_t seed = 17) {
  ModelFile m;
  ModelConfig& c = m.config;
  c.d_model = kDim;
  c.hidden = kHidden;
  c.n_layers = kLayers;
  c.n_heads = kHeads;
  c.n_kv_heads = kKvHeads;
  c.head_dim = kHeadDim;
  c.vocab_size = kVocab;
  c.ctx_len = kCtx;
  c.norm_eps = 1e-6f;
  c.rope_theta = 1000000.0;
  c.rope_style = ops::RopeStyle::RotateHalf;
  c.tied_embeddings = tied;
  c.qkv_bias = true;
  Rng r(seed);
  add_random_tensor(m, "token_embd", {kVocab, kDim}, r, 0.5f);
  if (!tied) add_random_tensor(m, "output", {kVocab, kDim}, r, 0.3f);
  add_random_tensor(m, "output_norm", {kDim}, r, 0.1f, 1.0f);
  const int64_t q = kHeads * kHeadDim, kv = kKvHeads * kHeadDim;
  for (int64_t l = 0; l < kLayers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add_random_tensor(m, p + "attn_norm", {kDim}, r, 0.1f, 1.0f);
    add_random_tensor(m, p + "ffn_norm", {kDim}, r, 0.1f, 1.0f);
    add_random_tensor(m, p + "attn_q", {q, kDim}, r, 0.25f);
    add_random_tensor(m, p + "attn_k", {kv, kDim}, r, 0.25f);
    add_random_tensor(m, p + "attn_v", {kv, kDim}, r, 0.25f);
    add_random_tensor(m, p + "attn_q.bias", {q}, r, 0.8f);  // large enough to matter
    add_random_tensor(m, p + "attn_k.bias", {kv}, r, 0.8f);
    add_random_tensor(m, p + "attn_v.bias", {kv}, r, 0.8f);
    add_random_tensor(m, p + "attn_output", {kDim, q}, r, 0.25f);
    add_random_tensor(m, p + "ffn_gate", {kHidden, kDim}, r, 0.25f);
    add_random_tensor(m, p + "ffn_up", {kHidden, kDim}, r, 0.25f);
    add_random_tensor(m, p + "ffn_down", {kDim, kHidden}, r, 0.25f);
  }
  for (size_t i = 0; i < m.tensors.size(); ++i)
    if (m.tensors[i].name == drop) m.tensors.erase(m.tensors.begin() + static_cast<long>(i));
  const std::string dir = temp_path(name);
  write_hf_dir(dir, m);
  // A config.json as Qwen2 releases ship it: no attention_bias key (Qwen2 implies q/k/v
  // biases), a sliding_window that is off (use_sliding_window false), rope_theta 1e6.
  std::ofstream(dir + "/config.json")
      << R"({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",)"
      << R"( "hidden_size": 32, "intermediate_size": 40, "num_hidden_layers": 2,)"
      << R"( "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 50,)"
      << R"( "max_position_embeddings": 128, "max_window_layers": 2, "rms_norm_eps": 1e-06,)"
      << R"( "rope_theta": 1000000.0, "sliding_window": 64, "use_sliding_window": false,)"
      << R"( "hidden_act": "silu", "bos_token_id": 3, "eos_token_id": 4,)"
      << R"( "tie_word_embeddings": )" << (tied ? "true" : "false")
      << R"(, "torch_dtype": "float32"})";
  return dir;
}

std::vector<int> random_tokens(int64_t n, uint64_t seed) {
  return test::random_tokens(n, kVocab, seed);
}

using test::rel_err;

using test::expect_error;

TEST(Qwen2Load, ConfigMapsToBiasedRotateHalfGqa) {
  auto f = load_model_file(write_qwen2_dir("cfg", false));
  const ModelConfig& c = f->config;
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_EQ(c.rope_style, ops::RopeStyle::RotateHalf);
  EXPECT_EQ(c.n_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.sliding_window, 0);  // use_sliding_window is false
  EXPECT_EQ(c.rope_theta, 1000000.0);
  ASSERT_NE(f->find("blk.1.attn_k.bias"), nullptr);
  EXPECT_EQ(f->find("blk.1.attn_k.bias")->shape, std::vector<int64_t>{16});
}

struct Case {
  bool tied;
  int threads;
  int64_t block;
};

class Qwen2Forward : public ::testing::TestWithParam<Case> {};

TEST_P(Qwen2Forward, AllLogitsMatchReferenceWithBiases) {
  const Case k = GetParam();
  auto f = load_model_file(write_qwen2_dir(k.tied ? "tied" : "untied", k.tied));
  LlamaModel m(*f);
  const int64_t n = 29;
  auto toks = random_tokens(n, 5);
  Session s(m, SessionOptions{0, k.threads, k.block, {}});
  std::vector<float> got(n * kVocab);
  s.all_logits(toks.data(), n, got.data());
  const auto want = test::llama_reference_logits(*f, toks);
  EXPECT_LT(rel_err(got.data(), want.data(), got.size()), 2e-5);

  // The biases matter: the reference without them is far away.
  auto g = load_model_file(write_qwen2_dir(k.tied ? "tied_nb" : "untied_nb", k.tied));
  std::erase_if(g->tensors, [](const TensorRef& t) { return t.name.ends_with(".bias"); });
  const auto no_bias = test::llama_reference_logits(*g, toks);
  EXPECT_GT(rel_err(got.data(), no_bias.data(), got.size()), 1e-2);
}

TEST_P(Qwen2Forward, PrefillThenDecodeEqualsAllLogits) {
  const Case k = GetParam();
  auto f = load_model_file(write_qwen2_dir(k.tied ? "pd_tied" : "pd_untied", k.tied));
  LlamaModel m(*f);
  const int64_t n = 31, n_prompt = 12;
  auto toks = random_tokens(n, 9);
  const SessionOptions so{0, k.threads, k.block, {}};
  Session a(m, so), b(m, so), t(m, so);
  std::vector<float> all(n * kVocab);
  a.all_logits(toks.data(), n, all.data());
  const float* l = b.prefill(toks.data(), n_prompt);
  EXPECT_LT(rel_err(l, all.data() + (n_prompt - 1) * kVocab, kVocab), 1e-5);
  for (int64_t i = n_prompt; i < n; ++i) {
    l = b.decode(toks[i]);
    ASSERT_LT(rel_err(l, all.data() + i * kVocab, kVocab), 1e-5) << "position " << i;
  }
  for (int64_t i = 0; i < n; ++i) {
    l = t.decode(toks[i]);
    ASSERT_LT(rel_err(l, all.data() + i * kVocab, kVocab), 1e-5) << "position " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, Qwen2Forward,
                         ::testing::Values(Case{false, 1, 64}, Case{true, 2, 5}, Case{false, 3, 1}),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           return std::string(i.param.tied ? "tied" : "untied") + "_t" +
                                  std::to_string(i.param.threads) + "_b" +
                                  std::to_string(i.param.block);
                         });

TEST(Qwen2Load, MissingBiasIsAClearError) {
  const std::string dir = write_qwen2_dir("missing", false, "blk.1.attn_v.bias");
  expect_error([&] { load_model_file(dir); },
               {dir, "model.layers.1.self_attn.v_proj.bias", "missing"});
  // The model binds the canonical names itself too (any reader): missing and misshapen.
  auto f = load_model_file(write_qwen2_dir("bind", false));
  std::erase_if(f->tensors, [](const TensorRef& t) { return t.name == "blk.0.attn_k.bias"; });
  expect_error([&] { LlamaModel m(*f); }, {"blk.0.attn_k.bias", "missing"});
  auto g = load_model_file(write_qwen2_dir("shape", false));
  for (auto& t : g->tensors)
    if (t.name == "blk.0.attn_q.bias") t.shape = {16};
  expect_error([&] { LlamaModel m(*g); }, {"blk.0.attn_q.bias", "shape"});
}

TEST(Qwen2Load, BiasesOutsideQwen2AreRefused) {
  const std::string dir = write_qwen2_dir("llama_bias", false);
  std::string cfg;
  {
    std::ifstream in(dir + "/config.json");
    cfg.assign(std::istreambuf_iterator<char>(in), {});
  }
  cfg.replace(cfg.find("Qwen2ForCausalLM"), 16, "LlamaForCausalLM");
  std::ofstream(dir + "/config.json") << cfg;
  expect_error([&] { load_model_file(dir); }, {"self_attn.q_proj.bias", "Qwen2ForCausalLM"});
}

TEST(Qwen2Convert, HfRoundTripKeepsBiasesAndGgufIsRefused) {
  auto f = load_model_file(write_qwen2_dir("rt_src", false));
  LlamaModel m(*f);
  const std::string out = temp_path("rt_out");
  write_hf_dir(out, *f);  // the writer's own config.json must load as Qwen2 again
  auto g = load_model_file(out);
  EXPECT_TRUE(g->config.qkv_bias);
  LlamaModel mg(*g);
  auto toks = random_tokens(17, 3);
  std::vector<float> a(17 * kVocab), b(17 * kVocab);
  Session(m, SessionOptions{0, 1, 8, {}}).all_logits(toks.data(), 17, a.data());
  Session(mg, SessionOptions{0, 1, 8, {}}).all_logits(toks.data(), 17, b.data());
  EXPECT_EQ(a, b);
  // GGUF output of a bias model is refused by name rather than written wrongly.
  permute_rope_rows(*g, ops::RopeStyle::AdjacentPairs);
  const std::string gguf = temp_path("rt.gguf");
  expect_error([&] { write_model_gguf(gguf, *g, {}); }, {gguf, "biases", "GGUF"});
  struct stat st {};
  EXPECT_NE(::stat(gguf.c_str(), &st), 0) << "no file is left behind";
}

TEST(Qwen2Convert, CliRefusesGgufAndWritesHf) {
  if (test::longctx_bin().empty()) GTEST_SKIP() << "LONGCTX_BIN not set";
  const std::string dir = write_qwen2_dir("cli_src", false), log = temp_path("cli.log");
  const auto run = [&](const std::string& args) {
    const int st = std::system(
        ("'" + test::longctx_bin() + "' convert " + args + " >/dev/null 2>'" + log + "'").c_str());
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  };
  EXPECT_NE(run("'" + dir + "' '" + temp_path("cli.gguf") + "'"), 0);
  std::ifstream in(log);
  const std::string err(std::istreambuf_iterator<char>(in), {});
  EXPECT_NE(err.find("not supported"), std::string::npos) << err;
  EXPECT_EQ(run("'" + dir + "' '" + temp_path("cli_hf") + "' --to hf --dtype bf16"), 0);
  auto g = load_model_file(temp_path("cli_hf"));
  EXPECT_TRUE(g->config.qkv_bias);
  EXPECT_EQ(g->find("blk.0.attn_q.bias")->dtype, DType::F32);
  LlamaModel m(*g);
}

}  // namespace
}  // namespace lc
