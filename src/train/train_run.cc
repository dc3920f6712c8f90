#include "train/train_run.h"

#include <cmath>
#include <cstdio>

#include "core/thread_pool.h"

namespace lc::train {

namespace {

std::string step_line(const StepStats& s, int64_t steps) {
  char line[256];
  std::snprintf(line, sizeof line, "step %lld/%lld  loss %.4f  lr %.2e  gnorm %.3f  %.0f tok/s",
                static_cast<long long>(s.step), static_cast<long long>(steps), s.loss, s.lr,
                s.grad_norm, s.tokens_per_s);
  return line;
}

std::string validation_line(int64_t step, int64_t steps, double loss, int64_t tokens) {
  char line[256];
  std::snprintf(line, sizeof line,
                "step %lld/%lld  val loss %.4f  (%.3f bits/byte, %lld held-out tokens)",
                static_cast<long long>(step), static_cast<long long>(steps), loss,
                loss / std::log(2.0), static_cast<long long>(tokens));
  return line;
}

}  // namespace

TrainLog run_training(ThreadPool& pool, TrainModel<float>& model, BatchSource& data, AdamW& opt,
                      const TrainRunOptions& o, const ByteValidation* val,
                      const TrainRunCallbacks& cb) {
  TrainLog log;
  const int64_t val_tokens = val ? val->batches() * model.batch() * model.seq() : 0;
  train_loop(pool, model, data, opt, o.steps, [&](const StepStats& s) {
    log.seconds += s.seconds;
    log.steps.push_back(s);
    const bool last = s.step == o.steps;
    if ((s.step % o.log_every == 0 || last) && cb.on_line) cb.on_line(step_line(s, o.steps));
    if (val && (s.step % o.eval_every == 0 || last)) {
      const double loss = val->loss(pool, model);
      log.val.push_back({s.step, loss});
      if (cb.on_line) cb.on_line(validation_line(s.step, o.steps, loss, val_tokens));
    }
    if (cb.on_step) cb.on_step(s.step);
  });
  log.tokens_per_s = static_cast<double>(o.steps * model.batch() * model.seq()) / log.seconds;
  return log;
}

std::string train_heading(const TrainModel<float>& model, int threads) {
  const TrainConfig& c = model.config();
  return "train: " + std::string(arch_name(c.arch)) + " model, " +
         std::to_string(model.n_params()) + " parameters, mixers " + mixers_text(c.mixers) +
         ", batch " + std::to_string(model.batch()) + " x " + std::to_string(model.seq()) +
         " tokens, " + std::to_string(threads) + " threads";
}

std::string train_summary(const TrainLog& log) {
  char line[256];
  std::snprintf(line, sizeof line, "train: %lld steps in %.2f s, %.0f tokens/s",
                static_cast<long long>(log.steps.size()), log.seconds, log.tokens_per_s);
  return line;
}

}  // namespace lc::train
