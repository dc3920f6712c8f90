// GGUF → ModelFile for the llama and gemma3 architectures: llama.* / gemma3.* metadata to
// ModelConfig, GGUF tensor names (token_embd.weight, blk.N.attn_q.weight, ...) to the canonical
// names (the ".weight" suffix dropped), dims (innermost first) reversed into shapes (outermost
// first).
#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "formats/gguf.h"
#include "ops/quant/dequant.h"

namespace lc {

namespace {

// llama.cpp's rope.scaling.* keys: linear and YaRN (factor, original context, beta bounds,
// attention factor). Llama 3 files carry per-pair factors in the rope_freqs tensor instead.
ops::RopeScaling rope_scaling(const GgufFile& g, const std::string& p, const ModelConfig& c) {
  ops::RopeScaling s;
  const std::string where = g.path + ": GGUF " + p + "rope.scaling.type";
  s.type = ops::parse_rope_scaling(g.get_string(p + "rope.scaling.type", "none"), where);
  if (s.type == ops::RopeScaling::Type::None) return s;
  if (s.type == ops::RopeScaling::Type::Llama3)
    fail(where, " 'llama3' is not a llama.cpp scaling type (Llama 3 files use rope_freqs)");
  s.factor = g.get_float(p + "rope.scaling.factor", 0.0);
  s.original_ctx = static_cast<double>(
      g.get_int(p + "rope.scaling.original_context_length", 1, int64_t{1} << 30, c.ctx_len));
  s.beta_fast = g.get_float(p + "rope.scaling.yarn_beta_fast", s.beta_fast);
  s.beta_slow = g.get_float(p + "rope.scaling.yarn_beta_slow", s.beta_slow);
  // llama.cpp's attn_factor multiplies YaRN's default factor (transformers' replaces it).
  const double attn = g.get_float(p + "rope.scaling.attn_factor", 0.0);
  if (attn > 0) s.attention_factor = attn * ops::yarn_default_attention_factor(s.factor);
  (void)ops::RopeFreqs(c.head_dim, c.rope_theta, s);  // range checks
  return s;
}

// Gemma 3 as llama.cpp reads it (src/models/gemma3.cpp, llama-hparams.cpp): local layers exist
// when attention.sliding_window > 0, by attention.sliding_window_pattern -- an array of per-layer
// flags, or a period P (default 6) where layer l is local when l % P < P - 1 (P = 0: all local);
// local layers use rope.freq_base_swa (default 10000) and no position scaling. The file has no
// query scale: llama.cpp uses head_dim^-1/2, or (d_model / n_heads)^-1/2 for the 62-layer 27B
// model (gemma_pytorch's config), and so does this reader (the GGUF writer folds any other
// query_pre_attn_scalar into attn_q_norm). Norm weights are stored as 1 + w already.
void fill_gemma3_config(const GgufFile& g, const std::string& p, ModelConfig* c) {
  c->arch = Arch::Gemma3;
  c->ffn = FfnKind::GeGLU;
  c->qk_norm = c->post_norms = c->embed_scale = true;
  c->rope_style = ops::RopeStyle::RotateHalf;  // llama.cpp's NEOX rope type for gemma3
  c->norm_eps = static_cast<float>(g.get_float(p + "attention.layer_norm_rms_epsilon", 1e-6));
  c->query_pre_attn_scalar = gemma3_gguf_query_scalar(*c);
  c->final_logit_softcap = g.get_float(p + "final_logit_softcapping", 0.0);
  if (c->final_logit_softcap < 0)
    fail(g.path, ": GGUF ", p, "final_logit_softcapping ", c->final_logit_softcap, " must be > 0");
  if (g.get_float(p + "attn_logit_softcapping", 0.0) != 0.0)
    fail(g.path, ": GGUF ", p, "attn_logit_softcapping is not supported (Gemma 3 has none)");
  c->sliding_window = g.get_int(p + "attention.sliding_window", 0, int64_t{1} << 40, 0);
  c->rope_local_theta = g.get_float(p + "rope.freq_base_swa", 10000.0);
  if (c->rope_scaling.type != ops::RopeScaling::Type::None &&
      c->rope_scaling.type != ops::RopeScaling::Type::Linear)
    fail(g.path, ": GGUF ", p, "rope.scaling.type '", ops::rope_scaling_name(c->rope_scaling.type),
         "' is not supported for gemma3 (linear only, on the global layers)");
  if (!(c->rope_local_theta > 1.0))
    fail(g.path, ": GGUF ", p, "rope.freq_base_swa ", c->rope_local_theta, " out of range");
  if (c->sliding_window == 0) return;  // every layer global (llama.cpp: no SWA)
  c->local_layers.assign(static_cast<size_t>(c->n_layers), false);
  const std::string key = p + "attention.sliding_window_pattern";
  const GgufValue* pat = g.find(key);
  if (pat && pat->type == kGgufArray) {
    if (static_cast<int64_t>(pat->ints.size()) != c->n_layers)
      fail(g.path, ": GGUF ", key, " has ", pat->array_size(), " entries, expected one per layer (",
           c->n_layers, ")");
    for (int64_t l = 0; l < c->n_layers; ++l)
      c->local_layers[static_cast<size_t>(l)] = pat->ints[static_cast<size_t>(l)] != 0;
  } else {
    const int64_t period = g.get_int(key, 0, 4096, 6);
    for (int64_t l = 0; l < c->n_layers; ++l)
      c->local_layers[static_cast<size_t>(l)] = period == 0 || l % period < period - 1;
  }
  if (std::find(c->local_layers.begin(), c->local_layers.end(), true) == c->local_layers.end()) {
    c->local_layers.clear();
    c->sliding_window = 0;
  }
}

void fill_config(const GgufFile& g, ModelConfig* c) {
  const std::string arch = g.get_string("general.architecture");
  // Mistral GGUFs are written with architecture "llama"; accept the name as an alias too.
  if (arch != "llama" && arch != "mistral" && arch != "gemma3")
    fail(g.path, ": GGUF general.architecture '", arch,
         "' is not supported (expected llama, mistral or gemma3)");
  const std::string p = arch + ".";
  c->arch = Arch::Llama;
  c->d_model = g.get_int(p + "embedding_length", 1, 1 << 20);
  c->n_layers = g.get_int(p + "block_count", 1, 4096);
  c->hidden = g.get_int(p + "feed_forward_length", 1, 1 << 22);
  c->n_heads = g.get_int(p + "attention.head_count", 1, 1 << 16);
  c->n_kv_heads = g.get_int(p + "attention.head_count_kv", 1, 1 << 16, c->n_heads);
  if (!g.find(p + "attention.key_length") && c->d_model % c->n_heads != 0)
    fail(g.path, ": GGUF ", p, "embedding_length ", c->d_model, " is not divisible by head_count ",
         c->n_heads);
  c->head_dim = g.get_int(p + "attention.key_length", 1, 1 << 16, c->d_model / c->n_heads);
  const int64_t value_len = g.get_int(p + "attention.value_length", 1, 1 << 16, c->head_dim);
  if (value_len != c->head_dim)
    fail(g.path, ": GGUF ", p, "attention.value_length ", value_len, " differs from key_length ",
         c->head_dim, " (not supported)");
  const int64_t rot = g.get_int(p + "rope.dimension_count", 1, 1 << 16, c->head_dim);
  if (rot != c->head_dim)
    fail(g.path, ": GGUF ", p, "rope.dimension_count ", rot, " differs from head_dim ", c->head_dim,
         " (partial rotary embeddings are not supported)");
  c->ctx_len = g.get_int(p + "context_length", 1, int64_t{1} << 30, 2048);
  c->norm_eps = static_cast<float>(g.get_float(p + "attention.layer_norm_rms_epsilon", 1e-5));
  c->rope_theta = g.get_float(p + "rope.freq_base", 10000.0);
  if (!(c->norm_eps > 0.0f) || !(c->rope_theta > 1.0))
    fail(g.path, ": GGUF rms epsilon ", c->norm_eps, " / rope.freq_base ", c->rope_theta,
         " out of range");
  c->rope_scaling = rope_scaling(g, p, *c);
  c->rope_style = ops::RopeStyle::AdjacentPairs;  // GGUF llama q/k rows are Meta-ordered
  c->bos_id = static_cast<int>(g.get_int("tokenizer.ggml.bos_token_id", -1, INT32_MAX, 1));
  c->eos_id = static_cast<int>(g.get_int("tokenizer.ggml.eos_token_id", -1, INT32_MAX, 2));
  if (arch == "gemma3") fill_gemma3_config(g, p, c);
}

std::string canonical_name(const std::string& n) {
  const std::string suffix = ".weight";
  if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
    return n.substr(0, n.size() - suffix.size());
  return n;
}

}  // namespace

double gemma3_gguf_query_scalar(const ModelConfig& c) {
  return static_cast<double>(c.n_layers == 62 ? c.d_model / c.n_heads : c.head_dim);
}

std::unique_ptr<ModelFile> load_gguf_from_memory(const uint8_t* data, size_t size,
                                                 const std::string& name) {
  GgufFile g = parse_gguf(data, size, name);
  auto mf = std::make_unique<ModelFile>();
  mf->path = name;
  if (g.tensors.empty())
    fail(name, ": GGUF file has no tensors (a vocabulary-only file? pass it as -z TOKENIZER)");
  fill_config(g, &mf->config);
  for (const GgufTensorInfo& gt : g.tensors) {
    TensorRef t;
    t.name = canonical_name(gt.name);
    t.dtype = gt.dtype;
    t.shape.assign(gt.dims.rbegin(), gt.dims.rend());
    t.data = gt.data;
    if (t.shape.size() == 1 && t.dtype != DType::F32) {
      // Norm weights are read as f32 vectors; the rare f16/bf16 one is widened once here.
      AlignedBuffer<uint8_t> buf(static_cast<size_t>(4 * t.numel()));
      ops::quant::dequantize_row(t.dtype, t.data, reinterpret_cast<float*>(buf.data()), t.numel());
      t.dtype = DType::F32;
      t.data = buf.data();
      mf->owned.push_back(std::move(buf));
    }
    mf->tensors.push_back(std::move(t));
  }
  ModelConfig& c = mf->config;
  if (mf->find("blk.0.attn_q.bias"))
    fail(name,
         ": GGUF tensor 'blk.0.attn_q.bias': q/k/v biases are not supported in GGUF "
         "(load the Hugging Face directory instead)");
  const TensorRef* embd = mf->find("token_embd");
  if (!embd || embd->shape.size() != 2)
    fail(name, ": GGUF tensor 'token_embd.weight' is missing or not a matrix");
  c.vocab_size = embd->shape[0];
  const int64_t declared =
      g.get_int(g.get_string("general.architecture") + ".vocab_size", 1, INT32_MAX, c.vocab_size);
  if (declared != c.vocab_size)
    fail(name, ": GGUF vocab_size ", declared, " differs from token_embd rows ", c.vocab_size);
  c.tied_embeddings = mf->find("output") == nullptr;
  if (c.arch == Arch::Gemma3 && mf->find("rope_freqs"))
    fail(name,
         ": GGUF tensor 'rope_freqs.weight' is not supported for gemma3 (llama.cpp ignores it)");
  return mf;
}

std::unique_ptr<ModelFile> load_gguf(MappedFile file) {
  auto mf = load_gguf_from_memory(file.data(), file.size(), file.path());
  mf->mappings.push_back(std::move(file));
  return mf;
}

}  // namespace lc
