// Hugging Face directories beyond the single-file case: sharded safetensors listed in
// model.safetensors.index.json (loaded tensor for tensor like the single file; a bad index is
// refused naming the file), and MistralForCausalLM's sliding_window honoured as the default
// attention (window W = sliding_window) while an explicit `--attn full` still attends everything.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "formats/hf.h"
#include "formats/synthetic.h"
#include "model/llama.h"
#include "runtime/session.h"
#include "test_util.h"

namespace lc {
namespace {

constexpr int64_t kDim = 24, kHidden = 40, kLayers = 2, kHeads = 3, kKvHeads = 1, kHeadDim = 8,
                  kVocab = 37, kCtx = 64;

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/longctx_hfdir_" + std::to_string(::getpid()) + "_" + name;
}

// A random rotate-half Llama-family model with GQA (untied), `sliding_window` 0 = Llama.
void fill_model(ModelFile& m, int64_t sliding_window) {
  ModelConfig& c = m.config;
  c.d_model = kDim;
  c.hidden = kHidden;
  c.n_layers = kLayers;
  c.n_heads = kHeads;
  c.n_kv_heads = kKvHeads;
  c.head_dim = kHeadDim;
  c.vocab_size = kVocab;
  c.ctx_len = kCtx;
  c.rope_style = ops::RopeStyle::RotateHalf;
  c.sliding_window = sliding_window;
  Rng r(5);
  add_random_tensor(m, "token_embd", {kVocab, kDim}, r, 0.5f);
  add_random_tensor(m, "output", {kVocab, kDim}, r, 0.3f);
  add_random_tensor(m, "output_norm", {kDim}, r, 0.1f, 1.0f);
  for (int64_t l = 0; l < kLayers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add_random_tensor(m, p + "attn_norm", {kDim}, r, 0.1f, 1.0f);
    add_random_tensor(m, p + "ffn_norm", {kDim}, r, 0.1f, 1.0f);
    add_random_tensor(m, p + "attn_q", {kHeads * kHeadDim, kDim}, r, 0.4f);
    add_random_tensor(m, p + "attn_k", {kKvHeads * kHeadDim, kDim}, r, 0.4f);
    add_random_tensor(m, p + "attn_v", {kKvHeads * kHeadDim, kDim}, r, 0.4f);
    add_random_tensor(m, p + "attn_output", {kDim, kHeads * kHeadDim}, r, 0.3f);
    add_random_tensor(m, p + "ffn_gate", {kHidden, kDim}, r, 0.3f);
    add_random_tensor(m, p + "ffn_up", {kHidden, kDim}, r, 0.3f);
    add_random_tensor(m, p + "ffn_down", {kDim, kHidden}, r, 0.3f);
  }
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Writes the model as two shards (tensors [0, split) and [split, end)) plus an index built from
// `index_entries` (tensor -> shard), which the caller may tamper with.
std::string write_sharded(const std::string& name, const ModelFile& m,
                          const std::function<void(std::string*)>& edit_index = nullptr) {
  const std::string dir = temp_path(name);
  const size_t split = m.tensors.size() / 2;
  std::string index = "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {";
  for (int s = 0; s < 2; ++s) {
    ModelFile part;
    part.config = m.config;
    const size_t b = s == 0 ? 0 : split, e = s == 0 ? split : m.tensors.size();
    part.tensors.assign(m.tensors.begin() + static_cast<long>(b),
                        m.tensors.begin() + static_cast<long>(e));
    const std::string tmp = dir + "_part" + std::to_string(s);
    write_hf_dir(tmp, part);
    if (s == 0) {
      ::mkdir(dir.c_str(), 0755);
      std::rename((tmp + "/config.json").c_str(), (dir + "/config.json").c_str());
    }
    const std::string shard = "model-0000" + std::to_string(s + 1) + "-of-00002.safetensors";
    EXPECT_EQ(std::rename((tmp + "/model.safetensors").c_str(), (dir + "/" + shard).c_str()), 0);
    for (size_t i = b; i < e; ++i)
      index += std::string(i ? ", " : "") + "\"" + hf_tensor_name(m.tensors[i].name) + "\": \"" +
               shard + "\"";
  }
  index += "}}";
  if (edit_index) edit_index(&index);
  std::ofstream(dir + "/model.safetensors.index.json") << index;
  return dir;
}

std::vector<float> logits_of(const ModelFile& f, const std::vector<int>& toks,
                             const AttentionConfig& attn = {}) {
  LlamaModel m(f);
  std::vector<float> out(toks.size() * static_cast<size_t>(kVocab));
  Session(m, SessionOptions{0, 1, 8, attn})
      .all_logits(toks.data(), static_cast<int64_t>(toks.size()), out.data());
  return out;
}

using test::expect_error;

TEST(HfShards, ShardedDirectoryEqualsSingleFile) {
  ModelFile m;
  fill_model(m, 0);
  const std::string single = temp_path("single");
  write_hf_dir(single, m);
  const std::string sharded = write_sharded("sharded", m);
  auto a = load_model_file(single);
  auto b = load_model_file(sharded);
  ASSERT_EQ(a->tensors.size(), b->tensors.size());
  EXPECT_EQ(b->mappings.size(), 2u);
  for (const TensorRef& t : a->tensors) {
    const TensorRef* u = b->find(t.name);
    ASSERT_NE(u, nullptr) << t.name;
    EXPECT_EQ(u->shape, t.shape) << t.name;
    EXPECT_EQ(std::memcmp(u->data, t.data, static_cast<size_t>(4 * t.numel())), 0) << t.name;
  }
  const auto toks = test::random_tokens(20, kVocab, 9);
  EXPECT_EQ(logits_of(*a, toks), logits_of(*b, toks));
}

TEST(HfShards, BadIndexIsRefusedNamingTheFile) {
  ModelFile m;
  fill_model(m, 0);
  // A tensor listed under the other shard.
  const std::string wrong = write_sharded("wrong", m, [](std::string* s) {
    const size_t p = s->find("model-00001-of-00002");
    s->replace(p, 20, "model-00002-of-00002");
  });
  expect_error([&] { load_model_file(wrong); }, {"index.json", "not listed for this shard"});
  // A listed shard that does not exist.
  const std::string missing = write_sharded("missing", m, [](std::string* s) {
    for (size_t p; (p = s->find("model-00002-of-00002")) != std::string::npos;)
      s->replace(p, 20, "model-00003-of-00002");
  });
  expect_error([&] { load_model_file(missing); }, {"model-00003-of-00002"});
  // A shard name that leaves the directory.
  const std::string escape = write_sharded("escape", m, [](std::string* s) {
    const size_t p = s->find("model-00001-of-00002");
    s->replace(p, 0, "../");
  });
  expect_error([&] { load_model_file(escape); }, {"index.json", "plain file name"});
  // Not an index at all.
  const std::string garbage = write_sharded("garbage", m, [](std::string* s) { *s = "[1, 2]"; });
  expect_error([&] { load_model_file(garbage); }, {"index.json", "weight_map"});
}

TEST(MistralWindow, SlidingWindowIsTheDefaultAttention) {
  constexpr int64_t kWindow = 6;
  ModelFile m;
  fill_model(m, kWindow);
  const std::string dir = temp_path("mistral");
  write_hf_dir(dir, m);
  EXPECT_NE(slurp(dir + "/config.json").find("MistralForCausalLM"), std::string::npos);
  auto f = load_model_file(dir);
  ASSERT_EQ(f->config.sliding_window, kWindow);
  {
    LlamaModel model(*f);
    Session s(model, SessionOptions{0, 1, 8, {}});
    EXPECT_EQ(s.label(), "window(W=6)");
    EXPECT_EQ(s.capacity(), INT64_MAX) << "a sliding-window model streams without a limit";
  }
  const auto toks = test::random_tokens(30, kVocab, 4);
  AttentionConfig window;
  window.policy = AttnPolicy::Window;
  window.window = kWindow;
  AttentionConfig full;
  full.model_window = false;  // what an explicit `--attn full` sets
  const auto by_default = logits_of(*f, toks), windowed = logits_of(*f, toks, window),
             all = logits_of(*f, toks, full);
  EXPECT_EQ(by_default, windowed);
  // Identical while every key is inside the window, different once the window slides.
  const size_t in_window = kWindow * static_cast<size_t>(kVocab);
  EXPECT_TRUE(std::equal(all.begin(), all.begin() + in_window, by_default.begin()));
  EXPECT_GT(
      test::rel_err(all.data() + in_window, by_default.data() + in_window, all.size() - in_window),
      1e-3);
  // The same file as LlamaForCausalLM has no window: a stray key there is ignored.
  std::string cfg = slurp(dir + "/config.json");
  cfg.replace(cfg.find("MistralForCausalLM"), 18, "LlamaForCausalLM");
  std::ofstream(dir + "/config.json") << cfg;
  EXPECT_EQ(load_model_file(dir)->config.sliding_window, 0);
}

}  // namespace
}  // namespace lc
