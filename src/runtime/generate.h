// Text generation: prefill the prompt, then sample and decode token by token, streaming the
// text of each token to a callback as soon as it is produced.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/batch_session.h"
#include "runtime/sampler.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"

namespace lc {

struct GenerateOptions {
  int64_t max_new_tokens = 256;
  SamplerOptions sampler;
  // Called with each generated token id, before its text (optional; single-sequence generate).
  std::function<void(int)> on_token;
  // Control tokens print their text (Tokenizer::decode's `special`); otherwise nothing.
  bool special = false;
};

struct GenerateStats {
  int64_t n_prompt = 0;
  int64_t n_generated = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;
  bool hit_context_limit = false;
  int64_t context_limit = 0;  // the session's capacity when hit_context_limit
};

// Step-by-step generation for callers that pull tokens (iterators, bindings): the first next()
// prefills the prompt, each one returns the next sampled token and its text. Stops like
// generate(); then stats() says why (hit_context_limit, or n_generated == max_new_tokens, or an
// end token). opt.on_token is not called (the caller has the id).
class TokenGenerator {
 public:
  TokenGenerator(Session& session, const Tokenizer& tok, std::vector<int> prompt,
                 const GenerateOptions& opt);
  // The next token and its text; false when generation has ended.
  bool next(int* id, std::string* text);
  const GenerateStats& stats() const { return st_; }

 private:
  bool finish(double t0);  // ends generation; decode time since t0

  Session& session_;
  const Tokenizer& tok_;
  GenerateOptions opt_;
  std::vector<int> prompt_;
  int64_t vocab_;
  Sampler sampler_;
  GenerateStats st_;
  const float* logits_ = nullptr;  // [vocab] after the last token fed
  int prev_ = -1;
  bool done_ = false;
};

// Generation stops after max_new_tokens, at the end-of-sequence token, or at BOS (which
// delimits sequences in llama2.c-trained models), or when the context is full.
// Only ids below both the tokenizer's and the model's vocabulary are sampled.
GenerateStats generate(Session& session, const Tokenizer& tok, const std::vector<int>& prompt,
                       const GenerateOptions& opt,
                       const std::function<void(const std::string&)>& on_text);

// Batched generation: every sequence of the session starts from the same prompt and samples on
// its own (sampler seed + sequence index); each step is one decode over all sequences. A
// sequence that has ended (EOS/BOS) still occupies its row until all have ended (its outputs are
// ignored). texts[s] receives sequence s's continuation; n_generated counts all sequences.
GenerateStats generate_batch(BatchSession& session, const Tokenizer& tok,
                             const std::vector<int>& prompt, const GenerateOptions& opt,
                             std::vector<std::string>* texts);
// The same with one prompt per sequence (prompts.size() == n_seqs; lengths may differ):
// n_prompt counts the tokens of all prompts.
GenerateStats generate_batch(BatchSession& session, const Tokenizer& tok,
                             const std::vector<std::vector<int>>& prompts,
                             const GenerateOptions& opt, std::vector<std::string>* texts);

}  // namespace lc
