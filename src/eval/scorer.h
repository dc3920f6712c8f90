// Teacher-forced scoring primitive of the evaluations: runs a model over one growing sequence,
// block by block, and returns the logits of EVERY position of each block. LlamaScorer is the
// Llama-family implementation; eval/based_scorer.h the BASED one (Session::prefill only
// returns the last one, and Session::all_logits restarts the sequence).
//
// Until Session offers "append a block and return all of its logits", this drives
// LlamaModel::forward directly with its own attention policy (attention/policy.h), KV cache and
// workspace, exactly as Session::prefill does: the same policy, geometry and block limits.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "attention/config.h"
#include "attention/kv_cache.h"
#include "attention/policy.h"
#include "core/aligned.h"
#include "core/thread_pool.h"
#include "model/llama.h"
#include "runtime/session.h"

namespace lc {

// Session options for an evaluation of sequences up to `max_tokens` long: an unbounded (full)
// cache gets exactly max_tokens positions; bounded policies ignore ctx.
SessionOptions eval_session_options(const AttentionConfig& attn, int64_t max_tokens,
                                    int n_threads);

// What the evaluations drive: one sequence, appended block by block, every position's logits.
class SequenceScorer {
 public:
  virtual ~SequenceScorer() = default;
  // Starts a new sequence at position 0.
  virtual void reset() = 0;
  int64_t pos() const { return pos_; }
  int64_t max_block() const { return block_; }
  int64_t vocab() const { return vocab_; }
  // Appends n (1..max_block()) tokens; returns their logits, [n, vocab] row-major, valid until
  // the next call.
  virtual const float* forward(const int* tokens, int64_t n) = 0;
  // Bytes of the per-sequence memory: the KV cache, or a recurrent model's state.
  virtual size_t cache_bytes() const = 0;
  // The resolved policy label, e.g. "lambda(G=10,L=512,D=512)".
  virtual const std::string& label() const = 0;

 protected:
  int64_t block_ = 64, vocab_ = 0, pos_ = 0;
};

// A Llama-family model under an attention policy (attention/policy.h).
class LlamaScorer final : public SequenceScorer {
 public:
  LlamaScorer(const LlamaModel& model, const AttentionConfig& attn, int64_t max_tokens,
              int n_threads);
  ~LlamaScorer() override;

  void reset() override { pos_ = 0; }
  const float* forward(const int* tokens, int64_t n) override;
  size_t cache_bytes() const override { return cache_->bytes(); }
  const std::string& label() const override { return policy_->label(); }

 private:
  const LlamaModel& model_;
  int64_t max_tokens_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<AttentionPolicy> policy_;
  std::unique_ptr<KvCache> cache_;
  std::unique_ptr<Workspace> ws_;
  AlignedBuffer<float> logits_;  // [block, vocab]
};

}  // namespace lc
