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

}  // namespace lc
