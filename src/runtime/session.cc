#include "runtime/session.h"

#include <algorithm>

#include "core/error.h"

namespace lc {

namespace {

int64_t resolve_ctx(const LlamaModel& m, int64_t ctx) { return ctx > 0 ? ctx : m.config().ctx_len; }

std::unique_ptr<AttentionPolicy> policy_for(const LlamaModel& m, const SessionOptions& opt) {
  PolicyContext pc;
  pc.trained_ctx = m.config().ctx_len;
  pc.ctx = resolve_ctx(m, opt.ctx);
  pc.block_tokens = std::max<int64_t>(1, opt.block_tokens);
  pc.model_window = m.config().sliding_window;
  return make_policy(opt.attn, pc);
}

}  // namespace

Session::Session(const LlamaModel& model, const SessionOptions& opt)
    : model_(model),
      opt_(opt),
      pool_(opt.n_threads),
      policy_(policy_for(model, opt)),
      cache_(model.config().n_layers, model.config().n_kv_heads, model.config().head_dim,
             policy_->geometry()),
      ws_(model.config(), std::max<int64_t>(1, opt.block_tokens), *policy_, pool_.size()),
      logits_(static_cast<size_t>(model.config().vocab_size)) {
  // An unbounded top-k middle store grows by one chunk every MiddleStore::kChunk tokens; with an
  // explicit --ctx it is allocated up front instead, so that decoding allocates nothing.
  if (opt.ctx > 0) cache_.middle().reserve(opt.ctx);
}

const float* Session::prefill(const int* tokens, int64_t n) {
  check(n >= 1, "prefill: empty prompt");
  check(n <= capacity() - pos_, "prompt of ", n, " tokens (at position ", pos_,
        ") does not fit the context of ", capacity(), " tokens (raise --ctx)");
  const int64_t block = std::min(ws_.max_tokens, policy_->max_block());
  for (int64_t done = 0; done < n;) {
    int64_t b = std::min(block, n - done);
    bool last = done + b == n;
    model_.forward(pool_, ws_, cache_, *policy_, tokens + done, b, pos_,
                   last ? logits_.data() : nullptr, false);
    pos_ += b;
    done += b;
  }
  return logits_.data();
}

const float* Session::decode(int token) { return prefill(&token, 1); }

void Session::all_logits(const int* tokens, int64_t n, float* out) {
  reset();
  check(n >= 1, "logits: empty token list");
  check(n <= capacity(), "sequence of ", n, " tokens does not fit the context of ", capacity(),
        " tokens (raise --ctx)");
  const int64_t vocab = model_.config().vocab_size;
  const int64_t block = std::min(ws_.max_tokens, policy_->max_block());
  for (int64_t done = 0; done < n;) {
    int64_t b = std::min(block, n - done);
    model_.forward(pool_, ws_, cache_, *policy_, tokens + done, b, pos_, out + done * vocab, true);
    pos_ += b;
    done += b;
  }
}

void Session::fill_random(int64_t n, uint64_t seed) {
  reset();
  check(n >= 0 && n < capacity(), "fill: ", n, " positions do not fit the context of ",
        capacity(), " tokens (raise --ctx)");
  cache_.fill_random(n, seed);
  pos_ = n;
}

}  // namespace lc
