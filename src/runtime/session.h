// A decoding session: one sequence's KV cache and scratch space over a shared, immutable model.
// prefill() processes a prompt in blocks (matrix-matrix over each block); decode() runs one
// token. Everything is allocated in the constructor; prefill/decode do not allocate.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "attention/config.h"
#include "attention/kv_cache.h"
#include "core/aligned.h"
#include "core/thread_pool.h"
#include "model/llama.h"

namespace lc {

struct SessionOptions {
  int64_t ctx = 0;           // cache capacity in tokens; 0 = the model's trained context
  int n_threads = 2;
  int64_t block_tokens = 64; // prompt tokens per forward during prefill
  AttentionConfig attn;      // attention + KV-cache policy
};

class Session {
 public:
  Session(const LlamaModel& model, const SessionOptions& opt);

  // Appends tokens; returns the logits after the last one ([vocab], valid until the next call).
  const float* prefill(const int* tokens, int64_t n);
  // Appends one token; returns its logits.
  const float* decode(int token);
  // One forward over tokens from position 0 (resets the session); writes [n, vocab] logits.
  void all_logits(const int* tokens, int64_t n, float* out);

  void reset() { pos_ = 0; }
  int64_t pos() const { return pos_; }
  int64_t capacity() const { return cache_.capacity(); }
  int64_t vocab_size() const { return model_.config().vocab_size; }
  size_t cache_bytes() const { return cache_.bytes(); }
  ThreadPool& pool() { return pool_; }

 private:
  const LlamaModel& model_;
  SessionOptions opt_;
  ThreadPool pool_;
  KvCache cache_;
  Workspace ws_;
  AlignedBuffer<float> logits_;  // [vocab]
  int64_t pos_ = 0;
};

}  // namespace lc
