#include "train/recall.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>

#include "core/error.h"
#include "core/rng.h"
#include "train/export.h"
#include "train/layers.h"
#include "train/optim.h"
#include "train/trainer.h"

namespace lc::train {

namespace {

// Distinct, fixed seeds for the streams of one sweep (SplitMix64 of seed and a purpose tag).
uint64_t stream_seed(uint64_t seed, uint64_t tag) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (tag + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
enum : uint64_t {
  kTagTrain = 1,
  kTagVal = 1000,
  kTagTest = 2000,
  kTagInit = 3000,
  kTagPick = 4000
};

MqarSpec spec_of(const RecallSweep& s, const MqarSlice& sl) {
  MqarSpec m;
  m.vocab = s.vocab;
  m.seq_len = sl.seq_len;
  m.pairs = sl.pairs;
  return m;
}

// The trainer's mixer for layer 1 of a sweep model.
Mixer trainer_mixer(RecallMixer m) {
  switch (m) {
    case RecallMixer::Attention:
      return Mixer::Attention;
    case RecallMixer::Window:
      return Mixer::Window;
    case RecallMixer::Linear:
      break;
  }
  return Mixer::Linear;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TrainConfig recall_train_config(const RecallModel& m, int64_t vocab) {
  TrainConfig c;
  c.arch = Arch::Based;
  c.vocab_size = vocab;
  c.d_model = m.d_model;
  c.n_layers = 2;
  c.mixers = {Mixer::Conv, trainer_mixer(m.mixer)};
  c.n_heads = c.n_kv_heads = 1;
  c.hidden = 0;
  c.window = m.mixer == RecallMixer::Window ? m.window : 0;
  c.linear_heads = 1;
  c.feature_dim = m.mixer == RecallMixer::Linear ? m.feature_dim : 8;
  c.tied = true;
  c.rope = false;  // the spec's models have no position embedding; the conv supplies order
  validate(c);
  return c;
}

std::vector<RecallModel> recall_sweep_models(const std::vector<std::string>& specs, int64_t vocab) {
  std::vector<RecallModel> models;
  for (const std::string& spec : specs.empty() ? default_recall_specs() : specs) {
    models.push_back(parse_recall_model(spec));
    recall_train_config(models.back(), vocab);  // validates
  }
  return models;
}

std::vector<MqarExample> recall_test_set(const RecallSweep& s, size_t i) {
  check(i < s.test.size(), "recall: test slice ", i, " out of range");
  return mqar_dataset(spec_of(s, s.test[i]), s.test_examples, stream_seed(s.seed, kTagTest + i));
}

std::vector<std::vector<MqarExample>> recall_test_sets(const RecallSweep& s) {
  std::vector<std::vector<MqarExample>> sets;
  for (size_t i = 0; i < s.test.size(); ++i) sets.push_back(recall_test_set(s, i));
  return sets;
}

double mqar_eval_accuracy(ThreadPool& pool, const TrainConfig& c, const float* w,
                          const std::vector<MqarExample>& examples, int64_t batch) {
  check(!examples.empty(), "recall: no examples to score");
  const int64_t T = static_cast<int64_t>(examples[0].tokens.size());
  const int64_t n = static_cast<int64_t>(examples.size());
  batch = std::min(batch, n);
  TrainModel<float> model(c, batch, T, /*seed=*/1);
  std::memcpy(model.weights(), w, sizeof(float) * static_cast<size_t>(model.n_params()));
  std::vector<int> tokens(static_cast<size_t>(batch * T));
  double sum = 0;
  for (int64_t b0 = 0; b0 < n; b0 += batch) {
    const int64_t rows = std::min(batch, n - b0);
    for (int64_t r = 0; r < batch; ++r) {
      // A short last batch repeats its first example in the unused rows (not scored).
      const MqarExample& e = examples[static_cast<size_t>(b0 + (r < rows ? r : 0))];
      check(static_cast<int64_t>(e.tokens.size()) == T,
            "recall: examples of one call must share seq_len");
      std::copy(e.tokens.begin(), e.tokens.end(), tokens.begin() + r * T);
    }
    model.forward(pool, tokens.data(), nullptr);
    for (int64_t r = 0; r < rows; ++r)
      sum += mqar_accuracy(examples[static_cast<size_t>(b0 + r)],
                           model.logits() + r * T * c.vocab_size, c.vocab_size);
  }
  return sum / static_cast<double>(n);
}

RecallResult run_recall_model(ThreadPool& pool, const RecallSweep& s, const RecallModel& m,
                              const std::function<void(const RecallProgress&)>& on_eval) {
  validate(s);
  const TrainConfig c = recall_train_config(m, s.vocab);
  const size_t n_train = s.train.size();
  // Validation sets, one per train slice, from streams the training never draws from.
  std::vector<std::vector<MqarExample>> val;
  for (size_t i = 0; i < n_train; ++i)
    val.push_back(
        mqar_dataset(spec_of(s, s.train[i]), s.val_examples, stream_seed(s.seed, kTagVal + i)));
  auto val_accuracy = [&](const float* w) {
    double acc = 0;
    for (const auto& v : val) acc += mqar_eval_accuracy(pool, c, w, v, s.eval_batch);
    return acc / static_cast<double>(val.size());
  };

  RecallResult res;
  res.model = m;
  std::vector<float> best_w;
  const auto t_train = std::chrono::steady_clock::now();
  for (double lr : s.lrs) {
    const auto t0 = std::chrono::steady_clock::now();
    // One TrainModel per train shape; all start from the same initial weights (same seed).
    std::vector<std::unique_ptr<TrainModel<float>>> shapes;
    for (const MqarSlice& sl : s.train)
      shapes.push_back(std::make_unique<TrainModel<float>>(
          c, std::max<int64_t>(1, s.tokens_per_step / sl.seq_len), sl.seq_len,
          stream_seed(s.seed, kTagInit)));
    const int64_t n_params = shapes[0]->n_params();
    res.n_params = n_params;
    std::vector<float> w(shapes[0]->weights(), shapes[0]->weights() + n_params);
    AdamWConfig oc;
    oc.lr = lr;
    oc.warmup_steps = s.warmup_steps;
    oc.total_steps = s.steps;
    oc.weight_decay = s.weight_decay;
    AdamW opt(oc, shapes[0]->params());
    Rng pick(stream_seed(s.seed, kTagPick));
    std::vector<Rng> gen;
    for (size_t i = 0; i < n_train; ++i) gen.emplace_back(stream_seed(s.seed, kTagTrain + i));
    std::vector<int> tokens, labels;

    RecallRun run;
    run.lr = lr;
    double loss_sum = 0;
    int64_t loss_n = 0;
    for (int64_t step = 0; step < s.steps; ++step) {
      const size_t k = static_cast<size_t>(pick.next_u64() % n_train);
      TrainModel<float>& mk = *shapes[k];
      const MqarSpec spec = spec_of(s, s.train[k]);
      const int64_t B = mk.batch(), T = mk.seq();
      tokens.resize(static_cast<size_t>(B * T));
      labels.resize(static_cast<size_t>(B * T));
      mqar_batch(spec, gen[k], B, tokens.data(), labels.data());
      std::memcpy(mk.weights(), w.data(), sizeof(float) * static_cast<size_t>(n_params));
      loss_sum += mk.forward(pool, tokens.data(), labels.data());
      ++loss_n;
      mk.backward(pool);
      opt.step(pool, w.data(), mk.grads());
      run.steps_run = step + 1;
      if (run.steps_run % s.eval_every == 0 || run.steps_run == s.steps) {
        run.val_accuracy = val_accuracy(w.data());
        run.final_loss = loss_sum / static_cast<double>(loss_n);
        if (on_eval) {
          RecallProgress p;
          p.model = &m;
          p.lr = lr;
          p.step = run.steps_run;
          p.steps = s.steps;
          p.loss = run.final_loss;
          p.val_accuracy = run.val_accuracy;
          on_eval(p);
        }
        loss_sum = 0;
        loss_n = 0;
        if (run.val_accuracy >= s.stop_accuracy) {
          run.stopped_early = run.steps_run < s.steps;
          break;
        }
      }
    }
    run.seconds = seconds_since(t0);
    const bool better = res.runs.empty() || run.val_accuracy > res.runs[res.best].val_accuracy;
    res.runs.push_back(run);
    if (better) {
      res.best = res.runs.size() - 1;
      best_w = w;
    }
    if (run.val_accuracy >= s.stop_accuracy) break;
  }
  res.train_seconds = seconds_since(t_train);

  const auto t_test = std::chrono::steady_clock::now();
  for (size_t i = 0; i < s.test.size(); ++i) {
    res.test_accuracy.push_back(
        mqar_eval_accuracy(pool, c, best_w.data(), recall_test_set(s, i), s.eval_batch));
  }
  res.weights = std::move(best_w);
  res.test_seconds = seconds_since(t_test);
  return res;
}

std::unique_ptr<ModelFile> recall_model_file(const RecallSweep& s, const RecallResult& r) {
  int64_t lmax = 0;
  for (const MqarSlice& t : s.test) lmax = std::max(lmax, t.seq_len);
  TrainModel<float> m(recall_train_config(r.model, s.vocab), 1, lmax, 1);
  check(static_cast<int64_t>(r.weights.size()) == m.n_params(), "recall: the result of '",
        r.model.label(), "' has ", r.weights.size(), " weights, the model ", m.n_params());
  std::copy(r.weights.begin(), r.weights.end(), m.weights());
  ExportOptions o;
  o.ctx_len = lmax;
  return export_model_file(m, o);
}

}  // namespace lc::train
