// BASED (../shared/specs/based.md, "Model skeleton"): a pre-norm residual stack whose layers mix
// tokens with one of three mixers -- sliding-window softmax attention (alt_mixer_2_layers),
// Taylor linear attention (alt_mixer_layers) or BaseConv (all others) -- each followed by a
// SwiGLU MLP; RMSNorm everywhere, tied embeddings, logits = norm_f(x) E^T over the real
// vocabulary only (the padding rows of E are never scored, so nothing can sample them).
//
// The model is immutable; one sequence's state (every layer's recurrent state plus scratch)
// lives in a BasedState allocated once; forward() allocates nothing.
#pragma once
#include <cstdint>
#include <vector>

#include "attention/sliding_window.h"
#include "core/aligned.h"
#include "formats/model_file.h"
#include "linear/baseconv.h"
#include "linear/taylor.h"
#include "model/model.h"
#include "ops/ops.h"

namespace lc {

class ThreadPool;

struct BasedLayer {
  BasedMixer mixer = BasedMixer::Conv;
  int64_t index = 0;              // among the layers with the same mixer (its state slot)
  const float* norm1 = nullptr;   // [d]
  const float* norm2 = nullptr;   // [d]
  ops::WeightView fc1;            // [2*hidden, d]: rows [value | gate]
  ops::WeightView fc2;            // [d, hidden]
  ops::WeightView wq, wk;         // Linear: [H*f, d]
  ops::WeightView wv;             // Linear: [d, d]  (H heads of dv = d/H)
  ops::WeightView wqkv;           // Window: [3d, d], rows [q | k | v]
  ops::WeightView w_in;           // Conv: [4d, d]
  const float* b_in = nullptr;    // Conv: [4d]
  const float* kernel = nullptr;  // Conv: [2d][3] f32
  ops::WeightView wo;             // [d, d] (attention) or [d, 2d] (Conv)
  const float* bo = nullptr;      // Conv: [d]
};

class BasedModel;
class BasedState;

// One sequence's rows in a forward over several sequences: rows [row0, row0 + n) continue the
// sequence in `state`. Segments are contiguous and in order.
struct BasedRows {
  BasedState* state = nullptr;
  int64_t row0 = 0;
  int64_t n = 0;
};

// The scratch of one forward over up to `rows` token rows (one sequence's block, or one row per
// sequence in a batched decode). Separate from the recurrent state so that a batch of sequences
// shares one.
class BasedScratch final : public ForwardScratch {
 public:
  BasedScratch() = default;
  // chunk: Taylor prefill chunk (tokens); n_threads: the largest pool used with this scratch.
  BasedScratch(const BasedModel& model, int64_t rows, int64_t chunk, int n_threads);
  int64_t rows() const override { return rows_; }
  int64_t chunk() const { return chunk_; }
  size_t bytes() const override;
  TaylorForm taylor_form = TaylorForm::Chunked;

 private:
  friend class BasedModel;
  int64_t rows_ = 0, chunk_ = 0;
  int64_t taylor_share_ = 0;   // floats of taylor_scratch_ per thread
  AlignedBuffer<float> x_;     // [rows, d] residual stream
  AlignedBuffer<float> xb_;    // [rows, d] normed sub-layer input
  AlignedBuffer<float> proj_;  // [rows, 4d] q|k|v, Wqkv or in_proj outputs
  AlignedBuffer<float> att_;   // [rows, 2d] mixer core output (d, or 2d for BaseConv)
  AlignedBuffer<float> out_;   // [rows, d] out_proj / fc2 output
  AlignedBuffer<float> fc1_;   // [rows, 2*hidden]
  AlignedBuffer<float> mid_;   // [rows, hidden] value * silu(gate)
  AlignedBuffer<float> taylor_scratch_;
  std::vector<BasedRows> seq_rows_;  // [rows] the per-sequence plan of a Model::forward
};

// One sequence: the recurrent state of every layer (independent of the sequence length) and,
// unless constructed without, the scratch of a block of up to block_tokens tokens.
class BasedState final : public SequenceState {
 public:
  // chunk: Taylor prefill chunk (tokens); n_threads: the largest pool used with this state.
  // own_scratch = false: the caller passes a shared BasedScratch to forward (batched sessions).
  // k_type / v_type: the element types of the sliding-window rings (--kv-type).
  BasedState(const BasedModel& model, int64_t block_tokens, int64_t chunk, int n_threads,
             bool own_scratch = true, DType k_type = DType::F32, DType v_type = DType::F32);

  // Forgets the sequence (every state zeroed, next position 0).
  void reset() override;
  // Benchmarks: pretends that n tokens were processed without computing them -- the analogue of
  // Session::fill_random. The state has a fixed size, so random contents cost a decode exactly
  // what a real prefill's would: Taylor KV and Kz random with Kz's constant feature = n (the
  // token count, which keeps every denominator positive), window rings random over the
  // positions they hold, conv histories random; next position n.
  void fill_random(int64_t n, uint64_t seed) override;
  int64_t pos() const override { return pos_; }
  int64_t capacity() const override { return INT64_MAX; }  // fixed size: no context limit
  int64_t max_block() const override { return block_; }
  size_t bytes() const override { return state_bytes(); }
  const std::string& label() const override;
  int64_t block_tokens() const { return block_; }
  int64_t chunk() const { return chunk_; }
  // Bytes of the per-sequence recurrent state: Taylor KV/Kz, window rings, conv histories.
  size_t state_bytes() const;
  // Bytes of the block scratch (x, projections, MLP, Taylor scratch); 0 without own scratch.
  size_t workspace_bytes() const { return scratch_.bytes(); }
  BasedScratch& scratch() { return scratch_; }

 private:
  friend class BasedModel;
  int64_t block_ = 0, chunk_ = 0, pos_ = 0;
  bool quadratic_ = false;           // a quadratic-form prefill left no recurrent state
  std::vector<TaylorState> taylor_;  // [linear layers]
  SlidingWindowAttention window_;    // all window layers
  bool window_used_ = true;          // false: the model has no window layers
  std::vector<BaseConvState> conv_;  // [conv layers]
  BasedScratch scratch_;             // empty when constructed without own scratch
  std::string label_;                // "based", + the window rings' types when not f32
};

class BasedModel final : public Model {
 public:
  // Binds and shape-checks every tensor against config.based; throws one-line lc::Error naming
  // the layer and the checkpoint's tensor.
  explicit BasedModel(const ModelFile& file);

  const ModelConfig& config() const override { return cfg_; }
  // Real (sampleable) vocabulary: the logits have this many entries.
  int64_t vocab_size() const override { return cfg_.vocab_size; }
  // The mixers are fixed by config.json: attention flags do not apply.
  bool takes_attention_policy() const override { return false; }
  std::unique_ptr<SequenceState> new_state(const StateOptions& opt, int n_threads) const override;
  std::unique_ptr<ForwardScratch> new_scratch(const StateOptions& opt, int64_t rows,
                                              int n_threads) const override;
  void forward(ThreadPool& pool, ForwardScratch& scratch, const SeqBlock* seqs, int64_t n_seqs,
               const int* tokens, float* logits, bool all_logits) const override;
  int64_t n_linear() const { return n_linear_; }
  int64_t n_window() const { return n_window_; }
  int64_t n_conv() const { return n_conv_; }
  const std::vector<BasedLayer>& layers() const { return layers_; }

  // Runs n (1 <= n <= st.block_tokens()) tokens continuing the sequence in st. When logits !=
  // nullptr writes the last token's logits ([vocab]) or, with all_logits, every token's
  // ([n, vocab]). A single token (decode) uses the recurrent Taylor form.
  void forward(ThreadPool& pool, BasedState& st, const int* tokens, int64_t n, float* logits,
               bool all_logits) const;
  // The same over n_seqs sequences in one pass (batched decode): projections, MLPs and the
  // classifier matrix-matrix over all rows (<= scratch.rows()), each mixer core per sequence on
  // its own state. Logits: every row's with all_logits, else each sequence's last ([n_seqs,
  // vocab]). The forward above is the case n_seqs == 1 with the state's own scratch.
  void forward(ThreadPool& pool, BasedScratch& scratch, const BasedRows* seqs, int64_t n_seqs,
               const int* tokens, float* logits, bool all_logits) const;

 private:
  ModelConfig cfg_;
  ops::WeightView embd_;        // [padded_vocab, d]
  ops::WeightView classifier_;  // [vocab, d]: the real rows of lm_head (or the embedding)
  const float* norm_f_ = nullptr;
  std::vector<BasedLayer> layers_;
  std::vector<std::vector<float>> owned_kernels_;  // conv kernels stored as bf16/f16
  int64_t n_linear_ = 0, n_window_ = 0, n_conv_ = 0;
};

}  // namespace lc
