// A decoding session: one sequence's KV cache and scratch space over a shared, immutable model.
// prefill() processes a prompt in blocks (matrix-matrix over each block); decode() runs one
// token. Everything is allocated in the constructor; prefill/decode do not allocate.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "attention/config.h"
#include "attention/kv_cache.h"
#include "attention/policy.h"
#include "core/aligned.h"
#include "core/thread_pool.h"
#include "model/llama.h"

namespace lc {

struct SessionOptions {
  // Context limit in tokens of an unbounded (full) cache; 0 = the model's trained context.
  // Bounded policies (window, streaming, lambda) ignore it: they stream indefinitely.
  int64_t ctx = 0;
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

  // Benchmarks: resets, then pretends that n tokens were processed by writing random keys and
  // values into every cache row those positions occupy (O(cache), not a quadratic prefill).
  void fill_random(int64_t n, uint64_t seed);

  void reset() { pos_ = 0; }
  int64_t pos() const { return pos_; }
  // The most positions the session can take (INT64_MAX for bounded policies).
  int64_t capacity() const { return cache_.geometry().max_positions(); }
  // KV-cache slots actually allocated.
  int64_t cache_slots() const { return cache_.capacity(); }
  int64_t vocab_size() const { return model_.config().vocab_size; }
  size_t cache_bytes() const { return cache_.bytes(); }
  const AttentionPolicy& policy() const { return *policy_; }
  ThreadPool& pool() { return pool_; }

 private:
  const LlamaModel& model_;
  SessionOptions opt_;
  ThreadPool pool_;
  std::unique_ptr<AttentionPolicy> policy_;
  KvCache cache_;
  Workspace ws_;
  AlignedBuffer<float> logits_;  // [vocab]
  int64_t pos_ = 0;
};

}  // namespace lc
