// Batched generation over B independent sequences sharing one immutable model of any
// architecture: each sequence has its own state (KV caches under the attention policy, or a
// recurrent state). A prompt is prefilled per sequence in blocks; decode() then advances every
// sequence by one token in ONE forward -- each projection, MLP and the classifier run
// matrix-matrix over the B rows, attention / mixers per sequence. Everything is allocated in the
// constructor; decode() does not allocate.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/aligned.h"
#include "core/thread_pool.h"
#include "model/model.h"
#include "runtime/session.h"

namespace lc {

class BatchSession {
 public:
  BatchSession(const Model& model, const SessionOptions& opt, int64_t n_seqs);

  int64_t n_seqs() const { return static_cast<int64_t>(states_.size()); }
  // Appends tokens to sequence `seq`; returns its logits after the last one ([vocab], valid
  // until the next call).
  const float* prefill(int64_t seq, const int* tokens, int64_t n);
  // Appends tokens[s] to every sequence s in one forward; returns [n_seqs, vocab] logits.
  const float* decode(const int* tokens);
  // Benchmarks: sequence `seq` pretends n tokens were processed (SequenceState::fill_random).
  void fill_random(int64_t seq, int64_t n, uint64_t seed);

  void reset();
  int64_t pos(int64_t seq) const { return states_[seq]->pos(); }
  int64_t capacity() const { return states_[0]->capacity(); }
  int64_t vocab_size() const { return model_.vocab_size(); }
  // State bytes (KV cache or recurrent state) of one sequence (all are alike) and of the batch.
  size_t state_bytes_per_seq() const { return states_[0]->bytes(); }
  size_t state_bytes() const;
  size_t workspace_bytes() const { return scratch_->bytes(); }
  const std::string& label() const { return states_[0]->label(); }
  ThreadPool& pool() { return pool_; }

 private:
  const Model& model_;
  ThreadPool pool_;
  std::vector<std::unique_ptr<SequenceState>> states_;  // [n_seqs]
  std::unique_ptr<ForwardScratch> scratch_;             // max(block_tokens, n_seqs) rows
  std::vector<SeqBlock> rows_;                          // [n_seqs] the decode plan
  AlignedBuffer<float> logits_;                         // [n_seqs, vocab]
};

}  // namespace lc
