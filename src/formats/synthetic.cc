#include "formats/synthetic.h"

#include <string>

#include "core/error.h"
#include "core/rng.h"

namespace lc {

void add_random_tensor(ModelFile& m, const std::string& name, std::vector<int64_t> shape,
                       Rng& rng, float std, float offset) {
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
  check(s.n_kv_heads >= 1 && s.n_heads % s.n_kv_heads == 0, "synth mpt: n_kv_heads ",
        s.n_kv_heads, " must divide n_heads ", s.n_heads);
  check(s.hidden >= 1 && s.n_layers >= 1 && s.vocab_size >= 1 && s.ctx_len >= 1,
        "synth mpt: hidden, layers, vocab and ctx must be positive");
  auto m = std::make_unique<ModelFile>();
  m->path = "synthetic-mpt";
  ModelConfig& c = m->config;
  c.arch = "mpt";
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

}  // namespace lc
