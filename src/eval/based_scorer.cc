#include "eval/based_scorer.h"

#include "core/error.h"

namespace lc {

namespace {
constexpr int64_t kBlock = 64, kChunk = 64;
}

BasedScorer::BasedScorer(const BasedModel& model, int n_threads)
    : model_(model), pool_(n_threads), state_(model, kBlock, kChunk, n_threads) {
  block_ = kBlock;
  vocab_ = model.vocab_size();
  logits_ = AlignedBuffer<float>(static_cast<size_t>(block_ * vocab_));
}

void BasedScorer::reset() {
  state_.reset();
  pos_ = 0;
}

const float* BasedScorer::forward(const int* tokens, int64_t n) {
  check(n >= 1 && n <= block_, "scorer: block of ", n, " tokens (expected 1..", block_, ")");
  model_.forward(pool_, state_, tokens, n, logits_.data(), /*all_logits=*/true);
  pos_ += n;
  return logits_.data();
}

}  // namespace lc
