// A decoding session: one sequence's state (KV caches under an attention policy, or a fixed-size
// recurrent state) and the scratch of its forwards, over a shared, immutable Model of any
// architecture (model/model.h). prefill() processes a prompt in blocks (matrix-matrix over each
// block); decode() runs one token; forward_all() appends a block and returns every position's
// logits (the scoring primitive of the evaluations). Everything prefill and decode use is
// allocated in the constructor.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "core/aligned.h"
#include "core/thread_pool.h"
#include "model/model.h"

namespace lc {

struct SessionOptions {
  // Context limit in tokens of an unbounded (full) cache; 0 = the model's trained context.
  // Bounded policies and recurrent states ignore it: they stream indefinitely.
  int64_t ctx = 0;
  int n_threads = 2;
  int64_t block_tokens = 64;  // prompt tokens per forward during prefill
  AttentionConfig attn;       // attention + KV-cache policy (models that take one)
  int64_t chunk = 64;         // linear-attention prefill chunk (BASED)
  // Prefill form of linear-attention layers. Quadratic is for benchmarks: the whole prompt must
  // fit one block (block_tokens >= prompt) and the sequence cannot be decoded afterwards.
  TaylorForm taylor = TaylorForm::Chunked;

  StateOptions state() const { return StateOptions{ctx, attn, block_tokens, chunk, taylor}; }
};

class Session {
 public:
  Session(const Model& model, const SessionOptions& opt);

  // Appends tokens; returns the logits after the last one ([vocab], valid until the next call).
  const float* prefill(const int* tokens, int64_t n);
  // Appends one token; returns its logits.
  const float* decode(int token);
  // Appends n (1..max_block()) tokens; returns all their logits, [n, vocab] row-major, valid
  // until the next call. (Its [max_block, vocab] buffer is allocated on first use.)
  const float* forward_all(const int* tokens, int64_t n);
  // One forward over tokens from position 0 (resets the session); writes [n, vocab] logits.
  void all_logits(const int* tokens, int64_t n, float* out);

  // Benchmarks: resets, then pretends that n tokens were processed (SequenceState::fill_random).
  void fill_random(int64_t n, uint64_t seed) { state_->fill_random(n, seed); }

  void reset() { state_->reset(); }
  int64_t pos() const { return state_->pos(); }
  // The most positions the session can take (INT64_MAX for bounded policies and fixed states).
  int64_t capacity() const { return state_->capacity(); }
  int64_t max_block() const { return state_->max_block(); }
  int64_t vocab_size() const { return model_.vocab_size(); }
  // Bytes of the sequence's memory (KV cache, or recurrent state) and of the forward scratch.
  size_t state_bytes() const { return state_->bytes(); }
  size_t workspace_bytes() const { return scratch_->bytes(); }
  int64_t cache_slots() const { return state_->cache_slots(); }
  int64_t kv_bytes_per_token() const { return state_->kv_bytes_per_token(); }
  // The resolved policy, e.g. "lambda(G=10,L=512,D=512)", or "based".
  const std::string& label() const { return state_->label(); }
  const Model& model() const { return model_; }
  SequenceState& state() { return *state_; }
  ThreadPool& pool() { return pool_; }

 private:
  // Runs tokens in blocks of at most max_block(); logits of the last row (or every row into
  // `all`, [n, vocab]) when wanted.
  void run(const int* tokens, int64_t n, float* last, float* all);

  const Model& model_;
  ThreadPool pool_;
  std::unique_ptr<SequenceState> state_;
  std::unique_ptr<ForwardScratch> scratch_;
  AlignedBuffer<float> logits_;        // [vocab]
  AlignedBuffer<float> block_logits_;  // [max_block, vocab], forward_all only
};

}  // namespace lc
