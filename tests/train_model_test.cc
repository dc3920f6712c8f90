// The assembled trainable models (src/train/model.h): whole-model finite-difference gradient
// checks in double precision (every parameter of a BASED-style model with all four mixers and an
// untied head, and of a Llama-style model with GQA and a sliding window), the float model against
// the double one, AdamW / schedule arithmetic, determinism (two runs, same seed and thread count,
// bit-identical weights) and that training lowers the loss.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "train/layers.h"
#include "train/model.h"
#include "train/optim.h"
#include "train/train_run.h"
#include "train/trainer.h"
#include "train_configs.h"

namespace lc::train {
namespace {

TrainConfig based_all_mixers() {
  TrainConfig c;
  c.arch = Arch::Based;
  c.vocab_size = 11;
  c.d_model = 8;
  c.n_layers = 4;
  c.mixers = parse_mixers("clwa");
  c.n_heads = 2;
  c.n_kv_heads = 2;
  c.window = 3;
  c.linear_heads = 2;
  c.feature_dim = 3;
  c.hidden = 6;
  c.tied = false;
  c.rope_theta = 100.0;
  return c;
}

TrainConfig llama_gqa_window() {
  TrainConfig c = test::llama_config(9, 8, 2, 4, 2, 5);
  c.mixers = parse_mixers("wa");
  c.window = 2;
  c.rope_theta = 100.0;
  return c;
}

void batch_of(const TrainConfig& c, int64_t n, uint64_t seed, std::vector<int>* tok,
              std::vector<int>* lab) {
  Rng r(seed);
  tok->resize(n);
  lab->resize(n);
  for (int64_t i = 0; i < n; ++i) {
    (*tok)[i] = static_cast<int>(r.next_u32() % c.vocab_size);
    (*lab)[i] = (i % 4 == 3) ? kIgnoreLabel : static_cast<int>(r.next_u32() % c.vocab_size);
  }
}

// Central differences over every parameter; returns max|a - n| / max|n|.
double model_grad_error(const TrainConfig& c, const std::string& name) {
  ThreadPool pool(2);
  const int64_t B = 2, T = 5;
  InitOptions init;
  init.std = 0.5;  // large enough that every nonlinearity is exercised
  init.norm_jitter = 0.3;
  init.bias_std = 0.3;
  init.conv_std = 0.5;
  TrainModel<double> m(c, B, T, 7, init);
  std::vector<int> tok, lab;
  batch_of(c, B * T, 8, &tok, &lab);
  m.forward(pool, tok.data(), lab.data());
  m.backward(pool);
  const std::vector<double> g(m.grads(), m.grads() + m.n_params());
  const double h = 1e-5;
  double max_diff = 0, max_num = 0;
  for (int64_t i = 0; i < m.n_params(); ++i) {
    double* w = m.weights() + i;
    const double w0 = *w;
    *w = w0 + h;
    const double lp = m.forward(pool, tok.data(), lab.data());
    *w = w0 - h;
    const double lm = m.forward(pool, tok.data(), lab.data());
    *w = w0;
    const double num = (lp - lm) / (2 * h);
    max_diff = std::max(max_diff, std::abs(num - g[i]));
    max_num = std::max(max_num, std::abs(num));
  }
  const double err = max_diff / std::max(max_num, 1e-8);
  std::printf("[gradcheck] %-28s rel_err %.3e over %lld parameters\n", name.c_str(), err,
              static_cast<long long>(m.n_params()));
  return err;
}

TEST(TrainModel, BasedAllMixersGradientCheck) {
  EXPECT_LT(model_grad_error(based_all_mixers(), "model based c,l,w,a+mlp"), 1e-6);
}

TEST(TrainModel, BasedNoMlpGradientCheck) {
  TrainConfig c = based_all_mixers();
  c.hidden = 0;
  c.mixers = parse_mixers("cl");
  c.n_layers = 2;
  c.tied = true;
  EXPECT_LT(model_grad_error(c, "model based c,l no mlp"), 1e-6);
}

TEST(TrainModel, LlamaGqaWindowGradientCheck) {
  EXPECT_LT(model_grad_error(llama_gqa_window(), "model llama gqa+window"), 1e-6);
}

TEST(TrainModel, FloatForwardMatchesDouble) {
  ThreadPool pool(2);
  TrainConfig c = based_all_mixers();
  c.d_model = 32;
  c.hidden = 48;
  c.linear_heads = 4;
  c.feature_dim = 4;
  const int64_t B = 2, T = 33;
  TrainModel<float> mf(c, B, T, 5);
  TrainModel<double> md(c, B, T, 5);
  for (int64_t i = 0; i < md.n_params(); ++i) md.weights()[i] = mf.weights()[i];
  std::vector<int> tok, lab;
  batch_of(c, B * T, 9, &tok, &lab);
  const double lf = mf.forward(pool, tok.data(), lab.data());
  const double ld = md.forward(pool, tok.data(), lab.data());
  EXPECT_NEAR(lf, ld, 1e-5 * std::abs(ld));
  mf.backward(pool);
  md.backward(pool);
  double max_g = 0, max_diff = 0;
  for (int64_t i = 0; i < md.n_params(); ++i) {
    max_g = std::max(max_g, std::abs(md.grads()[i]));
    max_diff = std::max(max_diff, std::abs(md.grads()[i] - mf.grads()[i]));
  }
  EXPECT_LT(max_diff, 1e-4 * max_g);
}

TEST(TrainModel, RejectsBadConfigs) {
  TrainConfig c = llama_gqa_window();
  c.mixers = parse_mixers("wl");
  EXPECT_THROW(validate(c), Error);  // llama has attention layers only
  c = based_all_mixers();
  c.mixers = parse_mixers("cla");
  EXPECT_THROW(validate(c), Error);  // one letter per layer
  c = based_all_mixers();
  c.n_kv_heads = 3;
  EXPECT_THROW(validate(c), Error);
  c = based_all_mixers();
  c.linear_heads = 3;
  EXPECT_THROW(validate(c), Error);
}

// The --mixers letters and --arch names map to the enums and back; anything else is an error
// naming the flag and the offending letter.
TEST(TrainConfigText, MixersAndArch) {
  const std::vector<Mixer> all = {Mixer::Conv, Mixer::Linear, Mixer::Window, Mixer::Attention};
  EXPECT_EQ(parse_mixers("clwa"), all);
  EXPECT_EQ(mixers_text(all), "clwa");
  for (const char* bad : {"", "cx", "C", "a l"}) {
    try {
      parse_mixers(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--mixers: expected a, w, l or c per layer, got '"),
                std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(parse_train_arch("llama"), Arch::Llama);
  EXPECT_EQ(parse_train_arch("based"), Arch::Based);
  EXPECT_THROW(parse_train_arch("mpt"), Error);  // the trainer builds llama and based only
  EXPECT_EQ(default_mixers(Arch::Llama, 3), parse_mixers("aaa"));
  EXPECT_EQ(default_mixers(Arch::Based, 2), parse_mixers("cl"));
  EXPECT_EQ(default_mixers(Arch::Based, 3), parse_mixers("lll"));
}

TEST(TrainOptim, CosineScheduleWithWarmup) {
  AdamWConfig c;
  c.lr = 1.0;
  c.min_lr_ratio = 0.1;
  c.warmup_steps = 4;
  c.total_steps = 14;
  EXPECT_DOUBLE_EQ(lr_at(c, 0), 0.25);
  EXPECT_DOUBLE_EQ(lr_at(c, 3), 1.0);
  EXPECT_DOUBLE_EQ(lr_at(c, 4), 1.0);
  EXPECT_NEAR(lr_at(c, 13), 0.1, 1e-12);
  EXPECT_NEAR(lr_at(c, 8), 0.1 + 0.45 * (1 + std::cos(M_PI * 4.0 / 9.0)), 1e-12);
}

TEST(TrainOptim, AdamWStepAgainstHandComputation) {
  ThreadPool pool(2);
  std::vector<ParamInfo> ps(2);
  ps[0] = {"w", {2}, 0, 2, true};
  ps[1] = {"n_norm", {1}, 2, 1, false};
  AdamWConfig c;
  c.lr = 0.1;
  c.weight_decay = 0.5;
  c.clip_norm = 1.0;
  c.beta1 = 0.9;
  c.beta2 = 0.99;
  AdamW opt(c, ps);
  float w[3] = {1.0f, -2.0f, 3.0f};
  float g[3] = {3.0f, 0.0f, -4.0f};  // norm 5: clipped by 1/5
  const StepInfo s = opt.step(pool, w, g);
  EXPECT_DOUBLE_EQ(s.grad_norm, 5.0);
  // First step: mhat = g, vhat = g^2, so the Adam step is lr * sign(g) (eps aside).
  EXPECT_NEAR(w[0], 1.0 * (1 - 0.1 * 0.5) - 0.1, 1e-6);
  EXPECT_NEAR(w[1], -2.0 * (1 - 0.1 * 0.5), 1e-6);
  EXPECT_NEAR(w[2], 3.0 + 0.1, 1e-6);  // no decay on norms
  EXPECT_NEAR(g[0], 0.6f, 1e-7);
}

std::string test_text() {
  std::string s;
  for (int i = 0; i < 200; ++i)
    s += "the quick brown fox jumps over the lazy dog " + std::to_string(i % 7) + ". ";
  return s;
}

std::vector<float> train_weights(const TrainConfig& c, int threads, int64_t steps,
                                 std::vector<double>* losses) {
  ThreadPool pool(threads);
  TrainModel<float> m(c, 4, 32, 123);
  ByteBatches data(test_text(), 99);
  AdamWConfig oc;
  oc.lr = 3e-3;
  oc.warmup_steps = 2;
  oc.total_steps = steps;
  AdamW opt(oc, m.params());
  train_loop(pool, m, data, opt, steps, [&](const StepStats& s) {
    if (losses) losses->push_back(s.loss);
  });
  return std::vector<float>(m.weights(), m.weights() + m.n_params());
}

TEST(TrainLoop, DeterministicForSeedAndThreads) {
  TrainConfig c = based_all_mixers();
  c.vocab_size = ByteBatches::kVocab;
  c.d_model = 32;
  c.hidden = 64;
  c.linear_heads = 4;
  c.feature_dim = 4;
  c.window = 8;
  for (int threads : {1, 2}) {
    const std::vector<float> a = train_weights(c, threads, 5, nullptr);
    const std::vector<float> b = train_weights(c, threads, 5, nullptr);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)))
        << "threads " << threads;
  }
}

TEST(TrainLoop, LossDecreasesOnText) {
  const TrainConfig c = test::llama_config(ByteBatches::kVocab, 32, 2, 2, 2, 64);
  std::vector<double> losses;
  train_weights(c, 2, 60, &losses);
  ASSERT_EQ(losses.size(), 60u);
  EXPECT_NEAR(losses.front(), std::log(257.0), 0.3);
  double last = 0;
  for (int i = 50; i < 60; ++i) last += losses[i] / 10;
  std::printf("[train] loss %.3f -> %.3f over 60 steps\n", losses.front(), last);
  EXPECT_LT(last, losses.front() - 1.5);
}

TEST(TrainData, SplitDocumentsHoldsOutEachTail) {
  std::string train, held;
  split_documents({"abcdefghij", "0123456789012345678\n"}, 0.2, &train, &held);
  EXPECT_EQ(train, "abcdefgh\n\n0123456789012345");
  EXPECT_EQ(held, "ij\n\n678\n");
  split_documents({"abc"}, 0.0, &train, &held);
  EXPECT_EQ(train, "abc");
  EXPECT_EQ(held, "");
  EXPECT_THROW(split_documents({"abc"}, 1.0, &train, &held), Error);
}

// Validation windows are consecutive (BOS + seq-1 bytes, labels shifted by one), and the loss is
// the mean of the model's loss over exactly those batches.
TEST(TrainData, ValidationWindowsAndLoss) {
  const TrainConfig c = test::llama_config(ByteBatches::kVocab, 16, 1, 2, 2, 32);
  const int64_t B = 2, T = 8;
  std::string text;
  for (int i = 0; i < 40; ++i) text.push_back(static_cast<char>('a' + i % 26));
  const ByteValidation val(text, B, T, 100);
  // 40 bytes, 7 new bytes per window, the last label needs one byte more: 5 windows -> 2 batches.
  EXPECT_EQ(val.batches(), 2);
  ThreadPool pool(2);
  TrainModel<float> m(c, B, T, 7);
  double want = 0;
  for (int64_t b = 0; b < 2; ++b) {
    std::vector<int> tok, lab;
    for (int64_t w = b * B; w < (b + 1) * B; ++w) {
      tok.push_back(ByteBatches::kBos);
      for (int64_t i = 1; i < T; ++i) tok.push_back(text[w * (T - 1) + i - 1]);
      for (int64_t i = 0; i < T; ++i) lab.push_back(text[w * (T - 1) + i]);
    }
    want += m.forward(pool, tok.data(), lab.data()) / 2;
  }
  EXPECT_EQ(val.loss(pool, m), want);
  EXPECT_EQ(ByteValidation("short", B, T, 100).batches(), 0);
  EXPECT_EQ(ByteValidation(text, B, T, 1).batches(), 1);
}

// MqarBatches rows are the generator's examples in draw order, with kMqarIgnore mapped to the
// trainer's kIgnoreLabel; a row length other than the task's seq_len is an error.
TEST(TrainData, MqarBatchesAreTheGeneratorsExamples) {
  MqarSpec spec;
  spec.vocab = 32;
  spec.seq_len = 16;
  spec.pairs = 2;
  MqarBatches batches(spec, 5);
  std::vector<int> tok(3 * 16), lab(3 * 16);
  batches.next(3, 16, tok.data(), lab.data());
  Rng rng(5);
  for (int64_t b = 0; b < 3; ++b) {
    const MqarExample e = mqar_example(spec, rng);
    for (int64_t i = 0; i < 16; ++i) {
      EXPECT_EQ(tok[b * 16 + i], e.tokens[i]);
      EXPECT_EQ(lab[b * 16 + i], e.labels[i] == kMqarIgnore ? kIgnoreLabel : e.labels[i]);
    }
  }
  EXPECT_THROW(batches.next(1, 8, tok.data(), lab.data()), Error);
  spec.pairs = 5;  // 4 * 5 > 16
  EXPECT_THROW(MqarBatches(spec, 1), Error);
}

// run_training: the log has every step and a validation every eval_every steps (and at the
// end); lines come every log_every steps (and at the end); the weights are those of train_loop.
TEST(TrainLoop, RunTrainingLogsAndReports) {
  const TrainConfig c = test::llama_config(ByteBatches::kVocab, 16, 1, 2, 2, 32);
  const std::string text = test_text();
  ThreadPool pool(2);
  TrainModel<float> m(c, 2, 16, 3), ref(c, 2, 16, 3);
  AdamWConfig oc;
  oc.total_steps = 7;
  AdamW opt(oc, m.params()), ref_opt(oc, ref.params());
  ByteBatches data(text, 9), ref_data(text, 9);
  const ByteValidation val(text.substr(0, 200), 2, 16, 2);
  TrainRunOptions o;
  o.steps = 7;
  o.log_every = 3;
  o.eval_every = 5;
  std::vector<std::string> lines;
  std::vector<int64_t> done;
  const TrainLog log = run_training(pool, m, data, opt, o, &val,
                                    {[&](const std::string& l) { lines.push_back(l); },
                                     [&](int64_t step) { done.push_back(step); }});
  train_loop(pool, ref, ref_data, ref_opt, 7, nullptr);
  EXPECT_EQ(std::vector<float>(m.weights(), m.weights() + m.n_params()),
            std::vector<float>(ref.weights(), ref.weights() + ref.n_params()));
  ASSERT_EQ(log.steps.size(), 7u);
  EXPECT_EQ(done, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7}));
  ASSERT_EQ(log.val.size(), 2u);
  EXPECT_EQ(log.val[0].first, 5);
  EXPECT_EQ(log.val[1].first, 7);
  EXPECT_EQ(log.val[1].second, val.loss(pool, m));
  ASSERT_EQ(lines.size(), 5u);  // steps 3, 5 (val), 6, 7, 7 (val)
  EXPECT_EQ(lines[0].rfind("step 3/7  loss ", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("step 5/7  val loss ", 0), 0u) << lines[1];
  EXPECT_NE(lines[1].find("bits/byte, 64 held-out tokens)"), std::string::npos) << lines[1];
  EXPECT_EQ(lines[4].rfind("step 7/7  val loss ", 0), 0u) << lines[4];
  EXPECT_GT(log.tokens_per_s, 0);
  EXPECT_EQ(train_heading(m, 2).rfind("train: llama model, " + std::to_string(m.n_params()) +
                                          " parameters, mixers a, batch 2 x 16 tokens, 2 threads",
                                      0),
            0u);
  EXPECT_EQ(train_summary(log).rfind("train: 7 steps in ", 0), 0u);
}

}  // namespace
}  // namespace lc::train
