// Trained checkpoints in the engine: a model is trained for a few steps (so its weights are no
// longer the initialisation), exported (src/train/export.h) and written as a Hugging Face
// directory, loaded back through load_model_file, and the ENGINE's logits (LlamaModel + Session,
// BasedModel + Session) are compared with the trainer's forward on the same sequences.
// Bound: max |engine - trainer| <= 1e-5 * (1 + max |logit|); both run f32 with different
// summation orders (gemm tiles, chunked Taylor form in the engine), measured errors are printed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "formats/hf.h"
#include "formats/model_file.h"
#include "model/based.h"
#include "model/llama.h"
#include "runtime/session.h"
#include "train/export.h"
#include "train/model.h"
#include "train/trainer.h"
#include "train_configs.h"

namespace lc::train {
namespace {

std::string temp_dir(const std::string& name) {
  return ::testing::TempDir() + "/longctx_train_" + std::to_string(::getpid()) + "_" + name;
}

// Random-token batches with every label scored.
class RandomBatches final : public BatchSource {
 public:
  RandomBatches(int64_t vocab, uint64_t seed) : vocab_(vocab), rng_(seed) {}
  void next(int64_t batch, int64_t seq, int* tokens, int* labels) override {
    for (int64_t i = 0; i < batch * seq; ++i) {
      tokens[i] = static_cast<int>(rng_.next_u32() % vocab_);
      labels[i] = static_cast<int>(rng_.next_u32() % vocab_);
    }
    // a learnable pattern: label = next token
    for (int64_t i = 0; i + 1 < batch * seq; ++i) labels[i] = tokens[i + 1];
  }

 private:
  int64_t vocab_;
  Rng rng_;
};

// Trains c for a few steps with [2, T] batches and returns the model.
std::unique_ptr<TrainModel<float>> trained(const TrainConfig& c, int64_t T) {
  ThreadPool pool(2);
  auto m = std::make_unique<TrainModel<float>>(c, 2, T, 11);
  RandomBatches data(c.vocab_size, 5);
  AdamWConfig oc;
  oc.lr = 1e-2;
  oc.total_steps = 8;
  AdamW opt(oc, m->params());
  train_loop(pool, *m, data, opt, 8, nullptr);
  return m;
}

// Relative error of engine logits (per sequence, via all_logits) against the trainer's.
template <typename RunEngine>
double compare(TrainModel<float>& m, RunEngine&& engine_all_logits) {
  ThreadPool pool(2);
  const int64_t B = m.batch(), T = m.seq(), V = m.config().vocab_size;
  Rng r(77);
  std::vector<int> tokens(B * T);
  for (int& t : tokens) t = static_cast<int>(r.next_u32() % V);
  m.forward(pool, tokens.data(), nullptr);
  double max_diff = 0, max_abs = 0;
  std::vector<float> out(T * V);
  for (int64_t b = 0; b < B; ++b) {
    engine_all_logits(tokens.data() + b * T, T, out.data());
    const float* want = m.logits() + b * T * V;
    for (int64_t i = 0; i < T * V; ++i) {
      max_diff = std::max(max_diff, static_cast<double>(std::abs(out[i] - want[i])));
      max_abs = std::max(max_abs, static_cast<double>(std::abs(want[i])));
    }
  }
  return max_diff / (1.0 + max_abs);
}

// Exports m (trained context T) as a Hugging Face directory named after `name` and loads it back.
std::unique_ptr<ModelFile> export_and_load(const TrainModel<float>& m, int64_t T,
                                           const std::string& name) {
  ExportOptions o;
  o.ctx_len = T;
  const std::string dir = temp_dir(name);
  export_hf_dir(m, o, dir);
  return load_model_file(dir);
}

double llama_roundtrip(const TrainConfig& c, int64_t T, const std::string& name) {
  auto m = trained(c, T);
  auto file = export_and_load(*m, T, name);
  EXPECT_EQ(file->config.arch, Arch::Llama);
  EXPECT_EQ(file->config.sliding_window, c.mixers[0] == Mixer::Window ? c.window : 0);
  LlamaModel model(*file);
  SessionOptions so;
  so.n_threads = 2;
  so.ctx = T;
  so.block_tokens = 16;
  Session session(model, so);
  const double err =
      compare(*m, [&](const int* tok, int64_t n, float* out) { session.all_logits(tok, n, out); });
  std::printf("[export] %-32s engine vs trainer rel_err %.3e\n", name.c_str(), err);
  return err;
}

double based_roundtrip(const TrainConfig& c, int64_t T, const std::string& name,
                       int64_t* window_size = nullptr) {
  auto m = trained(c, T);
  auto file = export_and_load(*m, T, name);
  EXPECT_EQ(file->config.arch, Arch::Based);
  if (window_size) *window_size = file->config.based.window_size;
  BasedModel model(*file);
  SessionOptions so;
  so.n_threads = 2;
  so.block_tokens = 16;
  so.chunk = 8;
  Session session(model, so);
  const double err =
      compare(*m, [&](const int* tok, int64_t n, float* out) { session.all_logits(tok, n, out); });
  std::printf("[export] %-32s engine vs trainer rel_err %.3e\n", name.c_str(), err);
  return err;
}

constexpr double kBound = 1e-5;

TEST(TrainExport, LlamaTiedFullAttention) {
  const TrainConfig c = test::llama_config(37, 32, 2, 4, 4, 48);
  EXPECT_LT(llama_roundtrip(c, 40, "llama_tied"), kBound);
}

TEST(TrainExport, LlamaUntiedGqaSlidingWindow) {
  TrainConfig c = test::llama_config(37, 32, 2, 4, 2, 40);
  c.mixers = parse_mixers("ww");
  c.window = 7;
  c.tied = false;
  EXPECT_LT(llama_roundtrip(c, 45, "llama_gqa_window"), kBound);
}

TEST(TrainExport, BasedConvLinearWindowWithMlp) {
  TrainConfig c;
  c.arch = Arch::Based;
  c.vocab_size = 37;  // padded to 40 rows in the checkpoint
  c.d_model = 32;
  c.n_layers = 3;
  c.mixers = parse_mixers("clw");
  c.n_heads = 2;
  c.n_kv_heads = 2;
  c.window = 9;
  c.linear_heads = 4;
  c.feature_dim = 4;
  c.hidden = 48;  // padded to 256 with zeros
  int64_t ws = 0;
  EXPECT_LT(based_roundtrip(c, 41, "based_clw", &ws), kBound);
  EXPECT_EQ(ws, 16);  // 2 (W - 1): keys [i - 8, i] = 9 keys
}

TEST(TrainExport, BasedMqarStyleNoMlp) {
  // The MQAR models: BaseConv then the mixer under test, no MLP (exported as an exact zero MLP).
  for (const char* mixers : {"ca", "cl", "cw"}) {
    TrainConfig c;
    c.arch = Arch::Based;
    c.vocab_size = 24;
    c.d_model = 16;
    c.n_layers = 2;
    c.mixers = parse_mixers(mixers);
    c.n_heads = 1;
    c.n_kv_heads = 1;
    c.window = 5;
    c.linear_heads = 2;
    c.feature_dim = 4;
    c.hidden = 0;
    EXPECT_LT(based_roundtrip(c, 32, std::string("based_mqar_") + mixers), kBound) << mixers;
    if (c.mixers[1] == Mixer::Linear) continue;
    // As in longctx recall: attention without any position encoding (longctx_rotary false).
    c.rope = false;
    EXPECT_LT(based_roundtrip(c, 32, std::string("based_mqar_nope_") + mixers), kBound) << mixers;
    EXPECT_FALSE(load_model_file(temp_dir(std::string("based_mqar_nope_") + mixers))
                     ->config.based.window_rope);
  }
}

TEST(TrainExport, RefusesWhatTheFormatsCannotHold) {
  ExportOptions o;
  o.ctx_len = 16;
  TrainConfig c;
  c.arch = Arch::Llama;
  c.vocab_size = 10;
  c.d_model = 8;
  c.n_layers = 2;
  c.n_heads = 2;
  c.n_kv_heads = 2;
  c.hidden = 8;
  c.mixers = parse_mixers("aw");
  c.window = 3;
  EXPECT_THROW(export_model_file(TrainModel<float>(c, 1, 4, 1), o), Error);  // mixed windows
  c.arch = Arch::Based;
  c.mixers = parse_mixers("cl");
  c.tied = false;
  EXPECT_THROW(export_model_file(TrainModel<float>(c, 1, 4, 1), o), Error);  // untied BASED
  c.tied = true;
  c.mixers = parse_mixers("ca");
  c.n_kv_heads = 1;
  EXPECT_THROW(export_model_file(TrainModel<float>(c, 1, 4, 1), o), Error);  // GQA in Wqkv
}

}  // namespace
}  // namespace lc::train
