// One `longctx train` run around train_loop (train/trainer.h): the per-step log, a report line
// every few steps, validation on held-out text every few steps, and the run's text (heading and
// summary lines). Lines go to a callback; the caller prints them (tools/ own the progress line).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "train/model.h"
#include "train/optim.h"
#include "train/trainer.h"

namespace lc {
class ThreadPool;
}

namespace lc::train {

struct TrainLog {
  std::vector<StepStats> steps;
  std::vector<std::pair<int64_t, double>> val;  // (step, validation loss in nats per token)
  double seconds = 0;                           // sum of the step times
  double tokens_per_s = 0;                      // over the whole run
};

struct TrainRunOptions {
  int64_t steps = 100;
  int64_t log_every = 1;    // a step line every N steps (and after the last)
  int64_t eval_every = 10;  // validation every N steps (and after the last), given a set
};

struct TrainRunCallbacks {
  std::function<void(const std::string&)> on_line;  // step and validation lines
  std::function<void(int64_t)> on_step;             // steps done, after each step
};

// Trains `model` for o.steps steps and returns the log; `val` (may be null) is scored with the
// model every o.eval_every steps. "step 3/10  loss 4.1675  lr 2.32e-04  gnorm 1.789  184590
// tok/s" and "step 6/6  val loss 5.4974  (7.931 bits/byte, 256 held-out tokens)" lines.
TrainLog run_training(ThreadPool& pool, TrainModel<float>& model, BatchSource& data, AdamW& opt,
                      const TrainRunOptions& o, const ByteValidation* val,
                      const TrainRunCallbacks& cb);

// "train: based model, 8448 parameters, mixers cwl, batch 2 x 16 tokens, 2 threads".
std::string train_heading(const TrainModel<float>& model, int threads);
// "train: 5 steps in 0.01 s, 161548 tokens/s".
std::string train_summary(const TrainLog& log);

}  // namespace lc::train
