#include "train/recall.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>

#include "core/error.h"
#include "core/parse.h"
#include "core/rng.h"
#include "train/layers.h"
#include "train/optim.h"

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

// Taylor features with the symmetric packing of x x^T: 1 + f + f(f+1)/2.
int64_t taylor_features(int64_t f) { return 1 + f + f * (f + 1) / 2; }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

std::string RecallModel::family() const {
  return mixer == 'a' ? "attention" : mixer == 'w' ? "sliding window" : "BASED";
}

std::string RecallModel::label() const {
  const std::string d = " d=" + std::to_string(d_model);
  if (mixer == 'a') return "attention" + d;
  if (mixer == 'w') return "window" + d + " w=" + std::to_string(window);
  return "BASED" + d + " f=" + std::to_string(feature_dim);
}

RecallModel parse_recall_model(const std::string& text) {
  std::vector<std::string> parts;
  size_t b = 0;
  for (size_t i = 0; i <= text.size(); ++i)
    if (i == text.size() || text[i] == ':') {
      parts.push_back(text.substr(b, i - b));
      b = i + 1;
    }
  const std::string what = "recall model '" + text + "'";
  RecallModel m;
  const std::string& fam = parts[0];
  if (fam == "attention" || fam == "a")
    m.mixer = 'a';
  else if (fam == "window" || fam == "w")
    m.mixer = 'w';
  else if (fam == "based" || fam == "l")
    m.mixer = 'l';
  else
    throw Error(what + ": family must be attention, window or based (e.g. based:d=64:f=8)");
  m.d_model = 0;
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    if (p.size() < 3 || p[1] != '=')
      throw Error(what + ": expected d=N, w=N or f=N, got '" + p + "'");
    const int64_t v = parse_int(what + " " + p.substr(0, 1), p.substr(2), 1, 1 << 14);
    if (p[0] == 'd')
      m.d_model = v;
    else if (p[0] == 'w' && m.mixer == 'w')
      m.window = v;
    else if (p[0] == 'f' && m.mixer == 'l')
      m.feature_dim = v;
    else
      throw Error(what + ": '" + p.substr(0, 1) + "=' does not apply to " + m.family());
  }
  if (m.d_model < 2 || m.d_model % 2) throw Error(what + ": needs an even d=N >= 2");
  if (m.mixer == 'w' && m.window < 1) throw Error(what + ": a window model needs w=N");
  if (m.mixer == 'l' && m.feature_dim < 1) throw Error(what + ": a BASED model needs f=N");
  if (m.mixer == 'l' && m.feature_dim > 64) throw Error(what + ": f must be <= 64");
  return m;
}

int64_t mixer_state_size(const RecallModel& m, int64_t seq_len) {
  switch (m.mixer) {
    case 'a':
      return 2 * m.d_model * seq_len;
    case 'w':
      return 2 * m.d_model * m.window;
    default: {
      const int64_t n = taylor_features(m.feature_dim);
      return m.d_model * n + n;
    }
  }
}

int64_t conv_state_size(int64_t d_model, int64_t kernel) { return d_model * kernel; }

int64_t model_state_size(const RecallModel& m, int64_t seq_len) {
  return mixer_state_size(m, seq_len) + conv_state_size(m.d_model);
}

TrainConfig recall_train_config(const RecallModel& m, int64_t vocab) {
  TrainConfig c;
  c.arch = Arch::Based;
  c.vocab_size = vocab;
  c.d_model = m.d_model;
  c.n_layers = 2;
  c.mixers = parse_mixers(std::string("c") + m.mixer);
  c.n_heads = c.n_kv_heads = 1;
  c.hidden = 0;
  c.window = m.mixer == 'w' ? m.window : 0;
  c.linear_heads = 1;
  c.feature_dim = m.mixer == 'l' ? m.feature_dim : 8;
  c.tied = true;
  c.rope = false;  // the spec's models have no position embedding; the conv supplies order
  validate(c);
  return c;
}

void validate(const RecallSweep& s) {
  check(!s.train.empty() && !s.test.empty(), "recall: needs at least one train and one test slice");
  for (const auto* list : {&s.train, &s.test})
    for (const MqarSlice& sl : *list) check_mqar_spec(spec_of(s, sl));
  check(!s.lrs.empty(), "recall: needs at least one learning rate");
  for (double lr : s.lrs) check(lr > 0 && lr < 10, "recall: learning rate ", lr, " out of range");
  check(s.steps >= 1 && s.eval_every >= 1, "recall: steps and eval_every must be >= 1");
  check(s.warmup_steps >= 0 && s.warmup_steps <= s.steps, "recall: warmup ", s.warmup_steps,
        " must be in [0, steps]");
  for (const MqarSlice& sl : s.train)
    check(s.tokens_per_step >= sl.seq_len, "recall: tokens per step ", s.tokens_per_step,
          " is less than one train sequence of ", sl.seq_len);
  check(s.val_examples >= 1 && s.test_examples >= 1 && s.eval_batch >= 1,
        "recall: example counts and eval batch must be >= 1");
}

std::vector<MqarExample> recall_test_set(const RecallSweep& s, size_t i) {
  check(i < s.test.size(), "recall: test slice ", i, " out of range");
  return mqar_dataset(spec_of(s, s.test[i]), s.test_examples, stream_seed(s.seed, kTagTest + i));
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
      for (int64_t b = 0; b < B; ++b) {
        const MqarExample e = mqar_example(spec, gen[k]);
        for (int64_t i = 0; i < T; ++i) {
          tokens[b * T + i] = e.tokens[i];
          labels[b * T + i] = e.labels[i] == kMqarIgnore ? kIgnoreLabel : e.labels[i];
        }
      }
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

}  // namespace lc::train
