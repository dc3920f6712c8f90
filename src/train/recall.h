// The MQAR recall-vs-state experiment (../shared/specs/mqar.md, "The paper's experiment"),
// scaled to a CPU: 2-layer models (layer 0 BaseConv, layer 1 the mixer under test, no MLP,
// pre-norm, no position embedding and no RoPE, tied LM head) trained with the in-repo trainer on
// a mix of MQAR slices, stopped at a validation accuracy, and scored per test slice with the
// trainer's forward pass (argmax at the query positions, data/mqar.h mqar_accuracy). `longctx
// recall` also scores the exported checkpoint with the engine (tools/cmd_recall.cc).
//
// Training mixes slices of different sequence lengths: each step draws one train slice uniformly
// and runs a [tokens_per_step / seq_len, seq_len] batch of it through a TrainModel of that shape;
// all shapes share one master weight vector and one AdamW state, so every step sees whole,
// unpadded examples of one length.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/mqar.h"
#include "train/model.h"

namespace lc {
class ThreadPool;
}

namespace lc::train {

struct MqarSlice {
  int64_t seq_len = 64;
  int64_t pairs = 4;
};

// One model of the sweep: the mixer of layer 1 and its size knobs.
struct RecallModel {
  char mixer = 'a';  // 'a' attention (1 head), 'w' sliding window (1 head), 'l' BASED
  int64_t d_model = 64;
  int64_t window = 0;          // 'w': keys i - window < j <= i
  int64_t feature_dim = 0;     // 'l': Taylor feature dim f (1 head, value dim d)
  std::string family() const;  // "attention", "sliding window", "BASED"
  std::string label() const;   // e.g. "attention d=64", "window d=64 w=16", "BASED d=64 f=8"
};

// "attention:d=64", "window:d=64:w=16", "based:d=64:f=8" (also a / w / l for the family).
// Throws lc::Error naming the text when it is malformed.
RecallModel parse_recall_model(const std::string& text);

// State sizes in values (the spec's accounting; x4 bytes in fp32):
//   attention 2 d L, sliding window 2 d w, BASED d (1 + f + f(f+1)/2) + (1 + f + f(f+1)/2)
//   (symmetric Taylor features, numerator + denominator), short conv d k (k = 3).
int64_t mixer_state_size(const RecallModel& m, int64_t seq_len);
int64_t conv_state_size(int64_t d_model, int64_t kernel = 3);
// Layer 1's mixer plus layer 0's conv: the x axis of the recall-vs-state plot.
int64_t model_state_size(const RecallModel& m, int64_t seq_len);

// The trainer configuration of a sweep model ("c" + mixer, see the header comment).
TrainConfig recall_train_config(const RecallModel& m, int64_t vocab);

struct RecallSweep {
  int64_t vocab = 256;
  std::vector<MqarSlice> train = {{64, 4}, {64, 8}, {64, 16}, {128, 32}};
  std::vector<MqarSlice> test = {{64, 4}, {64, 8}, {64, 16}, {128, 32}, {256, 64}};
  std::vector<double> lrs = {3.2e-3};  // each tried in order; the best validation is kept
  int64_t steps = 800;                 // per learning rate (the cosine spans all of them)
  int64_t tokens_per_step = 4096;      // batch = tokens_per_step / seq_len rows
  int64_t warmup_steps = 40;
  double weight_decay = 0.1;
  int64_t eval_every = 100;     // validation every N steps (and after the last)
  int64_t val_examples = 100;   // per train slice
  int64_t test_examples = 200;  // per test slice
  double stop_accuracy = 0.99;  // stop a run (and skip the remaining learning rates) here
  int64_t eval_batch = 32;
  uint64_t seed = 1;  // data streams and initial weights (the same for every model)
};

// Throws lc::Error naming the setting that is impossible (slices, vocab, counts).
void validate(const RecallSweep& s);

struct RecallRun {
  double lr = 0;
  int64_t steps_run = 0;
  double final_loss = 0;
  double val_accuracy = 0;  // at the end of the run
  bool stopped_early = false;
  double seconds = 0;
};

struct RecallResult {
  RecallModel model;
  int64_t n_params = 0;
  std::vector<RecallRun> runs;        // one per learning rate tried
  size_t best = 0;                    // index into runs
  std::vector<double> test_accuracy;  // per RecallSweep::test slice
  std::vector<float> weights;         // the best run's weights (TrainModel layout); not in JSON
  std::vector<double> engine_accuracy;  // per test slice, by the engine (tools/cmd_recall.cc)
  double train_seconds = 0, test_seconds = 0;
};

struct RecallProgress {
  const RecallModel* model = nullptr;
  double lr = 0;
  int64_t step = 0, steps = 0;
  double loss = 0;  // mean training loss since the previous report
  double val_accuracy = 0;
};

// The test set of slice s.test[i] (seeded by the sweep's seed: the same for every model).
std::vector<MqarExample> recall_test_set(const RecallSweep& s, size_t i);

// Mean MQAR accuracy of `examples` (all of one seq_len) under weights `w` (the layout of
// TrainModel(c, ...)), computed with the trainer's forward in batches of `batch` rows; each
// example is scored with mqar_accuracy on its rows of the logits.
double mqar_eval_accuracy(ThreadPool& pool, const TrainConfig& c, const float* w,
                          const std::vector<MqarExample>& examples, int64_t batch);

// Trains `m` at every learning rate of the sweep (stopping each at stop_accuracy; once one run
// reaches it the remaining rates are skipped), keeps the run with the best validation accuracy
// and scores it on the test slices. Deterministic for a fixed sweep and thread count.
RecallResult run_recall_model(ThreadPool& pool, const RecallSweep& s, const RecallModel& m,
                              const std::function<void(const RecallProgress&)>& on_eval);

}  // namespace lc::train
