// SequenceScorer (eval/scorer.h) for BASED models: the fixed-size recurrent state of one
// sequence, advanced block by block with the chunked Taylor prefill, every position's logits.
// There is no attention policy and no context limit; cache_bytes() is the state size.
#pragma once
#include <memory>
#include <string>

#include "core/aligned.h"
#include "core/thread_pool.h"
#include "eval/scorer.h"
#include "model/based.h"

namespace lc {

class BasedScorer final : public SequenceScorer {
 public:
  BasedScorer(const BasedModel& model, int n_threads);

  void reset() override;
  const float* forward(const int* tokens, int64_t n) override;
  size_t cache_bytes() const override { return state_.state_bytes(); }
  const std::string& label() const override { return label_; }

 private:
  const BasedModel& model_;
  ThreadPool pool_;
  BasedState state_;
  std::string label_ = "based";
  AlignedBuffer<float> logits_;  // [block, vocab]
};

}  // namespace lc
