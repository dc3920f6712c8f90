#include "runtime/session.h"

#include <algorithm>

#include "core/error.h"

namespace lc {

Session::Session(const Model& model, const SessionOptions& opt)
    : model_(model),
      pool_(opt.n_threads),
      state_(model.new_state(opt.state(), pool_.size())),
      scratch_(model.new_scratch(opt.state(), state_->max_block(), pool_.size())),
      logits_(static_cast<size_t>(model.vocab_size())) {}

void Session::run(const int* tokens, int64_t n, float* last, float* all) {
  const int64_t vocab = model_.vocab_size(), block = state_->max_block();
  for (int64_t done = 0; done < n;) {
    const int64_t b = std::min(block, n - done);
    const SeqBlock seq{state_.get(), b};
    float* out = all ? all + done * vocab : done + b == n ? last : nullptr;
    model_.forward(pool_, *scratch_, &seq, 1, tokens + done, out, all != nullptr);
    done += b;
  }
}

const float* Session::prefill(const int* tokens, int64_t n) {
  check(n >= 1, "prefill: empty prompt");
  check(n <= capacity() - pos(), "prompt of ", n, " tokens (at position ", pos(),
        ") does not fit the context of ", capacity(), " tokens (raise --ctx)");
  run(tokens, n, logits_.data(), nullptr);
  return logits_.data();
}

const float* Session::decode(int token) { return prefill(&token, 1); }

const float* Session::forward_all(const int* tokens, int64_t n) {
  check(n >= 1 && n <= max_block(), "forward: block of ", n, " tokens (expected 1..", max_block(),
        ")");
  check(n <= capacity() - pos(), "sequence longer than the context of ", capacity(),
        " tokens (raise --ctx)");
  if (block_logits_.size() == 0)
    block_logits_ = AlignedBuffer<float>(static_cast<size_t>(max_block() * vocab_size()));
  run(tokens, n, nullptr, block_logits_.data());
  return block_logits_.data();
}

void Session::all_logits(const int* tokens, int64_t n, float* out) {
  reset();
  check(n >= 1, "logits: empty token list");
  check(n <= capacity(), "sequence of ", n, " tokens does not fit the context of ", capacity(),
        " tokens (raise --ctx)");
  run(tokens, n, nullptr, out);
}

}  // namespace lc
