// A BASED decoding session (the counterpart of runtime/session.h for model/based.h): one
// sequence's recurrent state over a shared, immutable BasedModel. The state has a fixed size
// whatever the context length (state_bytes()), so there is no context limit. Everything is
// allocated in the constructor; prefill/decode do not allocate.
#pragma once
#include <cstdint>

#include "core/aligned.h"
#include "core/thread_pool.h"
#include "model/based.h"

namespace lc {

struct BasedSessionOptions {
  int n_threads = 2;
  int64_t block_tokens = 64;  // prompt tokens per forward during prefill
  int64_t chunk = 64;         // Taylor linear-attention prefill chunk (tokens)
  // Prefill form of the linear-attention layers. Quadratic is for benchmarks: the whole prompt
  // must fit one block (block_tokens >= prompt) and the sequence cannot be decoded afterwards.
  TaylorForm taylor = TaylorForm::Chunked;
};

class BasedSession {
 public:
  BasedSession(const BasedModel& model, const BasedSessionOptions& opt);

  // Appends tokens; returns the logits after the last one ([vocab_size()], valid until the
  // next call).
  const float* prefill(const int* tokens, int64_t n);
  // Appends one token; returns its logits.
  const float* decode(int token);
  // One forward over tokens from position 0 (resets the session); writes [n, vocab_size()].
  void all_logits(const int* tokens, int64_t n, float* out);

  void reset() { state_.reset(); }
  int64_t pos() const { return state_.pos(); }
  int64_t capacity() const { return INT64_MAX; }  // fixed-size state: no context limit
  // The real vocabulary (the embedding's padding rows are never scored).
  int64_t vocab_size() const { return model_.vocab_size(); }
  // Bytes of recurrent state per sequence (Taylor KV/Kz, window rings, conv histories).
  size_t state_bytes() const { return state_.state_bytes(); }
  size_t workspace_bytes() const { return state_.workspace_bytes(); }
  ThreadPool& pool() { return pool_; }

 private:
  const BasedModel& model_;
  ThreadPool pool_;
  BasedState state_;
  AlignedBuffer<float> logits_;  // [vocab]
};

}  // namespace lc
