// One interface for every architecture (docs/design.md, "The model interface").
//
// A Model is immutable and owns (views of) its weights. Everything one sequence carries between
// calls -- KV caches under an attention policy, or a fixed-size recurrent state -- lives in a
// SequenceState the model makes; the activations of one forward live in a ForwardScratch, which
// the sequences of a batch share. One forward runs a block of tokens of each of several
// sequences: their rows are consecutive in `tokens`, the matrix products run over all rows, the
// per-sequence parts (caches, mixers) against each sequence's own state.
//
// Adding an architecture: one file in src/model/ implementing Model, plus one line in the
// registry (model/registry.cc).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "attention/config.h"
#include "formats/model_file.h"

namespace lc {

class ThreadPool;

// How linear-attention layers run a prefill block (BASED): the chunked (IO-aware) form, or the
// explicit n x n quadratic form (benchmarks only: it covers one block from a fresh state and
// leaves no recurrent state behind).
enum class TaylorForm : uint8_t { Chunked, Quadratic };

// What a state (and the scratch that serves it) is built for. Options a model does not use are
// ignored (a recurrent model has no attention policy and no context limit).
struct StateOptions {
  // Context limit in tokens of an unbounded (full) cache; 0 = the model's trained context.
  int64_t ctx = 0;
  AttentionConfig attn;       // attention + KV-cache policy (models with attention caches)
  int64_t block_tokens = 64;  // tokens of one sequence per forward (prefill blocks)
  int64_t chunk = 64;         // linear-attention prefill chunk (BASED)
  TaylorForm taylor = TaylorForm::Chunked;
};

// One sequence's memory between forward calls.
class SequenceState {
 public:
  virtual ~SequenceState() = default;
  // Tokens processed so far (the next token's position).
  virtual int64_t pos() const = 0;
  // The most positions the state can hold (INT64_MAX: no context limit).
  virtual int64_t capacity() const = 0;
  // The most tokens one forward may append to this sequence.
  virtual int64_t max_block() const = 0;
  // Bytes held for the sequence: KV cache (with any middle store) or recurrent state.
  virtual size_t bytes() const = 0;
  // KV-cache slots allocated (0 for a recurrent state).
  virtual int64_t cache_slots() const { return 0; }
  // Bytes one cached position takes in the KV cache (keys and values of every layer in their
  // element types); 0 for a recurrent state.
  virtual int64_t kv_bytes_per_token() const { return 0; }
  // The resolved policy, e.g. "lambda(G=10,L=512,D=512)", or the architecture's fixed state.
  virtual const std::string& label() const = 0;
  // Forgets the sequence (next position 0).
  virtual void reset() = 0;
  // Benchmarks: resets, then pretends that n tokens were processed, with random contents in
  // every slot they occupy (O(state), not a prefill).
  virtual void fill_random(int64_t n, uint64_t seed) = 0;
};

// The activations of one forward over up to rows() token rows.
class ForwardScratch {
 public:
  virtual ~ForwardScratch() = default;
  virtual int64_t rows() const = 0;
  virtual size_t bytes() const = 0;
};

// n consecutive rows of a forward's tokens that continue the sequence in `state`.
struct SeqBlock {
  SequenceState* state = nullptr;
  int64_t n = 0;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelConfig& config() const = 0;
  // Entries per logits row (the real vocabulary; padding rows are never scored).
  virtual int64_t vocab_size() const = 0;
  // Whether attention flags (StateOptions::attn) configure this model; models whose mixing is
  // fixed by their config refuse them by name (tools/attention_flags.h).
  virtual bool takes_attention_policy() const = 0;

  virtual std::unique_ptr<SequenceState> new_state(const StateOptions& opt,
                                                   int n_threads) const = 0;
  // Scratch for forwards of up to `rows` rows over states made with the same options.
  virtual std::unique_ptr<ForwardScratch> new_scratch(const StateOptions& opt, int64_t rows,
                                                      int n_threads) const = 0;
  // Runs seqs[s].n tokens of each sequence (rows in order in `tokens`), advancing every state.
  // When logits != nullptr, writes every row's logits ([rows, vocab]) with all_logits, else the
  // last row of each sequence ([n_seqs, vocab]). Allocates nothing.
  virtual void forward(ThreadPool& pool, ForwardScratch& scratch, const SeqBlock* seqs,
                       int64_t n_seqs, const int* tokens, float* logits, bool all_logits) const = 0;
};

}  // namespace lc
