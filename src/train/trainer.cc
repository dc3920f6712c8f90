#include "train/trainer.h"

#include <chrono>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "core/thread_pool.h"

namespace lc::train {

ByteBatches::ByteBatches(std::string data, uint64_t seed)
    : data_(std::move(data)), state_(seed) {}

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
