#include "runtime/session.h"

#include <algorithm>

#include "core/error.h"

namespace lc {

namespace {
int64_t resolve_ctx(const LlamaModel& m, int64_t ctx) { return ctx > 0 ? ctx : m.config().ctx_len; }
}  // namespace

Session::Session(const LlamaModel& model, const SessionOptions& opt)
    : model_(model),
      opt_(opt),
      pool_(opt.n_threads),
      cache_(model.config().n_layers, resolve_ctx(model, opt.ctx), model.config().n_kv_heads,
             model.config().head_dim),
      ws_(model.config(), std::max<int64_t>(1, opt.block_tokens), resolve_ctx(model, opt.ctx),
          pool_.size()),
      logits_(static_cast<size_t>(model.config().vocab_size)) {
  const AttentionConfig& a = opt.attn;
  if (a.policy != AttnPolicy::Full || a.ceiling >= 0 || a.topk > 0)
    fail("--attn ", a.label(), ": bounded attention policies are not implemented yet");
}

const float* Session::prefill(const int* tokens, int64_t n) {
  check(n >= 1, "prefill: empty prompt");
  check(pos_ + n <= cache_.capacity(), "prompt of ", n, " tokens (at position ", pos_,
        ") does not fit the context of ", cache_.capacity(), " tokens (raise --ctx)");
  for (int64_t done = 0; done < n;) {
    int64_t b = std::min(ws_.max_tokens, n - done);
    bool last = done + b == n;
    model_.forward(pool_, ws_, cache_, tokens + done, b, pos_, last ? logits_.data() : nullptr,
                   false);
    pos_ += b;
    done += b;
  }
  return logits_.data();
}

const float* Session::decode(int token) { return prefill(&token, 1); }

void Session::all_logits(const int* tokens, int64_t n, float* out) {
  reset();
  check(n >= 1, "logits: empty token list");
  check(n <= cache_.capacity(), "sequence of ", n, " tokens does not fit the context of ",
        cache_.capacity(), " tokens (raise --ctx)");
  const int64_t vocab = model_.config().vocab_size;
  for (int64_t done = 0; done < n;) {
    int64_t b = std::min(ws_.max_tokens, n - done);
    model_.forward(pool_, ws_, cache_, tokens + done, b, pos_, out + done * vocab, true);
    pos_ += b;
    done += b;
  }
}

}  // namespace lc
