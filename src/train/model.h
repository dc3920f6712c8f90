// A trainable model assembled from src/train/layers.h: (a) Llama-style (pre-norm RMSNorm, RoPE
// softmax attention with GQA and an optional sliding window, SwiGLU MLP) or (b) BASED-style
// (../shared/specs/based.md: a per-layer mixer -- softmax attention, sliding window, Taylor
// linear attention or BaseConv -- and an optional SwiGLU MLP; MQAR models have none).
//
//   x = E[tokens]                                       [N, d]   (N = batch * seq)
//   for each layer: x = x + out_proj(mixer(proj(rmsnorm1(x))))
//                   x = x + fc2(value * silu(gate)),  [value | gate] = fc1(rmsnorm2(x))   (MLP)
//   logits = rmsnorm_f(x) W^T,  W = E (tied) or the untied output matrix
//
// Parameters live in one flat buffer (and the gradients in a second one of the same layout),
// named with the engine's canonical names (formats/model_file.h) so export is a copy:
// token_embd, blk.{i}.attn_norm, blk.{i}.attn_qkv (rows [q | k | v]: softmax heads, or Taylor
// [q (H*f) | k (H*f) | v (d)]), blk.{i}.conv_in(.bias), blk.{i}.conv_kernel [2d, 3],
// blk.{i}.attn_output(.bias), blk.{i}.ffn_norm, blk.{i}.ffn_fc1 [2h, d] (rows [value | gate]),
// blk.{i}.ffn_down, output_norm, output (untied only).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/aligned.h"
#include "formats/model_file.h"

namespace lc {
class ThreadPool;
}

namespace lc::train {

// A layer's token mixer; the --mixers letters in brackets.
enum class Mixer : uint8_t {
  Attention,  // [a] full causal softmax attention
  Window,     // [w] softmax attention over a sliding window of `window` keys (i - window < j <= i)
  Linear,     // [l] Taylor linear attention
  Conv,       // [c] BaseConv
};

// The letter of a mixer ('a', 'w', 'l', 'c') and of a list of them ("cl").
char mixer_letter(Mixer m);
std::string mixers_text(const std::vector<Mixer>& mixers);
// One letter per layer ("cl"); throws lc::Error "--mixers: expected a, w, l or c per layer, got
// 'x'" (also for an empty text).
std::vector<Mixer> parse_mixers(const std::string& text);
// The architectures the trainer builds: "llama" or "based"; throws lc::Error "--arch: expected
// llama or based, got 'x'".
Arch parse_train_arch(const std::string& text);
// The mixers of an n_layers model when none are given: llama all Attention; based Conv then
// Linear for two layers (the MQAR models), else all Linear.
std::vector<Mixer> default_mixers(Arch arch, int64_t n_layers);

struct TrainConfig {
  Arch arch = Arch::Llama;  // Llama or Based (decides the export layout)
  int64_t vocab_size = 257;
  int64_t d_model = 64;
  int64_t n_layers = 2;
  int64_t n_heads = 4;     // softmax attention heads; head_dim = d_model / n_heads (even)
  int64_t n_kv_heads = 4;  // grouped-query attention: divides n_heads
  int64_t hidden = 0;      // SwiGLU MLP width; 0 = no MLP
  std::vector<Mixer> mixers = {Mixer::Attention, Mixer::Attention};  // one per layer
  int64_t window = 0;
  int64_t linear_heads = 4;  // Taylor heads; value head dim = d_model / linear_heads
  int64_t feature_dim = 8;   // Taylor q/k width per head (f)
  bool tied = true;          // LM head = token embedding
  bool rope = true;          // RoPE (rotate-half) on softmax attention q/k
  double norm_eps = 1e-5;
  double rope_theta = 10000.0;
  int64_t head_dim() const { return n_heads > 0 ? d_model / n_heads : 0; }
};

// Throws lc::Error naming the setting that is inconsistent.
void validate(const TrainConfig& c);

struct InitOptions {
  double std = 0.02;         // matrices ~ N(0, std^2); out_proj and fc2 scaled by 1/sqrt(2 L)
  double norm_jitter = 0.0;  // norm weights ~ 1 + N(0, jitter^2)
  double bias_std = 0.0;     // BaseConv biases
  double conv_std = 0.33;    // conv kernels (PyTorch's default conv1d init has std ~ 0.33)
};

struct ParamInfo {
  std::string name;
  std::vector<int64_t> shape;
  int64_t offset = 0;  // into weights() / grads()
  int64_t numel = 0;
  bool decay = true;  // AdamW weight decay applies (not to norms and biases)
};

template <typename T>
class TrainModel {
 public:
  // Allocates parameters, gradients and the activations of one [batch, seq] step.
  TrainModel(const TrainConfig& c, int64_t batch, int64_t seq, uint64_t seed,
             const InitOptions& init = {});
  const TrainConfig& config() const { return cfg_; }
  int64_t batch() const { return batch_; }
  int64_t seq() const { return seq_; }
  const std::vector<ParamInfo>& params() const { return params_; }
  int64_t n_params() const { return static_cast<int64_t>(w_.size()); }
  T* weights() { return w_.data(); }
  const T* weights() const { return w_.data(); }
  T* grads() { return g_.data(); }
  const T* grads() const { return g_.data(); }
  // The parameter `name`; throws when absent.
  const ParamInfo& param(const std::string& name) const;

  // Forward over tokens [batch * seq]; the logits [batch * seq, vocab] stay in logits() until
  // the next call. With labels (kIgnoreLabel = unscored) returns the mean cross-entropy over the
  // scored positions and keeps d(loss)/d(logits) for backward(); without, returns 0.
  double forward(ThreadPool& pool, const int* tokens, const int* labels);
  // Gradients of the last forward()'s loss into grads() (overwritten). Requires labels.
  void backward(ThreadPool& pool);
  const T* logits() const { return logits_.data(); }

 private:
  struct Layer {
    Mixer mixer = Mixer::Attention;
    int64_t proj_width = 0;  // columns of the mixer input projection
    int64_t mix_width = 0;   // columns of the mixer core output
    // offsets into w_/g_ (-1 = absent)
    int64_t attn_norm = -1, proj = -1, proj_bias = -1, kernel = -1, out = -1, out_bias = -1;
    int64_t ffn_norm = -1, fc1 = -1, fc2 = -1;
    // activations of the current step
    AlignedBuffer<T> xin, xn1, r1, projv, conv, mix, xmid, xn2, r2, a, m;
  };
  int64_t add_param(const std::string& name, std::vector<int64_t> shape, bool decay);
  void init_weights(uint64_t seed, const InitOptions& init);

  TrainConfig cfg_;
  int64_t batch_, seq_;
  std::vector<ParamInfo> params_;
  AlignedBuffer<T> w_, g_;
  int64_t embd_ = -1, norm_f_ = -1, output_ = -1;
  std::vector<Layer> layers_;
  std::vector<int> tokens_;
  bool have_labels_ = false;
  AlignedBuffer<T> xf_, xnf_, rf_, logits_, dlogits_;  // final norm input/output, [N, vocab]
  AlignedBuffer<T> dx_, dxn_, dtmp_, dproj_, dmix_, da_, dm_;  // backward scratch
  std::vector<T> scratch_;
};

}  // namespace lc::train
