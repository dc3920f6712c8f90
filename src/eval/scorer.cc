#include "eval/scorer.h"

#include <algorithm>

#include "core/error.h"

namespace lc {

SessionOptions eval_session_options(const AttentionConfig& attn, int64_t max_tokens,
                                    int n_threads) {
  SessionOptions so;
  so.n_threads = n_threads;
  so.attn = attn;
  so.ctx = max_tokens;
  return so;
}

LlamaScorer::LlamaScorer(const LlamaModel& model, const AttentionConfig& attn, int64_t max_tokens,
                         int n_threads)
    : model_(model), max_tokens_(max_tokens) {
  vocab_ = model.config().vocab_size;
  check(max_tokens >= 1, "scorer: max_tokens must be >= 1");
  const ModelConfig& c = model.config();
  PolicyContext pc;
  pc.trained_ctx = c.ctx_len;
  pc.ctx = max_tokens;
  pc.block_tokens = block_;
  pc.model_window = c.sliding_window;
  policy_ = make_policy(attn, pc);
  block_ = std::min(block_, policy_->max_block());
  pool_ = std::make_unique<ThreadPool>(n_threads);
  cache_ = std::make_unique<KvCache>(c.n_layers, c.n_kv_heads, c.head_dim, policy_->geometry());
  cache_->middle().reserve(max_tokens);  // unbounded top-k: no growth while scoring
  ws_ = std::make_unique<Workspace>(c, block_, *policy_, pool_->size());
  logits_ = AlignedBuffer<float>(static_cast<size_t>(block_ * vocab_));
}

LlamaScorer::~LlamaScorer() = default;

const float* LlamaScorer::forward(const int* tokens, int64_t n) {
  check(n >= 1 && n <= block_, "scorer: block of ", n, " tokens (expected 1..", block_, ")");
  check(pos_ + n <= max_tokens_, "scorer: sequence longer than the declared maximum of ",
        max_tokens_, " tokens");
  model_.forward(*pool_, *ws_, *cache_, *policy_, tokens, n, pos_, logits_.data(),
                 /*all_logits=*/true);
  pos_ += n;
  return logits_.data();
}

}  // namespace lc
