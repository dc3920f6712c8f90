#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "train/layers.h"

namespace lc::train {

ByteBatches::ByteBatches(std::string data, uint64_t seed) : data_(std::move(data)), state_(seed) {}

void ByteBatches::next(int64_t batch, int64_t seq, int* tokens, int* labels) {
  check(static_cast<int64_t>(data_.size()) >= seq, "train data: ", data_.size(),
        " bytes is shorter than one sequence of ", seq, " tokens");
  Rng rng(state_);
  state_ = rng.next_u64();  // the next call draws from a fresh stream
  const uint64_t span = static_cast<uint64_t>(data_.size()) - static_cast<uint64_t>(seq) + 1;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t off = static_cast<int64_t>(rng.next_u64() % span);
    int* t = tokens + b * seq;
    int* l = labels + b * seq;
    t[0] = kBos;
    for (int64_t i = 1; i < seq; ++i) t[i] = static_cast<unsigned char>(data_[off + i - 1]);
    for (int64_t i = 0; i < seq; ++i) l[i] = static_cast<unsigned char>(data_[off + i]);
  }
}

MqarBatches::MqarBatches(const MqarSpec& spec, uint64_t seed) : spec_(spec), rng_(seed) {
  check_mqar_spec(spec);
}

void MqarBatches::next(int64_t batch, int64_t seq, int* tokens, int* labels) {
  check(seq == spec_.seq_len, "mqar: batch rows of ", seq, " tokens, but the task's seq_len is ",
        spec_.seq_len);
  mqar_batch(spec_, rng_, batch, tokens, labels);
}

void mqar_batch(const MqarSpec& spec, Rng& rng, int64_t batch, int* tokens, int* labels) {
  const int64_t T = spec.seq_len;
  for (int64_t b = 0; b < batch; ++b) {
    const MqarExample e = mqar_example(spec, rng);
    for (int64_t i = 0; i < T; ++i) {
      tokens[b * T + i] = e.tokens[i];
      labels[b * T + i] = e.labels[i] == kMqarIgnore ? kIgnoreLabel : e.labels[i];
    }
  }
}

ByteValidation::ByteValidation(const std::string& text, int64_t batch, int64_t seq,
                               int64_t max_batches)
    : batch_(batch), seq_(seq) {
  const int64_t stride = seq - 1;  // bytes consumed per window (label of the last = next byte)
  const int64_t windows = static_cast<int64_t>(text.size()) > stride
                              ? (static_cast<int64_t>(text.size()) - 1) / stride
                              : 0;
  const int64_t n_batches = std::min(max_batches, windows / batch);
  for (int64_t w = 0; w < n_batches * batch; ++w) {
    const int64_t off = w * stride;
    tokens_.push_back(ByteBatches::kBos);
    for (int64_t i = 1; i < seq; ++i)
      tokens_.push_back(static_cast<unsigned char>(text[static_cast<size_t>(off + i - 1)]));
    for (int64_t i = 0; i < seq; ++i)
      labels_.push_back(static_cast<unsigned char>(text[static_cast<size_t>(off + i)]));
  }
}

double ByteValidation::loss(ThreadPool& pool, TrainModel<float>& model) const {
  check(model.batch() == batch_ && model.seq() == seq_, "validation: model shape mismatch");
  const int64_t n = batches();
  double sum = 0;
  for (int64_t b = 0; b < n; ++b)
    sum +=
        model.forward(pool, tokens_.data() + b * batch_ * seq_, labels_.data() + b * batch_ * seq_);
  return n > 0 ? sum / static_cast<double>(n) : 0.0;
}

void split_documents(const std::vector<std::string>& docs, double frac, std::string* train,
                     std::string* held_out) {
  check(frac >= 0 && frac < 1, "held-out fraction must be in [0, 1), got ", frac);
  train->clear();
  held_out->clear();
  for (const std::string& d : docs) {
    const size_t tail = static_cast<size_t>(static_cast<double>(d.size()) * frac);
    const size_t cut = d.size() - tail;
    if (!train->empty()) *train += "\n\n";
    train->append(d, 0, cut);
    if (tail == 0) continue;
    if (!held_out->empty()) *held_out += "\n\n";
    held_out->append(d, cut, tail);
  }
}

void train_loop(ThreadPool& pool, TrainModel<float>& model, BatchSource& data, AdamW& opt,
                int64_t steps, const std::function<void(const StepStats&)>& on_step) {
  const int64_t B = model.batch(), T = model.seq();
  std::vector<int> tokens(B * T), labels(B * T);
  for (int64_t s = 0; s < steps; ++s) {
    const auto t0 = std::chrono::steady_clock::now();
    data.next(B, T, tokens.data(), labels.data());
    StepStats st;
    st.loss = model.forward(pool, tokens.data(), labels.data());
    model.backward(pool);
    const StepInfo info = opt.step(pool, model.weights(), model.grads());
    st.step = s + 1;
    st.lr = info.lr;
    st.grad_norm = info.grad_norm;
    st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    st.tokens_per_s = static_cast<double>(B * T) / st.seconds;
    if (on_step) on_step(st);
  }
}

}  // namespace lc::train
