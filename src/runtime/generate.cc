#include "runtime/generate.h"

#include <algorithm>

#include "core/error.h"
#include "core/timer.h"

namespace lc {

TokenGenerator::TokenGenerator(Session& session, const Tokenizer& tok, std::vector<int> prompt,
                               const GenerateOptions& opt)
    : session_(session),
      tok_(tok),
      opt_(opt),
      prompt_(std::move(prompt)),
      vocab_(std::min<int64_t>(tok.vocab_size(), session.vocab_size())),
      sampler_(vocab_, opt.sampler) {
  check(!prompt_.empty(), "generate: the prompt has no tokens (BOS expected at least)");
  st_.n_prompt = static_cast<int64_t>(prompt_.size());
}

bool TokenGenerator::next(int* id, std::string* text) {
  if (done_) return false;
  double t0 = now_seconds();
  if (!logits_) {
    logits_ = session_.prefill(prompt_.data(), st_.n_prompt);
    prev_ = prompt_.back();
    const double t1 = now_seconds();
    st_.prefill_seconds = t1 - t0;
    t0 = t1;
  } else if (st_.n_generated < opt_.max_new_tokens) {
    if (session_.pos() >= session_.capacity()) {
      st_.hit_context_limit = true;
      st_.context_limit = session_.capacity();
      return finish(t0);
    }
    logits_ = session_.decode(prev_);
  }
  if (st_.n_generated >= opt_.max_new_tokens) return finish(t0);
  // Only ids the tokenizer knows are sampled (a model's vocabulary may be padded).
  const int t = sampler_.sample(logits_, vocab_);
  if (t == tok_.eos_id() || t == tok_.bos_id()) return finish(t0);
  *id = t;
  *text = tok_.decode(prev_, t, opt_.special);
  ++st_.n_generated;
  prev_ = t;
  st_.decode_seconds += now_seconds() - t0;
  return true;
}

bool TokenGenerator::finish(double t0) {
  st_.decode_seconds += now_seconds() - t0;
  done_ = true;
  return false;
}

GenerateStats generate(Session& session, const Tokenizer& tok, const std::vector<int>& prompt,
                       const GenerateOptions& opt,
                       const std::function<void(const std::string&)>& on_text) {
  TokenGenerator gen(session, tok, prompt, opt);
  int id = 0;
  std::string text;
  while (gen.next(&id, &text)) {
    if (opt.on_token) opt.on_token(id);
    on_text(text);
  }
  return gen.stats();
}

GenerateStats generate_batch(BatchSession& session, const Tokenizer& tok,
                             const std::vector<std::vector<int>>& prompts,
                             const GenerateOptions& opt, std::vector<std::string>* texts) {
  GenerateStats st;
  const int64_t B = session.n_seqs();
  check(static_cast<int64_t>(prompts.size()) == B, "generate: ", prompts.size(),
        " prompts for a batch of ", B, " sequences");
  for (const auto& p : prompts)
    check(!p.empty(), "generate: a prompt has no tokens (BOS expected at least)");
  const int64_t vocab = std::min<int64_t>(tok.vocab_size(), session.vocab_size());
  const int64_t stride = session.vocab_size();
  std::vector<Sampler> samplers;
  for (int64_t s = 0; s < B; ++s) {
    SamplerOptions so = opt.sampler;
    so.seed += static_cast<uint64_t>(s);
    samplers.emplace_back(vocab, so);
  }
  texts->assign(static_cast<size_t>(B), std::string());
  std::vector<int> prev(static_cast<size_t>(B)), next(static_cast<size_t>(B));
  std::vector<char> done(static_cast<size_t>(B), 0);

  double t0 = now_seconds();
  std::vector<float> first(static_cast<size_t>(B * stride));  // prefill logits per sequence
  for (int64_t s = 0; s < B; ++s) {
    const int64_t n = static_cast<int64_t>(prompts[s].size());
    const float* l = session.prefill(s, prompts[s].data(), n);
    std::copy(l, l + stride, first.begin() + s * stride);
    prev[s] = prompts[s].back();
    st.n_prompt += n;
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
    int64_t longest = 0;
    for (int64_t s = 0; s < B; ++s) longest = std::max(longest, session.pos(s));
    if (longest >= session.capacity()) {
      st.hit_context_limit = true;
      st.context_limit = session.capacity();
      break;
    }
    logits = session.decode(next.data());
  }
  st.decode_seconds = now_seconds() - t1;
  return st;
}

GenerateStats generate_batch(BatchSession& session, const Tokenizer& tok,
                             const std::vector<int>& prompt, const GenerateOptions& opt,
                             std::vector<std::string>* texts) {
  GenerateStats st = generate_batch(
      session, tok, std::vector<std::vector<int>>(static_cast<size_t>(session.n_seqs()), prompt),
      opt, texts);
  st.n_prompt = static_cast<int64_t>(prompt.size());
  return st;
}

}  // namespace lc
