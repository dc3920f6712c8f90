// The MQAR recall-vs-state experiment (../shared/specs/mqar.md, "The paper's experiment") as
// data: the models of a sweep and their state sizes, the sweep's settings and its results. It
// sits below both sides of the experiment: src/train/recall.h trains and scores the models,
// src/eval/recall_report.h scores the exported checkpoints with the engine and writes the table,
// JSON and plot. Nothing here trains or runs a model.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace lc {

// One MQAR shape: sequence length and key-value pairs (vocab comes from the sweep).
struct MqarSlice {
  int64_t seq_len = 64;
  int64_t pairs = 4;
};

// "64x4,64x8,128x16"; throws lc::Error naming `flag` and the item that is not SEQxPAIRS.
std::vector<MqarSlice> parse_mqar_slices(const std::string& flag, const std::string& text);
// "64x4".
std::string slice_name(const MqarSlice& s);

// Layer 1's mixer (layer 0 is always a BaseConv): softmax attention (1 head), a sliding window
// (1 head) or BASED's Taylor linear attention (1 head, value dim d).
enum class RecallMixer : uint8_t { Attention, Window, Linear };

// One model of the sweep: the mixer of layer 1 and its size knobs.
struct RecallModel {
  RecallMixer mixer = RecallMixer::Attention;
  int64_t d_model = 64;
  int64_t window = 0;          // Window: keys i - window < j <= i
  int64_t feature_dim = 0;     // Linear: Taylor feature dim f
  std::string family() const;  // "attention", "sliding window", "BASED"
  std::string label() const;   // e.g. "attention d=64", "window d=64 w=16", "BASED d=64 f=8"
  char letter() const;         // 'a', 'w', 'l' (the JSON record's "mixer")
};

// "attention:d=64", "window:d=64:w=16", "based:d=64:f=8" (also a / w / l for the family).
// Throws lc::Error naming the text when it is malformed.
RecallModel parse_recall_model(const std::string& text);

// The default sweep, one spec per model (the scaled preset of docs/results/mqar_recall.md).
const std::vector<std::string>& default_recall_specs();
// The specs of a sweep file: one per line, '#' starts a comment, blank lines skipped.
std::vector<std::string> recall_specs_from_text(const std::string& text);

// State sizes in values (the spec's accounting; x4 bytes in fp32):
//   attention 2 d L, sliding window 2 d w, BASED d (1 + f + f(f+1)/2) + (1 + f + f(f+1)/2)
//   (symmetric Taylor features, numerator + denominator), short conv d k (k = 3).
int64_t mixer_state_size(const RecallModel& m, int64_t seq_len);
int64_t conv_state_size(int64_t d_model, int64_t kernel = 3);
// Layer 1's mixer plus layer 0's conv: the x axis of the recall-vs-state plot.
int64_t model_state_size(const RecallModel& m, int64_t seq_len);

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
// Whether two sweeps ran with the same settings (those a --json record holds), so that their
// results belong in one table.
bool same_settings(const RecallSweep& a, const RecallSweep& b);

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
  std::vector<RecallRun> runs;          // one per learning rate tried
  size_t best = 0;                      // index into runs
  std::vector<double> test_accuracy;    // per RecallSweep::test slice
  std::vector<float> weights;           // the best run's weights (TrainModel layout); not in JSON
  std::vector<double> engine_accuracy;  // per test slice, by the engine (eval/mqar_engine.h)
  double train_seconds = 0, test_seconds = 0;
};

struct RecallProgress {
  const RecallModel* model = nullptr;
  double lr = 0;
  int64_t step = 0, steps = 0;
  double loss = 0;  // mean training loss since the previous report
  double val_accuracy = 0;
};

}  // namespace lc
