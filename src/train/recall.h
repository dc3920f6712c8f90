// The MQAR recall-vs-state experiment (../shared/specs/mqar.md, "The paper's experiment"),
// scaled to a CPU: 2-layer models (layer 0 BaseConv, layer 1 the mixer under test, no MLP,
// pre-norm, no position embedding and no RoPE, tied LM head) trained with the in-repo trainer on
// a mix of MQAR slices, stopped at a validation accuracy, and scored per test slice with the
// trainer's forward pass (argmax at the query positions, data/mqar.h mqar_accuracy). The sweep's
// models, settings and results are plain data (data/mqar_recall.h); `longctx recall` also scores
// the exported checkpoint (recall_model_file) with the engine (eval/mqar_engine.h).
//
// Training mixes slices of different sequence lengths: each step draws one train slice uniformly
// and runs a [tokens_per_step / seq_len, seq_len] batch of it through a TrainModel of that shape;
// all shapes share one master weight vector and one AdamW state, so every step sees whole,
// unpadded examples of one length.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/mqar.h"
#include "data/mqar_recall.h"
#include "formats/model_file.h"
#include "train/model.h"

namespace lc {
class ThreadPool;
}

namespace lc::train {

// The trainer configuration of a sweep model ("c" + mixer, see the header comment).
TrainConfig recall_train_config(const RecallModel& m, int64_t vocab);

// The models of a sweep: each spec parsed (parse_recall_model) and its trainer configuration
// checked, so a bad spec fails before any training; no specs: default_recall_specs().
std::vector<RecallModel> recall_sweep_models(const std::vector<std::string>& specs, int64_t vocab);

// The test set of slice s.test[i] (seeded by the sweep's seed: the same for every model).
std::vector<MqarExample> recall_test_set(const RecallSweep& s, size_t i);
// Every test set, in the order of s.test.
std::vector<std::vector<MqarExample>> recall_test_sets(const RecallSweep& s);

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

// The result's weights exported (in memory) as the BASED checkpoint `longctx train -o` would
// write, with ctx_len = the longest test sequence, so that an attention layer (written as
// window_size 2 ctx_len) covers every test sequence.
std::unique_ptr<ModelFile> recall_model_file(const RecallSweep& s, const RecallResult& r);

}  // namespace lc::train
