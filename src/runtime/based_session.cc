#include "runtime/based_session.h"

#include <algorithm>

#include "core/error.h"

namespace lc {

BasedSession::BasedSession(const BasedModel& model, const BasedSessionOptions& opt)
    : model_(model),
      pool_(opt.n_threads),
      state_(model, opt.block_tokens, opt.chunk, pool_.size()),
      logits_(static_cast<size_t>(model.vocab_size())) {
  state_.scratch().taylor_form = opt.taylor;
}

const float* BasedSession::prefill(const int* tokens, int64_t n) {
  check(n >= 1, "prefill: empty prompt");
  for (int64_t done = 0; done < n;) {
    const int64_t b = std::min(state_.block_tokens(), n - done);
    model_.forward(pool_, state_, tokens + done, b, done + b == n ? logits_.data() : nullptr,
                   false);
    done += b;
  }
  return logits_.data();
}

const float* BasedSession::decode(int token) { return prefill(&token, 1); }

void BasedSession::all_logits(const int* tokens, int64_t n, float* out) {
  reset();
  check(n >= 1, "logits: empty token list");
  const int64_t vocab = model_.vocab_size();
  for (int64_t done = 0; done < n;) {
    const int64_t b = std::min(state_.block_tokens(), n - done);
    model_.forward(pool_, state_, tokens + done, b, out + done * vocab, true);
    done += b;
  }
}

}  // namespace lc
