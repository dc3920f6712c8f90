#include "runtime/batch_session.h"

#include <algorithm>

#include "core/error.h"

namespace lc {

namespace {

std::unique_ptr<AttentionPolicy> batch_policy(const LlamaModel& m, const SessionOptions& opt) {
  PolicyContext pc;
  pc.trained_ctx = m.config().ctx_len;
  pc.ctx = opt.ctx > 0 ? opt.ctx : m.config().ctx_len;
  pc.block_tokens = std::max<int64_t>(1, opt.block_tokens);
  pc.model_window = m.config().sliding_window;
  return make_policy(opt.attn, pc);
}

int64_t checked_seqs(int64_t n_seqs) {
  check(n_seqs >= 1, "batch: need at least one sequence, got ", n_seqs);
  return n_seqs;
}

}  // namespace

BatchSession::BatchSession(const LlamaModel& model, const SessionOptions& opt, int64_t n_seqs)
    : model_(model),
      pool_(opt.n_threads),
      policy_(batch_policy(model, opt)),
      ws_(model.config(), std::max<int64_t>(std::max<int64_t>(1, opt.block_tokens),
                                            checked_seqs(n_seqs)),
          *policy_, pool_.size()),
      rows_(static_cast<size_t>(n_seqs)),
      pos_(static_cast<size_t>(n_seqs), 0),
      logits_(static_cast<size_t>(n_seqs * model.config().vocab_size)) {
  const ModelConfig& c = model.config();
  caches_.reserve(static_cast<size_t>(n_seqs));
  for (int64_t s = 0; s < n_seqs; ++s)
    caches_.emplace_back(c.n_layers, c.n_kv_heads, c.head_dim, policy_->geometry());
  // As in Session: an unbounded top-k middle store is reserved up front from --ctx.
  if (opt.ctx > 0)
    for (KvCache& cache : caches_) cache.middle().reserve(opt.ctx);
  for (int64_t s = 0; s < n_seqs; ++s) rows_[s] = SeqRows{&caches_[s], s, 1, 0};
}

const float* BatchSession::prefill(int64_t seq, const int* tokens, int64_t n) {
  check(seq >= 0 && seq < n_seqs(), "batch prefill: sequence ", seq, " out of range");
  check(n >= 1, "prefill: empty prompt");
  check(n <= capacity() - pos_[seq], "prompt of ", n, " tokens (at position ", pos_[seq],
        ") does not fit the context of ", capacity(), " tokens (raise --ctx)");
  const int64_t block = std::min(ws_.max_tokens, policy_->max_block());
  for (int64_t done = 0; done < n;) {
    const int64_t b = std::min(block, n - done);
    model_.forward(pool_, ws_, caches_[seq], *policy_, tokens + done, b, pos_[seq],
                   done + b == n ? logits_.data() : nullptr, false);
    pos_[seq] += b;
    done += b;
  }
  return logits_.data();
}

const float* BatchSession::decode(const int* tokens) {
  for (int64_t s = 0; s < n_seqs(); ++s) rows_[s].pos0 = pos_[s];
  model_.forward(pool_, ws_, *policy_, rows_.data(), n_seqs(), tokens, logits_.data(), false);
  for (int64_t s = 0; s < n_seqs(); ++s) ++pos_[s];
  return logits_.data();
}

void BatchSession::fill_random(int64_t seq, int64_t n, uint64_t seed) {
  check(seq >= 0 && seq < n_seqs(), "batch fill: sequence ", seq, " out of range");
  check(n >= 0 && n < capacity(), "fill: ", n, " positions do not fit the context of ",
        capacity(), " tokens (raise --ctx)");
  caches_[seq].fill_random(n, seed);
  pos_[seq] = n;
}

void BatchSession::reset() { std::fill(pos_.begin(), pos_.end(), 0); }

BasedBatchSession::BasedBatchSession(const BasedModel& model, const BasedSessionOptions& opt,
                                     int64_t n_seqs)
    : model_(model),
      pool_(opt.n_threads),
      scratch_(model, std::max<int64_t>(std::max<int64_t>(1, opt.block_tokens),
                                        checked_seqs(n_seqs)),
               opt.chunk, pool_.size()),
      rows_(static_cast<size_t>(n_seqs)),
      logits_(static_cast<size_t>(n_seqs * model.vocab_size())) {
  states_.reserve(static_cast<size_t>(n_seqs));
  for (int64_t s = 0; s < n_seqs; ++s)
    states_.emplace_back(model, opt.block_tokens, opt.chunk, pool_.size(), /*own_scratch=*/false);
  for (int64_t s = 0; s < n_seqs; ++s) rows_[s] = BasedRows{&states_[s], s, 1};
}

const float* BasedBatchSession::prefill(int64_t seq, const int* tokens, int64_t n) {
  check(seq >= 0 && seq < n_seqs(), "batch prefill: sequence ", seq, " out of range");
  check(n >= 1, "prefill: empty prompt");
  const int64_t block = states_[seq].block_tokens();
  for (int64_t done = 0; done < n;) {
    const int64_t b = std::min(block, n - done);
    const BasedRows one{&states_[seq], 0, b};
    model_.forward(pool_, scratch_, &one, 1, tokens + done,
                   done + b == n ? logits_.data() : nullptr, false);
    done += b;
  }
  return logits_.data();
}

const float* BasedBatchSession::decode(const int* tokens) {
  model_.forward(pool_, scratch_, rows_.data(), n_seqs(), tokens, logits_.data(), false);
  return logits_.data();
}

void BasedBatchSession::fill_random(int64_t seq, int64_t n, uint64_t seed) {
  check(seq >= 0 && seq < n_seqs(), "batch fill: sequence ", seq, " out of range");
  states_[seq].fill_random(n, seed);
}

void BasedBatchSession::reset() {
  for (auto& s : states_) s.reset();
}

}  // namespace lc
