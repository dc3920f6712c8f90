#include "runtime/batch_session.h"

#include <algorithm>

#include "core/error.h"

namespace lc {

namespace {

int64_t checked_seqs(int64_t n_seqs) {
  check(n_seqs >= 1, "batch: need at least one sequence, got ", n_seqs);
  return n_seqs;
}

}  // namespace

BatchSession::BatchSession(const Model& model, const SessionOptions& opt, int64_t n_seqs)
    : model_(model),
      pool_(opt.n_threads),
      rows_(static_cast<size_t>(checked_seqs(n_seqs))),
      logits_(static_cast<size_t>(n_seqs * model.vocab_size())) {
  states_.reserve(static_cast<size_t>(n_seqs));
  const StateOptions so = opt.state();
  for (int64_t s = 0; s < n_seqs; ++s) states_.push_back(model.new_state(so, pool_.size()));
  scratch_ = model.new_scratch(so, std::max(states_[0]->max_block(), n_seqs), pool_.size());
  for (int64_t s = 0; s < n_seqs; ++s) rows_[s] = SeqBlock{states_[s].get(), 1};
}

const float* BatchSession::prefill(int64_t seq, const int* tokens, int64_t n) {
  check(seq >= 0 && seq < n_seqs(), "batch prefill: sequence ", seq, " out of range");
  check(n >= 1, "prefill: empty prompt");
  SequenceState& st = *states_[seq];
  check(n <= st.capacity() - st.pos(), "prompt of ", n, " tokens (at position ", st.pos(),
        ") does not fit the context of ", st.capacity(), " tokens (raise --ctx)");
  for (int64_t done = 0; done < n;) {
    const SeqBlock one{&st, std::min(st.max_block(), n - done)};
    model_.forward(pool_, *scratch_, &one, 1, tokens + done,
                   done + one.n == n ? logits_.data() : nullptr, false);
    done += one.n;
  }
  return logits_.data();
}

const float* BatchSession::decode(const int* tokens) {
  model_.forward(pool_, *scratch_, rows_.data(), n_seqs(), tokens, logits_.data(), false);
  return logits_.data();
}

void BatchSession::fill_random(int64_t seq, int64_t n, uint64_t seed) {
  check(seq >= 0 && seq < n_seqs(), "batch fill: sequence ", seq, " out of range");
  states_[seq]->fill_random(n, seed);
}

void BatchSession::reset() {
  for (auto& s : states_) s->reset();
}

size_t BatchSession::state_bytes() const {
  size_t n = 0;
  for (const auto& s : states_) n += s->bytes();
  return n;
}

}  // namespace lc
