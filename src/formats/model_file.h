// One uniform description of a model checkpoint, whatever file format it came from:
// a config plus named tensor views into memory the ModelFile keeps alive (mmap or owned).
// Tensor names are canonical (GGUF-style): token_embd, blk.{i}.attn_{q,k,v,output} (or the fused
// blk.{i}.attn_qkv, rows [q | k | v]),
// blk.{i}.ffn_{gate,up,down}, blk.{i}.attn_norm, blk.{i}.ffn_norm, output_norm, output; Gemma 3
// adds blk.{i}.attn_{q,k}_norm, blk.{i}.post_attention_norm and blk.{i}.post_ffw_norm. Values are
// canonical too: RMSNorm weights are the factor itself (Gemma's HF `w` is stored as 1 + w, as in
// llama.cpp's GGUF files).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/aligned.h"
#include "core/dtype.h"
#include "core/mmap.h"
#include "ops/ops.h"
#include "ops/rope.h"

namespace lc {

// The decoder-only transformer family is one forward pass with three switches:
// Llama/Mistral/Qwen2 = RMSNorm + SwiGLU + RoPE; MPT = LayerNorm (no bias) + GELU + ALiBi;
// Gemma 3 = RMSNorm + GeGLU + RoPE plus the Gemma switches of ModelConfig.
enum class NormKind : uint8_t { RMSNorm, LayerNorm };
// GELU: ffn_down(gelu(ffn_up x)), exact erf form. GeGLU: ffn_down(gelu_tanh(ffn_gate x) * ffn_up
// x) with the tanh approximation (Gemma's gelu_pytorch_tanh).
enum class FfnKind : uint8_t { SwiGLU, GELU, GeGLU };
enum class PositionKind : uint8_t { RoPE, ALiBi };

// The architectures a ModelFile can describe; model/registry.cc maps each to its Model.
enum class Arch : uint8_t {
  Llama,   // Llama, Mistral, Qwen2 (config switches)
  Mpt,     // LayerNorm + GELU + ALiBi, fused Wqkv
  Gemma3,  // Gemma 3 text: the Llama forward with the Gemma switches, local/global layers
  Based,   // Taylor linear attention + sliding window + BaseConv
};
// "llama", "mpt", "gemma3", "based" (JSON records, messages).
const char* arch_name(Arch a);

// A BASED layer's token mixer.
enum class BasedMixer : uint8_t { Window, Linear, Conv };

// BASED (Arch::Based, ../shared/specs/based.md): which layers mix with what, and the mixers'
// own sizes. The MLP width is ModelConfig::hidden (n_inner rounded up to a multiple of 256),
// sliding-window heads are ModelConfig::n_heads (head_dim = d_model / n_heads).
struct BasedConfig {
  std::vector<int64_t> linear_layers;  // alt_mixer_layers: Taylor linear attention
  std::vector<int64_t> window_layers;  // alt_mixer_2_layers: sliding-window softmax attention
  int64_t linear_heads = 16;           // alt_mixer.num_heads (value head dim = d_model / this)
  int64_t feature_dim = 16;            // alt_mixer.feature_dim (f, q/k width per linear head)
  int64_t window_size = 0;             // alt_mixer_2.window_size: keys [i - ws/2, i]
  // alt_mixer_2.longctx_rotary (a longctx extension; absent = true, the released models): false
  // = no position encoding in the window layers, as in the MQAR models `longctx train` exports.
  bool window_rope = true;
  int64_t padded_vocab = 0;  // embedding rows: vocab_size rounded up to a multiple of 8
  // The mixer of layer l: sliding window (checked first), linear attention, else BaseConv.
  BasedMixer mixer(int64_t l) const {
    for (int64_t i : window_layers)
      if (i == l) return BasedMixer::Window;
    for (int64_t i : linear_layers)
      if (i == l) return BasedMixer::Linear;
    return BasedMixer::Conv;
  }
};

struct ModelConfig {
  Arch arch = Arch::Llama;
  NormKind norm = NormKind::RMSNorm;
  FfnKind ffn = FfnKind::SwiGLU;
  PositionKind position = PositionKind::RoPE;
  double alibi_bias_max = 8.0;  // ALiBi slopes 2^(-bias_max*h/H') (MPT's alibi_bias_max)
  int64_t d_model = 0;          // embedding width
  int64_t hidden = 0;           // MLP inner width
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;      // < n_heads for grouped-query attention
  int64_t head_dim = 0;        // usually d_model / n_heads
  int64_t vocab_size = 0;      // real tokens (BASED: the embedding has based.padded_vocab rows)
  int64_t ctx_len = 0;         // trained context length; 0: unknown (a BASED config may not say)
  std::string ctx_len_source;  // where ctx_len came from when it is not the obvious field
  float norm_eps = 1e-5f;
  double rope_theta = 10000.0;
  ops::RopeScaling rope_scaling;  // position scaling (Llama 3, linear, YaRN); GGUF's per-pair
                                  // factors come from the rope_freqs tensor instead
  ops::RopeStyle rope_style = ops::RopeStyle::AdjacentPairs;
  bool tied_embeddings = false;
  // > 0: the model was trained with a sliding window of this many keys (the query included): in
  // every layer (Mistral), or in the layers marked in local_layers (Gemma 3).
  int64_t sliding_window = 0;
  bool qkv_bias = false;  // blk.{i}.attn_{q,k,v}.bias present (Qwen2)
  // Gemma 3 (all off for the other architectures):
  // Interleaved local and global layers: local_layers[l] marks a layer that attends within
  // sliding_window whatever the session's policy, with RoPE base rope_local_theta and no position
  // scaling; the others are global (rope_theta, rope_scaling) and take the session's policy.
  // Empty: every layer alike.
  std::vector<bool> local_layers;
  double rope_local_theta = 10000.0;
  bool qk_norm = false;  // RMSNorm of every q and k head (attn_{q,k}_norm [head_dim]) before RoPE
  bool post_norms = false;   // RMSNorm of each sub-layer's output before its residual add
  bool embed_scale = false;  // token embeddings times sqrt(d_model)
  // Attention logits scaled by query_pre_attn_scalar^-1/2 instead of head_dim^-1/2 (0: head_dim).
  double query_pre_attn_scalar = 0.0;
  double final_logit_softcap = 0.0;  // > 0: logits = cap * tanh(logits / cap)
  int bos_id = 1;
  int eos_id = 2;
  BasedConfig based;  // Arch::Based only
  int64_t q_dim() const { return n_heads * head_dim; }
  bool is_local_layer(int64_t l) const {
    return l >= 0 && l < static_cast<int64_t>(local_layers.size()) && local_layers[l];
  }
  // The period P when local_layers follows Gemma's rule (layer l is global exactly when
  // (l + 1) % P == 0; P = n_layers + 1: all local), else 0 (also when local_layers is empty).
  int64_t local_pattern() const;
  int64_t kv_dim() const { return n_kv_heads * head_dim; }
};

struct TensorRef {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;  // outermost first: a [rows, cols] matrix is {rows, cols}
  const void* data = nullptr;
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

class ModelFile {
 public:
  ModelConfig config;
  std::string path;
  std::vector<TensorRef> tensors;
  // Keeps the memory behind `tensors` alive.
  std::vector<MappedFile> mappings;
  std::vector<AlignedBuffer<uint8_t>> owned;

  const TensorRef* find(const std::string& name) const;
  // The tensor `name`, checked to have exactly `shape`; throws naming the file and tensor.
  const TensorRef& get(const std::string& name, const std::vector<int64_t>& shape) const;
  // Converts every 2-D tensor to dtype t, or to fallback_dtype(t, row length) where its rows
  // are not a whole number of t's blocks (formats/quant_recipe.h); 1-D tensors (norms) stay f32.
  // When anything converts, all tensors move to owned memory and the file mappings are released.
  void convert_matrices(DType t);
  // Bytes of all tensors.
  size_t weight_bytes() const;
};

// Writes tensor t converted to `to` at out (dtype_bytes(to, t.numel()) bytes): row by row,
// dequantized with the reference dequantizers (ops/quant/dequant.h), then rounded or quantized
// (ops/quant/quantize.h). For a quantized `to` the rows must be a whole number of its blocks.
// Throws lc::Error naming `file` and the tensor when, for a quantized `to`, a row holds a NaN or
// an infinity or a block's scale overflows fp16 (weights beyond its range).
void convert_tensor(const TensorRef& t, DType to, uint8_t* out, const std::string& file);

// Writers report progress through this (may be empty): (tensors written, total) after each.
using TensorWriteProgress = std::function<void(int64_t written, int64_t total)>;

// Detects the format from content and loads it. Supported: llama2.c .bin, GGUF (v2/v3), and
// a Hugging Face directory (config.json + safetensors).
std::unique_ptr<ModelFile> load_model_file(const std::string& path);

}  // namespace lc
