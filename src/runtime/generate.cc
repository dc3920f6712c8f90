#include "runtime/generate.h"

#include <algorithm>

#include "core/error.h"
#include "core/timer.h"

namespace lc {

namespace {

// One loop for every session type (Session, BasedSession).
template <class S>
GenerateStats generate_impl(S& session, const Tokenizer& tok, const std::vector<int>& prompt,
                            const GenerateOptions& opt,
                            const std::function<void(const std::string&)>& on_text) {
  GenerateStats st;
  check(!prompt.empty(), "generate: the prompt has no tokens (BOS expected at least)");
  const int64_t vocab = std::min<int64_t>(tok.vocab_size(), session.vocab_size());
  Sampler sampler(vocab, opt.sampler);
  st.n_prompt = static_cast<int64_t>(prompt.size());

  double t0 = now_seconds();
  const float* logits = session.prefill(prompt.data(), st.n_prompt);
  double t1 = now_seconds();
  st.prefill_seconds = t1 - t0;

  int prev = prompt.back();
  for (int64_t i = 0; i < opt.max_new_tokens; ++i) {
    // Only ids the tokenizer knows are sampled (a model's vocabulary may be padded).
    int next = sampler.sample(logits, vocab);
    if (next == tok.eos_id() || next == tok.bos_id()) break;
    on_text(tok.decode(prev, next));
    ++st.n_generated;
    prev = next;
    if (i + 1 == opt.max_new_tokens) break;
    if (session.pos() >= session.capacity()) {
      st.hit_context_limit = true;
      break;
    }
    logits = session.decode(next);
  }
  st.decode_seconds = now_seconds() - t1;
  return st;
}

}  // namespace

GenerateStats generate(Session& session, const Tokenizer& tok, const std::vector<int>& prompt,
                       const GenerateOptions& opt,
                       const std::function<void(const std::string&)>& on_text) {
  return generate_impl(session, tok, prompt, opt, on_text);
}

GenerateStats generate(BasedSession& session, const Tokenizer& tok, const std::vector<int>& prompt,
                       const GenerateOptions& opt,
                       const std::function<void(const std::string&)>& on_text) {
  return generate_impl(session, tok, prompt, opt, on_text);
}

}  // namespace lc
