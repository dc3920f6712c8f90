// Batched generation over B independent sequences sharing one immutable model: each sequence has
// its own KV cache (BatchSession, Llama family, any attention policy) or its own recurrent state
// (BasedBatchSession). A prompt is prefilled per sequence in blocks; decode() then advances every
// sequence by one token in ONE forward -- each projection, MLP and the classifier run
// matrix-matrix over the B rows, attention / mixers per sequence. Everything is allocated in the
// constructor; decode() does not allocate.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "attention/kv_cache.h"
#include "attention/policy.h"
#include "core/aligned.h"
#include "core/thread_pool.h"
#include "model/based.h"
#include "model/llama.h"
#include "runtime/based_session.h"
#include "runtime/session.h"

namespace lc {

class BatchSession {
 public:
  BatchSession(const LlamaModel& model, const SessionOptions& opt, int64_t n_seqs);

  int64_t n_seqs() const { return static_cast<int64_t>(caches_.size()); }
  // Appends tokens to sequence `seq`; returns its logits after the last one ([vocab], valid
  // until the next call).
  const float* prefill(int64_t seq, const int* tokens, int64_t n);
  // Appends tokens[s] to every sequence s in one forward; returns [n_seqs, vocab] logits.
  const float* decode(const int* tokens);
  // Benchmarks: sequence `seq` pretends n tokens were processed (Session::fill_random).
  void fill_random(int64_t seq, int64_t n, uint64_t seed);

  void reset();
  int64_t pos(int64_t seq) const { return pos_[seq]; }
  int64_t capacity() const { return caches_[0].geometry().max_positions(); }
  int64_t vocab_size() const { return model_.config().vocab_size; }
  // KV-cache bytes of one sequence (all are alike) and of the whole batch.
  size_t cache_bytes_per_seq() const { return caches_[0].bytes(); }
  size_t cache_bytes() const { return cache_bytes_per_seq() * caches_.size(); }
  const AttentionPolicy& policy() const { return *policy_; }
  ThreadPool& pool() { return pool_; }

 private:
  const LlamaModel& model_;
  ThreadPool pool_;
  std::unique_ptr<AttentionPolicy> policy_;
  std::vector<KvCache> caches_;  // [n_seqs]
  Workspace ws_;                  // max(block_tokens, n_seqs) rows
  std::vector<SeqRows> rows_;     // [n_seqs] the decode plan, positions updated per step
  std::vector<int64_t> pos_;      // [n_seqs]
  AlignedBuffer<float> logits_;   // [n_seqs, vocab]
};

class BasedBatchSession {
 public:
  BasedBatchSession(const BasedModel& model, const BasedSessionOptions& opt, int64_t n_seqs);

  int64_t n_seqs() const { return static_cast<int64_t>(states_.size()); }
  const float* prefill(int64_t seq, const int* tokens, int64_t n);
  // Appends tokens[s] to every sequence s in one forward; returns [n_seqs, vocab_size()].
  const float* decode(const int* tokens);
  // Benchmarks: sequence `seq` pretends n tokens were processed (BasedState::fill_random).
  void fill_random(int64_t seq, int64_t n, uint64_t seed);

  void reset();
  int64_t pos(int64_t seq) const { return states_[seq].pos(); }
  int64_t capacity() const { return INT64_MAX; }
  int64_t vocab_size() const { return model_.vocab_size(); }
  // Recurrent-state bytes of one sequence (all are alike) and of the whole batch.
  size_t state_bytes_per_seq() const { return states_[0].state_bytes(); }
  size_t state_bytes() const { return state_bytes_per_seq() * states_.size(); }
  size_t workspace_bytes() const { return scratch_.bytes(); }
  ThreadPool& pool() { return pool_; }

 private:
  const BasedModel& model_;
  ThreadPool pool_;
  std::vector<BasedState> states_;  // [n_seqs], without their own block scratch
  BasedScratch scratch_;            // max(block_tokens, n_seqs) rows, shared
  std::vector<BasedRows> rows_;     // [n_seqs]
  AlignedBuffer<float> logits_;     // [n_seqs, vocab]
};

}  // namespace lc
