#include "train/export.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include "core/error.h"
#include "core/file_io.h"
#include "formats/hf.h"
#include "tokenizer/byte_level.h"

namespace lc::train {

namespace {

// Appends an owned f32 tensor of `shape` filled by fill(float* dst) (the buffer starts zeroed).
template <typename F>
void add_tensor(ModelFile& f, const std::string& name, std::vector<int64_t> shape, F&& fill) {
  TensorRef t;
  t.name = name;
  t.shape = std::move(shape);
  AlignedBuffer<uint8_t> buf(static_cast<size_t>(4 * t.numel()));
  fill(reinterpret_cast<float*>(buf.data()));
  t.data = buf.data();
  f.owned.push_back(std::move(buf));
  f.tensors.push_back(std::move(t));
}

// Rows [r0, r0 + rows) of the trained matrix `name` (cols columns) as tensor `out`.
void add_rows(ModelFile& f, const TrainModel<float>& m, const std::string& name,
              const std::string& out, int64_t r0, int64_t rows) {
  const ParamInfo& p = m.param(name);
  const int64_t cols = p.numel / p.shape[0];
  std::vector<int64_t> shape = p.shape;
  shape[0] = rows;
  add_tensor(f, out, shape, [&](float* dst) {
    std::memcpy(dst, m.weights() + p.offset + r0 * cols, static_cast<size_t>(4 * rows * cols));
  });
}

void add_copy(ModelFile& f, const TrainModel<float>& m, const std::string& name) {
  add_rows(f, m, name, name, 0, m.param(name).shape[0]);
}

void fill_common(const TrainConfig& c, const ExportOptions& o, ModelConfig* mc) {
  mc->norm = NormKind::RMSNorm;
  mc->ffn = FfnKind::SwiGLU;
  mc->position = PositionKind::RoPE;
  mc->rope_style = ops::RopeStyle::RotateHalf;  // the trainer rotates halves, as HF does
  mc->d_model = c.d_model;
  mc->n_layers = c.n_layers;
  mc->n_heads = c.n_heads;
  mc->n_kv_heads = c.n_kv_heads;
  mc->head_dim = c.head_dim();
  mc->vocab_size = c.vocab_size;
  mc->ctx_len = o.ctx_len;
  mc->norm_eps = static_cast<float>(c.norm_eps);
  mc->rope_theta = c.rope_theta;
  mc->bos_id = o.bos_id;
  mc->eos_id = o.eos_id;
}

std::unique_ptr<ModelFile> export_llama(const TrainModel<float>& m, const ExportOptions& o) {
  const TrainConfig& c = m.config();
  const bool window = c.mixers[0] == Mixer::Window;
  for (Mixer x : c.mixers)
    check(x == c.mixers[0], "export llama: layers mix full attention and sliding window ('",
          mixers_text(c.mixers),
          "'); the Llama/Mistral config has one sliding_window for all layers");
  check(c.rope, "export llama: the engine's Llama attention always applies RoPE (train with it)");
  auto f = std::make_unique<ModelFile>();
  f->path = "trained-llama";
  ModelConfig& mc = f->config;
  mc.arch = Arch::Llama;
  fill_common(c, o, &mc);
  mc.hidden = c.hidden;
  mc.tied_embeddings = c.tied;
  mc.sliding_window = window ? c.window : 0;
  const int64_t qd = c.d_model, kvd = c.n_kv_heads * c.head_dim(), h = c.hidden;
  add_copy(*f, m, "token_embd");
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add_copy(*f, m, p + "attn_norm");
    add_rows(*f, m, p + "attn_qkv", p + "attn_q", 0, qd);
    add_rows(*f, m, p + "attn_qkv", p + "attn_k", qd, kvd);
    add_rows(*f, m, p + "attn_qkv", p + "attn_v", qd + kvd, kvd);
    add_copy(*f, m, p + "attn_output");
    add_copy(*f, m, p + "ffn_norm");
    add_rows(*f, m, p + "ffn_fc1", p + "ffn_up", 0, h);    // value half
    add_rows(*f, m, p + "ffn_fc1", p + "ffn_gate", h, h);  // gate half
    add_copy(*f, m, p + "ffn_down");
  }
  add_copy(*f, m, "output_norm");
  if (!c.tied) add_copy(*f, m, "output");
  return f;
}

std::unique_ptr<ModelFile> export_based(const TrainModel<float>& m, const ExportOptions& o) {
  const TrainConfig& c = m.config();
  check(c.tied, "export based: the BASED format has tied embeddings only (train with tied)");
  // The kind of the softmax layers (all alike), if any.
  std::optional<Mixer> softmax;
  for (Mixer x : c.mixers) {
    if (x != Mixer::Attention && x != Mixer::Window) continue;
    check(!softmax || *softmax == x,
          "export based: layers mix full attention and sliding window ('", mixers_text(c.mixers),
          "'); BasedConfig has one window_size for all softmax layers");
    softmax = x;
  }
  const bool window = softmax == Mixer::Window, full = softmax == Mixer::Attention;
  if (softmax) {
    check(c.n_kv_heads == c.n_heads, "export based: the fused Wqkv has no GQA (n_kv_heads ",
          c.n_kv_heads, " != n_heads ", c.n_heads, ")");
    if (window)
      check(c.window >= 2, "export based: window ", c.window,
            " keys is not representable (window_size = 2 (W - 1) must be >= 2)");
    check(window || o.ctx_len >= 1, "export based: full attention needs ctx_len");
  }
  auto f = std::make_unique<ModelFile>();
  f->path = "trained-based";
  ModelConfig& mc = f->config;
  mc.arch = Arch::Based;
  fill_common(c, o, &mc);
  mc.n_kv_heads = mc.n_heads;
  mc.tied_embeddings = true;
  const int64_t d = c.d_model, h = c.hidden;
  const int64_t H = std::max<int64_t>(256, (h + 255) / 256 * 256);  // exported MLP width
  mc.hidden = H;
  BasedConfig& b = mc.based;
  b.linear_heads = c.linear_heads;
  b.feature_dim = c.feature_dim;
  b.window_size = window ? 2 * (c.window - 1) : full ? 2 * o.ctx_len : 0;
  b.padded_vocab = (c.vocab_size + 7) / 8 * 8;
  b.window_rope = c.rope;  // trained without RoPE: written as alt_mixer_2.longctx_rotary false
  const ParamInfo& e = m.param("token_embd");
  add_tensor(*f, "token_embd", {b.padded_vocab, d}, [&](float* dst) {
    std::memcpy(dst, m.weights() + e.offset, static_cast<size_t>(4 * e.numel));
  });
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add_copy(*f, m, p + "attn_norm");
    switch (c.mixers[l]) {
      case Mixer::Attention:
      case Mixer::Window:
        b.window_layers.push_back(l);
        add_copy(*f, m, p + "attn_qkv");  // rows [q | k | v], as Wqkv
        add_copy(*f, m, p + "attn_output");
        break;
      case Mixer::Linear: {
        b.linear_layers.push_back(l);
        const int64_t qk = c.linear_heads * c.feature_dim;
        add_rows(*f, m, p + "attn_qkv", p + "attn_q", 0, qk);
        add_rows(*f, m, p + "attn_qkv", p + "attn_k", qk, qk);
        add_rows(*f, m, p + "attn_qkv", p + "attn_v", 2 * qk, d);
        add_copy(*f, m, p + "attn_output");
        break;
      }
      case Mixer::Conv: {
        add_copy(*f, m, p + "conv_in");
        add_copy(*f, m, p + "conv_in.bias");
        const ParamInfo& k = m.param(p + "conv_kernel");
        add_tensor(*f, p + "conv_kernel", {2 * d, 1, 3}, [&](float* dst) {
          std::memcpy(dst, m.weights() + k.offset, static_cast<size_t>(4 * k.numel));
        });
        add_copy(*f, m, p + "attn_output");
        add_copy(*f, m, p + "attn_output.bias");
      }
    }
    if (h > 0) {
      add_copy(*f, m, p + "ffn_norm");
      const float* fc1 = m.weights() + m.param(p + "ffn_fc1").offset;   // [2h, d]
      const float* fc2 = m.weights() + m.param(p + "ffn_down").offset;  // [d, h]
      add_tensor(*f, p + "ffn_fc1", {2 * H, d}, [&](float* dst) {
        std::memcpy(dst, fc1, static_cast<size_t>(4 * h * d));                  // value rows
        std::memcpy(dst + H * d, fc1 + h * d, static_cast<size_t>(4 * h * d));  // gate rows
      });
      add_tensor(*f, p + "ffn_down", {d, H}, [&](float* dst) {
        for (int64_t r = 0; r < d; ++r)
          std::memcpy(dst + r * H, fc2 + r * h, static_cast<size_t>(4 * h));
      });
    } else {  // no MLP: unit norm, all-zero MLP (exact: adds +0 to the residual stream)
      add_tensor(*f, p + "ffn_norm", {d}, [&](float* dst) { std::fill(dst, dst + d, 1.0f); });
      add_tensor(*f, p + "ffn_fc1", {2 * H, d}, [](float*) {});
      add_tensor(*f, p + "ffn_down", {d, H}, [](float*) {});
    }
  }
  add_copy(*f, m, "output_norm");
  return f;
}

}  // namespace

std::unique_ptr<ModelFile> export_model_file(const TrainModel<float>& m, const ExportOptions& o) {
  check(o.ctx_len >= 1, "export: ctx_len must be positive");
  return m.config().arch == Arch::Llama ? export_llama(m, o) : export_based(m, o);
}

void export_hf_dir(const TrainModel<float>& m, const ExportOptions& o, const std::string& dir) {
  write_hf_dir(dir, *export_model_file(m, o));
  if (o.byte_tokenizer) {
    const std::string json = byte_level_tokenizer_json();
    write_file_atomic("export", dir + "/tokenizer.json", {{json.data(), json.size()}});
  }
}

}  // namespace lc::train
