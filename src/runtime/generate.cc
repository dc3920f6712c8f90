#include "runtime/generate.h"

#include <algorithm>

#include "core/error.h"
#include "core/timer.h"

namespace lc {

GenerateStats generate(Session& session, const Tokenizer& tok, const std::vector<int>& prompt,
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
    if (opt.on_token) opt.on_token(next);
    on_text(tok.decode(prev, next, opt.special));
    ++st.n_generated;
    prev = next;
    if (i + 1 == opt.max_new_tokens) break;
    if (session.pos() >= session.capacity()) {
      st.hit_context_limit = true;
      st.context_limit = session.capacity();
      break;
    }
    logits = session.decode(next);
  }
  st.decode_seconds = now_seconds() - t1;
  return st;
}

GenerateStats generate_batch(BatchSession& session, const Tokenizer& tok,
                             const std::vector<int>& prompt, const GenerateOptions& opt,
                             std::vector<std::string>* texts) {
  GenerateStats st;
  check(!prompt.empty(), "generate: the prompt has no tokens (BOS expected at least)");
  const int64_t B = session.n_seqs();
  const int64_t vocab = std::min<int64_t>(tok.vocab_size(), session.vocab_size());
  const int64_t stride = session.vocab_size();
  std::vector<Sampler> samplers;
  for (int64_t s = 0; s < B; ++s) {
    SamplerOptions so = opt.sampler;
    so.seed += static_cast<uint64_t>(s);
    samplers.emplace_back(vocab, so);
  }
  texts->assign(static_cast<size_t>(B), std::string());
  st.n_prompt = static_cast<int64_t>(prompt.size());
  std::vector<int> prev(static_cast<size_t>(B), prompt.back()), next(static_cast<size_t>(B));
  std::vector<char> done(static_cast<size_t>(B), 0);

  double t0 = now_seconds();
  std::vector<float> first(static_cast<size_t>(B * stride));  // prefill logits per sequence
  for (int64_t s = 0; s < B; ++s) {
    const float* l = session.prefill(s, prompt.data(), st.n_prompt);
    std::copy(l, l + stride, first.begin() + s * stride);
  }
  const float* logits = first.data();
  double t1 = now_seconds();
  st.prefill_seconds = t1 - t0;

  for (int64_t i = 0; i < opt.max_new_tokens; ++i) {
    int64_t active = 0;
    for (int64_t s = 0; s < B; ++s) {
      next[s] = prev[s];
      if (done[s]) continue;
      const int t = samplers[s].sample(logits + s * stride, vocab);
      if (t == tok.eos_id() || t == tok.bos_id()) {
        done[s] = 1;
        continue;
      }
      (*texts)[s] += tok.decode(prev[s], t, opt.special);
      ++st.n_generated;
      ++active;
      prev[s] = next[s] = t;
    }
    if (active == 0 || i + 1 == opt.max_new_tokens) break;
    if (session.pos(0) >= session.capacity()) {
      st.hit_context_limit = true;
      st.context_limit = session.capacity();
      break;
    }
    logits = session.decode(next.data());
  }
  st.decode_seconds = now_seconds() - t1;
  return st;
}

}  // namespace lc
