// The decoder-only transformer family, built from a ModelFile's config and canonical tensors:
// Llama/Mistral/Qwen2 (pre-norm RMSNorm, RoPE attention with GQA, SwiGLU MLP) and MPT (pre-norm
// LayerNorm without bias, ALiBi attention, fused Wqkv, GELU MLP) -- ModelConfig's switches. The
// model itself is immutable; a sequence's state is a LlamaState (its KV cache under an attention
// policy) and the activations of a forward live in a Workspace (model/model.h).
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "attention/attention.h"
#include "attention/block_attention.h"
#include "attention/kv_cache.h"
#include "attention/policy.h"
#include "core/aligned.h"
#include "formats/model_file.h"
#include "model/model.h"
#include "ops/ops.h"
#include "ops/rope.h"

namespace lc {

class ThreadPool;

struct LlamaLayer {
  const float* attn_norm;  // [d_model]
  const float* ffn_norm;   // [d_model]
  ops::WeightView wq;      // [q_dim, d_model]
  ops::WeightView wk;      // [kv_dim, d_model]
  ops::WeightView wv;      // [kv_dim, d_model]
  ops::WeightView wo;      // [d_model, q_dim]
  ops::WeightView w_gate;  // [hidden, d_model]   (llama2.c w1; absent for a GELU MLP)
  ops::WeightView w_up;    // [hidden, d_model]   (llama2.c w3)
  ops::WeightView w_down;  // [d_model, hidden]   (llama2.c w2)
  // q/k/v projection biases (ModelConfig::qkv_bias, Qwen2); nullptr when the model has none.
  const float* bq = nullptr;  // [q_dim]
  const float* bk = nullptr;  // [kv_dim]
  const float* bv = nullptr;  // [kv_dim]
};

// Scratch buffers for a block of up to `max_tokens` tokens, allocated once.
struct Workspace final : ForwardScratch {
  Workspace(const ModelConfig& c, int64_t max_tokens, int64_t cache_capacity, int n_threads);
  // Scratch sized for `policy` (top-k middle tokens, TRAMS) over a cache of its geometry.
  Workspace(const ModelConfig& c, int64_t max_tokens, const AttentionPolicy& policy, int n_threads);
  int64_t max_tokens;
  AlignedBuffer<float> x;     // [max_tokens, d_model] residual stream
  AlignedBuffer<float> xb;    // [max_tokens, d_model] normed input of a sub-layer
  AlignedBuffer<float> q;     // [max_tokens, q_dim]
  AlignedBuffer<float> k;     // [max_tokens, kv_dim]
  AlignedBuffer<float> v;     // [max_tokens, kv_dim]
  AlignedBuffer<float> att;   // [max_tokens, q_dim] attention output
  AlignedBuffer<float> proj;  // [max_tokens, d_model] output of wo / w_down
  AlignedBuffer<float> gate;  // [max_tokens, hidden]
  AlignedBuffer<float> up;    // [max_tokens, hidden]
  // Everything the attention policy needs (rotations, scores, cache stores, kernel scratch).
  BlockAttention attention;
  // [max_tokens] the per-sequence plan of a Model::forward (at most one sequence per row).
  std::vector<SeqRows> seq_rows;

  int64_t rows() const override { return max_tokens; }
  size_t bytes() const override;

 private:
  // The one constructor body: attention scratch sized for `policy` (nullptr: plain policies)
  // over at least cache_capacity slots.
  Workspace(const ModelConfig& c, int64_t max_tokens, int64_t cache_capacity,
            const AttentionPolicy* policy, int n_threads);
};

// ALiBi slopes as MPT generates them (gen_slopes / transformers' build_mpt_alibi_tensor): with
// H' = the power of two >= n_heads, m_h = 2^(-bias_max (h+1) / H'); when H' > n_heads the odd-
// indexed slopes come first, then the even ones, truncated to n_heads.
std::vector<float> alibi_slopes(int64_t n_heads, double bias_max);

// One sequence of a Llama-family model: its KV cache (geometry from the policy) and position.
class LlamaState final : public SequenceState {
 public:
  LlamaState(const ModelConfig& c, std::unique_ptr<AttentionPolicy> policy, int64_t block_tokens);

  int64_t pos() const override { return pos_; }
  int64_t capacity() const override { return cache_.geometry().max_positions(); }
  int64_t max_block() const override { return max_block_; }
  size_t bytes() const override { return cache_.bytes(); }
  int64_t cache_slots() const override { return cache_.capacity(); }
  const std::string& label() const override { return policy_->label(); }
  void reset() override { pos_ = 0; }
  void fill_random(int64_t n, uint64_t seed) override;

  const AttentionPolicy& policy() const { return *policy_; }
  KvCache& cache() { return cache_; }
  const KvCache& cache() const { return cache_; }

 private:
  friend class LlamaModel;
  std::unique_ptr<AttentionPolicy> policy_;
  KvCache cache_;
  int64_t max_block_ = 1;
  int64_t pos_ = 0;
};

class LlamaModel final : public Model {
 public:
  // Binds and shape-checks every tensor; throws lc::Error naming the file and tensor.
  explicit LlamaModel(const ModelFile& file);

  const ModelConfig& config() const override { return cfg_; }
  int64_t vocab_size() const override { return cfg_.vocab_size; }
  bool takes_attention_policy() const override { return true; }
  // The policy of `opt` resolved against this model (trained context, Mistral's window).
  std::unique_ptr<AttentionPolicy> make_policy_for(const StateOptions& opt) const;
  std::unique_ptr<SequenceState> new_state(const StateOptions& opt, int n_threads) const override;
  std::unique_ptr<ForwardScratch> new_scratch(const StateOptions& opt, int64_t rows,
                                              int n_threads) const override;
  // Model::forward over LlamaStates: the sequences of one forward share one policy (equal
  // labels); each attends under its own state's policy object and cache.
  void forward(ThreadPool& pool, ForwardScratch& scratch, const SeqBlock* seqs, int64_t n_seqs,
               const int* tokens, float* logits, bool all_logits) const override;

  // Runs n (<= ws.max_tokens, <= policy.max_block()) tokens at positions pos0..pos0+n-1,
  // appending their keys and values to the cache (whose geometry is policy.geometry()) and
  // attending under `policy`. When logits != nullptr, writes the logits of the last token
  // ([vocab]) or, with all_logits, of every token ([n, vocab]).
  void forward(ThreadPool& pool, Workspace& ws, KvCache& cache, const AttentionPolicy& policy,
               const int* tokens, int64_t n, int64_t pos0, float* logits, bool all_logits) const;

 private:
  // The same over n_seqs independent sequences in one pass (each SeqRows names its policy):
  // every projection, the MLP and the classifier run matrix-matrix over all rows; RoPE, the
  // cache stores and attention run per sequence in ws.attention. tokens: [sum of n]. Logits:
  // every row's ([rows, vocab]) with all_logits, else the last row of each sequence ([n_seqs,
  // vocab]). Both public forwards are this one.
  void forward_rows(ThreadPool& pool, Workspace& ws, const SeqRows* seqs, int64_t n_seqs,
                    const int* tokens, float* logits, bool all_logits) const;

  void embed(const int* tokens, int64_t n, float* x) const;

  ModelConfig cfg_;
  ops::WeightView tok_embd_;    // [vocab, d_model]
  ops::WeightView classifier_;  // [vocab, d_model] (== tok_embd_ when tied)
  void norm(const float* x, const float* w, float* y) const;

  const float* output_norm_;
  std::vector<LlamaLayer> layers_;
  std::vector<float> alibi_slopes_;  // [n_heads] for ALiBi models, else empty
  ops::RopeFreqs rope_;              // RoPE models: frequencies after position scaling
  float q_scale_ = 1.0f;  // on every query: YaRN's attention factor squared (1 otherwise)
  TramsWeights trams_;    // W_Q-derived TRAMS data, computed only if a policy scores tokens
};

}  // namespace lc
