#include "formats/synthetic.h"

#include <string>

#include "core/error.h"
#include "core/rng.h"

namespace lc {

void add_random_tensor(ModelFile& m, const std::string& name, std::vector<int64_t> shape, Rng& rng,
                       float std, float offset) {
  TensorRef t;
  t.name = name;
  t.shape = std::move(shape);
  AlignedBuffer<uint8_t> buf(static_cast<size_t>(4 * t.numel()));
  auto* f = reinterpret_cast<float*>(buf.data());
  for (int64_t i = 0; i < t.numel(); ++i) f[i] = offset + (std == 0.0f ? 0.0f : std * rng.normal());
  t.data = buf.data();
  m.owned.push_back(std::move(buf));
  m.tensors.push_back(std::move(t));
}

std::unique_ptr<ModelFile> synthetic_mpt(const SynthSpec& s, const SynthOptions& opt) {
  check(s.d_model >= 2 && s.n_heads >= 1 && s.d_model % s.n_heads == 0, "synth mpt: d_model ",
        s.d_model, " must be a multiple of n_heads ", s.n_heads);
  check(s.n_kv_heads >= 1 && s.n_heads % s.n_kv_heads == 0, "synth mpt: n_kv_heads ", s.n_kv_heads,
        " must divide n_heads ", s.n_heads);
  check(s.hidden >= 1 && s.n_layers >= 1 && s.vocab_size >= 1 && s.ctx_len >= 1,
        "synth mpt: hidden, layers, vocab and ctx must be positive");
  auto m = std::make_unique<ModelFile>();
  m->path = "synthetic-mpt";
  ModelConfig& c = m->config;
  c.arch = Arch::Mpt;
  c.norm = NormKind::LayerNorm;
  c.ffn = FfnKind::GELU;
  c.position = PositionKind::ALiBi;
  c.alibi_bias_max = opt.alibi_bias_max;
  c.d_model = s.d_model;
  c.hidden = s.hidden;
  c.n_layers = s.n_layers;
  c.n_heads = s.n_heads;
  c.n_kv_heads = s.n_kv_heads;
  c.head_dim = s.d_model / s.n_heads;
  c.vocab_size = s.vocab_size;
  c.ctx_len = s.ctx_len;
  c.norm_eps = 1e-5f;
  c.tied_embeddings = s.shared_classifier;
  c.bos_id = 0;
  c.eos_id = 0;
  Rng rng(s.seed);
  const float w = opt.weight_std, j = opt.norm_jitter;
  add_random_tensor(*m, "token_embd", {c.vocab_size, c.d_model}, rng, w, 0.0f);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add_random_tensor(*m, p + "attn_norm", {c.d_model}, rng, j, 1.0f);
    add_random_tensor(*m, p + "attn_qkv", {c.q_dim() + 2 * c.kv_dim(), c.d_model}, rng, w, 0.0f);
    add_random_tensor(*m, p + "attn_output", {c.d_model, c.q_dim()}, rng, w, 0.0f);
    add_random_tensor(*m, p + "ffn_norm", {c.d_model}, rng, j, 1.0f);
    add_random_tensor(*m, p + "ffn_up", {c.hidden, c.d_model}, rng, w, 0.0f);
    add_random_tensor(*m, p + "ffn_down", {c.d_model, c.hidden}, rng, w, 0.0f);
  }
  add_random_tensor(*m, "output_norm", {c.d_model}, rng, j, 1.0f);
  if (!c.tied_embeddings) add_random_tensor(*m, "output", {c.vocab_size, c.d_model}, rng, w, 0.0f);
  return m;
}

ModelConfig based_preset(const std::string& preset) {
  ModelConfig c;
  c.arch = Arch::Based;
  c.tied_embeddings = true;
  c.rope_style = ops::RopeStyle::RotateHalf;
  c.norm_eps = 1e-5f;
  c.rope_theta = 10000.0;
  c.ctx_len = 2048;
  c.bos_id = c.eos_id = 50256;
  BasedConfig& b = c.based;
  b.linear_heads = 16;
  b.feature_dim = 16;
  b.window_size = 256;
  c.vocab_size = 50257;
  if (preset == "tiny") {
    c.d_model = 64;
    c.n_layers = 5;
    c.n_heads = 4;
    c.hidden = 256;
    c.vocab_size = 250;
    c.bos_id = c.eos_id = 0;
    b.linear_heads = 4;
    b.feature_dim = 8;
    b.window_size = 16;
    b.linear_layers = {1};
    b.window_layers = {2};
  } else if (preset == "based-360m") {
    c.d_model = 1024;
    c.n_layers = 27;
    c.n_heads = 16;
    c.hidden = 2048;
    b.linear_layers = {1, 6, 11, 16, 21};
    b.window_layers = {2, 7, 12, 17, 22};
  } else if (preset == "based-1b") {
    c.d_model = 1792;
    c.n_layers = 36;
    c.n_heads = 16;
    c.hidden = 3584;
    b.linear_layers = {1, 6, 11, 16, 21, 27, 33};
    b.window_layers = {2, 7, 12, 17, 22, 28, 34};
  } else {
    fail("--preset: expected tiny, based-360m or based-1b, got '", preset, "'");
  }
  c.n_kv_heads = c.n_heads;
  c.head_dim = c.d_model / c.n_heads;
  b.padded_vocab = (c.vocab_size + 7) / 8 * 8;
  return c;
}

std::unique_ptr<ModelFile> synthetic_based(const ModelConfig& config, uint64_t seed,
                                           const SynthOptions& opt) {
  auto m = std::make_unique<ModelFile>();
  m->path = "synthetic-based";
  m->config = config;
  ModelConfig& c = m->config;
  BasedConfig& b = c.based;
  c.arch = Arch::Based;
  c.tied_embeddings = true;
  c.rope_style = ops::RopeStyle::RotateHalf;
  check(c.d_model >= 2 && c.n_heads >= 1 && c.d_model % c.n_heads == 0 &&
            (c.d_model / c.n_heads) % 2 == 0,
        "synth based: d_model ", c.d_model, " / n_heads ", c.n_heads,
        " must give an even head dim");
  check(b.linear_heads >= 1 && c.d_model % b.linear_heads == 0, "synth based: linear heads ",
        b.linear_heads, " must divide d_model ", c.d_model);
  check(c.hidden >= 1 && c.hidden % 256 == 0, "synth based: hidden ", c.hidden,
        " must be a positive multiple of 256");
  check(c.n_layers >= 1 && c.vocab_size >= 1 && b.feature_dim >= 1,
        "synth based: layers, vocab and feature_dim must be positive");
  for (int64_t l : b.linear_layers) check(l >= 0 && l < c.n_layers, "synth based: layer ", l);
  for (int64_t l : b.window_layers) check(l >= 0 && l < c.n_layers, "synth based: layer ", l);
  check(b.window_layers.empty() || b.window_size >= 2, "synth based: window_size must be >= 2");
  c.n_kv_heads = c.n_heads;
  c.head_dim = c.d_model / c.n_heads;
  b.padded_vocab = (c.vocab_size + 7) / 8 * 8;
  Rng rng(seed);
  const float w = opt.weight_std, j = opt.norm_jitter;
  const int64_t d = c.d_model;
  add_random_tensor(*m, "token_embd", {b.padded_vocab, d}, rng, w);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add_random_tensor(*m, p + "attn_norm", {d}, rng, j, 1.0f);
    switch (b.mixer(l)) {
      case BasedMixer::Window:
        add_random_tensor(*m, p + "attn_qkv", {3 * d, d}, rng, w);
        add_random_tensor(*m, p + "attn_output", {d, d}, rng, w);
        break;
      case BasedMixer::Linear: {
        const int64_t qk = b.linear_heads * b.feature_dim;
        add_random_tensor(*m, p + "attn_q", {qk, d}, rng, w);
        add_random_tensor(*m, p + "attn_k", {qk, d}, rng, w);
        add_random_tensor(*m, p + "attn_v", {d, d}, rng, w);
        add_random_tensor(*m, p + "attn_output", {d, d}, rng, w);
        break;
      }
      case BasedMixer::Conv:
        add_random_tensor(*m, p + "conv_in", {4 * d, d}, rng, w);
        add_random_tensor(*m, p + "conv_in.bias", {4 * d}, rng, w);
        add_random_tensor(*m, p + "conv_kernel", {2 * d, 1, 3}, rng, 0.577f);
        add_random_tensor(*m, p + "attn_output", {d, 2 * d}, rng, w);
        add_random_tensor(*m, p + "attn_output.bias", {d}, rng, w);
    }
    add_random_tensor(*m, p + "ffn_norm", {d}, rng, j, 1.0f);
    add_random_tensor(*m, p + "ffn_fc1", {2 * c.hidden, d}, rng, w);
    add_random_tensor(*m, p + "ffn_down", {d, c.hidden}, rng, w);
  }
  add_random_tensor(*m, "output_norm", {d}, rng, j, 1.0f);
  return m;
}

}  // namespace lc
