// The decoder-only transformer family, built from a ModelFile's config and canonical tensors:
// Llama/Mistral/Qwen2 (pre-norm RMSNorm, RoPE attention with GQA, SwiGLU MLP), MPT (pre-norm
// LayerNorm without bias, ALiBi attention, fused Wqkv, GELU MLP) and Gemma 3 (QK norm, norms
// after each sub-layer, GeGLU, scaled embeddings, interleaved local/global layers) --
// ModelConfig's switches. The model itself is immutable; a sequence's state is a LlamaState (its
// KV caches under attention policies, one per layer group) and the activations of a forward live
// in a Workspace (model/model.h).
//
// Layer groups: layers that share a cache geometry, an attention policy and RoPE frequencies.
// Every model has one group of global layers (the session's policy) unless its config marks
// local layers (Gemma 3), which form a second group that keeps the model's trained sliding
// window whatever the session asks, with their own RoPE base. Each group has its own KV cache
// (holding only its layers) and its own BlockAttention scratch; layer l runs in group
// group_of(l) as that group's layer index_in_group(l).
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
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
  // Gemma 3 (ModelConfig::qk_norm, post_norms); nullptr otherwise.
  const float* q_norm = nullptr;          // [head_dim], every query head before RoPE
  const float* k_norm = nullptr;          // [head_dim], every key head before RoPE
  const float* post_attn_norm = nullptr;  // [d_model], the attention output before the residual
  const float* post_ffn_norm = nullptr;   // [d_model], the MLP output before the residual
};

// Scratch buffers for a block of up to `max_tokens` tokens, allocated once.
struct Workspace final : ForwardScratch {
  // Scratch for a one-group model, sized for `policy` (top-k middle tokens, TRAMS) over a cache of
  // its geometry.
  Workspace(const ModelConfig& c, int64_t max_tokens, const AttentionPolicy& policy, int n_threads);
  // One BlockAttention per layer group, sized for that group's policy.
  Workspace(const ModelConfig& c, int64_t max_tokens,
            std::span<const AttentionPolicy* const> group_policies, int n_threads);
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
  // [groups] everything a group's attention policy needs (rotations, scores, cache stores,
  // kernel scratch).
  std::vector<BlockAttention> attention;
  // [groups][max_tokens] the per-sequence plan of a Model::forward in each group (at most one
  // sequence per row); seq_plans[g] points at seq_rows[g].
  std::vector<std::vector<SeqRows>> seq_rows;
  std::vector<const SeqRows*> seq_plans;

  int64_t rows() const override { return max_tokens; }
  size_t bytes() const override;
};

// ALiBi slopes as MPT generates them (gen_slopes / transformers' build_mpt_alibi_tensor): with
// H' = the power of two >= n_heads, m_h = 2^(-bias_max (h+1) / H'); when H' > n_heads the odd-
// indexed slopes come first, then the even ones, truncated to n_heads.
std::vector<float> alibi_slopes(int64_t n_heads, double bias_max);

// One sequence of a Llama-family model: per layer group a KV cache (the group's layers,
// geometry from the group's policy), and the position.
class LlamaState final : public SequenceState {
 public:
  // One group: every layer of the model under `policy`.
  LlamaState(const ModelConfig& c, std::unique_ptr<AttentionPolicy> policy, int64_t block_tokens);
  // policies[g] and group_layers[g]: group g's policy and its number of layers.
  LlamaState(const ModelConfig& c, std::vector<std::unique_ptr<AttentionPolicy>> policies,
             const std::vector<int64_t>& group_layers, int64_t block_tokens);

  int64_t pos() const override { return pos_; }
  int64_t capacity() const override;
  int64_t max_block() const override { return max_block_; }
  size_t bytes() const override;
  int64_t cache_slots() const override;
  int64_t kv_bytes_per_token() const override;
  // The first group's policy label; with a local group, "+local:" and its label, e.g.
  // "lambda(G=10,L=512,D=512)+local:window(W=512)".
  const std::string& label() const override { return label_; }
  void reset() override { pos_ = 0; }
  void fill_random(int64_t n, uint64_t seed) override;

  int64_t groups() const { return static_cast<int64_t>(groups_.size()); }
  // Group 0: the global layers (the session's policy); a local group follows.
  const AttentionPolicy& policy(int64_t group = 0) const { return *groups_[group].policy; }
  KvCache& cache(int64_t group = 0) { return groups_[group].cache; }
  const KvCache& cache(int64_t group = 0) const { return groups_[group].cache; }

 private:
  friend class LlamaModel;
  struct Group {
    std::unique_ptr<AttentionPolicy> policy;
    KvCache cache;
  };
  std::vector<Group> groups_;
  std::string label_;
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
  // The policy of `opt` for layer group `group`, resolved against this model (trained context,
  // Mistral's window); a local group's is always the model's trained window.
  std::unique_ptr<AttentionPolicy> make_policy_for(const StateOptions& opt,
                                                   int64_t group = 0) const;
  // Layer groups (header comment): 1, or 2 with local layers (group 1).
  int64_t groups() const { return static_cast<int64_t>(groups_.size()); }
  int64_t group_of(int64_t layer) const { return layer_group_[layer]; }
  int64_t index_in_group(int64_t layer) const { return layer_index_[layer]; }
  // The layers of a group, ascending.
  const std::vector<int64_t>& group_layers(int64_t group) const { return groups_[group].layers; }
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
  // ([vocab]) or, with all_logits, of every token ([n, vocab]). One-group models only.
  void forward(ThreadPool& pool, Workspace& ws, KvCache& cache, const AttentionPolicy& policy,
               const int* tokens, int64_t n, int64_t pos0, float* logits, bool all_logits) const;

 private:
  // The same over n_seqs independent sequences in one pass: seqs[g] is the plan of layer group g
  // (each SeqRows names the sequence's cache and policy in that group; rows and positions agree
  // across groups). Every projection, the MLP and the classifier run matrix-matrix over all rows;
  // RoPE, the cache stores and attention run per sequence in ws.attention[g]. tokens: [sum of
  // n]. Logits: every row's ([rows, vocab]) with all_logits, else the last row of each sequence
  // ([n_seqs, vocab]). Both public forwards are this one.
  void forward_rows(ThreadPool& pool, Workspace& ws, const SeqRows* const* seqs, int64_t n_seqs,
                    const int* tokens, float* logits, bool all_logits) const;

  void embed(const int* tokens, int64_t n, float* x) const;
  // Gemma 3: RMSNorm of each of n rows' heads ([n, heads * head_dim]) with weight w [head_dim].
  void head_norm(float* x, int64_t n, int64_t heads, const float* w) const;

  struct LayerGroup {
    bool local = false;           // the model's trained sliding window, whatever the session asks
    std::vector<int64_t> layers;  // model layer indices, ascending
    ops::RopeFreqs rope;          // RoPE models: frequencies after position scaling
    // On every query of the group: YaRN's attention factor squared times Gemma's
    // sqrt(head_dim / query_pre_attn_scalar) (1 otherwise).
    float q_scale = 1.0f;
    TramsWeights trams;  // W_Q-derived TRAMS data of the group's layers, computed on first use
  };

  ModelConfig cfg_;
  ops::WeightView tok_embd_;    // [vocab, d_model]
  ops::WeightView classifier_;  // [vocab, d_model] (== tok_embd_ when tied)
  void norm(const float* x, const float* w, float* y) const;

  const float* output_norm_;
  std::vector<LlamaLayer> layers_;
  std::vector<float> alibi_slopes_;                 // [n_heads] for ALiBi models, else empty
  std::vector<LayerGroup> groups_;                  // [groups]: group 0 global, then local (if any)
  std::vector<int64_t> layer_group_, layer_index_;  // [n_layers]
  float embed_scale_ = 1.0f;                        // Gemma: sqrt(d_model)
};

}  // namespace lc
