// load_hf_dir: config.json -> ModelConfig, safetensors tensors (single file or shards) under
// canonical names, used in place from the mappings.
#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "core/error.h"
#include "formats/hf.h"
#include "formats/json.h"
#include "formats/safetensors.h"
#include "ops/rope.h"

namespace lc {

namespace {

std::string read_small_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Config {
 public:
  Config(const Json& j, const std::string& path) : j_(j), path_(path) {}
  const Json* get(const char* key) const {
    const Json* v = j_.find(key);
    return v && !v->is_null() ? v : nullptr;
  }
  int64_t integer(const char* key, int64_t lo, int64_t hi, const int64_t* def = nullptr) const {
    const Json* v = get(key);
    if (!v) {
      if (def) return *def;
      fail(path_, ": key '", key, "' is missing");
    }
    if (!v->is_int())
      fail(path_, ": key '", key, "' is ", Json::type_name(v->type()), ", expected an integer");
    if (v->integer() < lo || v->integer() > hi)
      fail(path_, ": key '", key, "' = ", v->integer(), " is out of range [", lo, ", ", hi, "]");
    return v->integer();
  }
  double number(const char* key, double def) const {
    const Json* v = get(key);
    if (!v) return def;
    if (!v->is_number())
      fail(path_, ": key '", key, "' is ", Json::type_name(v->type()), ", expected a number");
    return v->number();
  }
  bool boolean(const char* key, bool def) const {
    const Json* v = get(key);
    if (!v) return def;
    if (!v->is_bool())
      fail(path_, ": key '", key, "' is ", Json::type_name(v->type()), ", expected true or false");
    return v->boolean();
  }
  // bos/eos may be an integer or a list of integers (the first is used).
  int token_id(const char* key, int def) const {
    const Json* v = get(key);
    if (v && v->is_array() && !v->items().empty()) v = &v->items()[0];
    if (!v) return def;
    if (!v->is_int() || v->integer() < 0 || v->integer() > INT32_MAX)
      fail(path_, ": key '", key, "' must be a token id");
    return static_cast<int>(v->integer());
  }

 private:
  const Json& j_;
  const std::string& path_;
};

// HF `rope_scaling` ({"rope_type" or "type": ..., parameters}), transformers' names. YaRN's
// original context is original_max_position_embeddings when given, else max_position_embeddings
// (transformers 4.44 always takes the latter; Qwen2.5's configs give both, equal).
ops::RopeScaling rope_scaling(const Json& rs, const ModelConfig& c, const std::string& path) {
  const std::string where = path + ": rope_scaling";
  if (!rs.is_object()) fail(where, " is ", Json::type_name(rs.type()), ", expected an object");
  const Config r(rs, where);
  const Json* type = r.get("rope_type");
  if (!type) type = r.get("type");
  if (!type || !type->is_string()) fail(where, ": 'rope_type' (or 'type') must be a string");
  ops::RopeScaling s;
  s.type = ops::parse_rope_scaling(type->str(), where);
  s.factor = r.number("factor", s.type == ops::RopeScaling::Type::None ? 1.0 : 0.0);
  s.low_freq_factor = r.number("low_freq_factor", s.low_freq_factor);
  s.high_freq_factor = r.number("high_freq_factor", s.high_freq_factor);
  s.original_ctx = r.number("original_max_position_embeddings", static_cast<double>(c.ctx_len));
  s.beta_fast = r.number("beta_fast", s.beta_fast);
  s.beta_slow = r.number("beta_slow", s.beta_slow);
  s.attention_factor = r.number("attention_factor", 0.0);
  s.mscale = r.number("mscale", 0.0);
  s.mscale_all_dim = r.number("mscale_all_dim", 0.0);
  if (s.type == ops::RopeScaling::Type::Llama3 && !r.get("original_max_position_embeddings"))
    fail(where, ": llama3 needs original_max_position_embeddings");
  (void)ops::RopeFreqs(c.head_dim, c.rope_theta, s);  // range checks, naming the parameter
  return s;
}

// MPT (transformers' MptConfig and mosaicml's original keys): LayerNorm without biases, ALiBi,
// fused Wqkv, GELU MLP of expansion_ratio * d_model. Options that change the maths and are not
// implemented are refused by name rather than silently ignored.
void fill_mpt_config(const Json& j, const std::string& path, ModelConfig* c) {
  const Config g(j, path);
  c->arch = Arch::Mpt;
  c->norm = NormKind::LayerNorm;
  c->ffn = FfnKind::GELU;
  c->position = PositionKind::ALiBi;
  c->d_model = g.integer("d_model", 1, 1 << 20);
  c->n_layers = g.integer("n_layers", 1, 4096);
  c->n_heads = g.integer("n_heads", 1, 1 << 16);
  if (c->d_model % c->n_heads != 0)
    fail(path, ": d_model ", c->d_model, " is not divisible by n_heads ", c->n_heads);
  c->head_dim = c->d_model / c->n_heads;
  const int64_t four = 4;
  c->hidden = g.integer("expansion_ratio", 1, 64, &four) * c->d_model;
  c->vocab_size = g.integer("vocab_size", 1, INT32_MAX);
  const int64_t ctx = 2048;
  c->ctx_len = g.integer("max_seq_len", 1, int64_t{1} << 30, &ctx);
  c->norm_eps = static_cast<float>(g.number("layer_norm_epsilon", 1e-5));
  if (!(c->norm_eps > 0.0f)) fail(path, ": layer_norm_epsilon ", c->norm_eps, " out of range");
  c->tied_embeddings = g.boolean("tie_word_embeddings", true);
  if (!g.boolean("no_bias", true))
    fail(path, ": no_bias false (biased MPT layers) is not supported");
  if (const Json* v = g.get("logit_scale"))
    fail(path, ": logit_scale is not supported (found ", Json::type_name(v->type()), ")");
  if (const Json* v = g.get("norm_type");
      v && (!v->is_string() || v->str().find("layernorm") == std::string::npos))
    fail(path, ": norm_type must be a LayerNorm variant");
  const Json* ac = g.get("attn_config");
  if (ac && !ac->is_object())
    fail(path, ": key 'attn_config' is ", Json::type_name(ac->type()), ", expected an object");
  static const Json kEmpty = parse_json("{}", "attn_config");
  const Config a(ac ? *ac : kEmpty, path);
  if (!a.boolean("alibi", false))
    fail(path, ": attn_config.alibi is false (learned position embeddings are not supported)");
  c->alibi_bias_max = a.number("alibi_bias_max", 8.0);
  if (!(c->alibi_bias_max > 0 && c->alibi_bias_max <= 64))
    fail(path, ": attn_config.alibi_bias_max ", c->alibi_bias_max, " is out of range (0, 64]");
  for (const char* k : {"clip_qkv", "softmax_scale"})
    if (const Json* v = a.get(k))
      fail(path, ": attn_config.", k, " is not supported (found ", Json::type_name(v->type()), ")");
  for (const char* k : {"qk_ln", "prefix_lm", "attn_uses_sequence_id"})
    if (a.boolean(k, false)) fail(path, ": attn_config.", k, " = true is not supported");
  std::string type = "multihead_attention";
  if (const Json* t = a.get("attn_type")) {
    if (!t->is_string()) fail(path, ": attn_config.attn_type must be a string");
    type = t->str();
  }
  if (type == "multihead_attention") {
    c->n_kv_heads = c->n_heads;
  } else if (type == "multiquery_attention") {
    c->n_kv_heads = 1;
  } else if (type == "grouped_query_attention") {
    c->n_kv_heads = a.integer("kv_n_heads", 1, c->n_heads);
    if (c->n_heads % c->n_kv_heads != 0)
      fail(path, ": attn_config.kv_n_heads ", c->n_kv_heads, " does not divide n_heads ",
           c->n_heads);
  } else {
    fail(path, ": attn_config.attn_type '", type, "' is not supported");
  }
  c->bos_id = g.token_id("bos_token_id", 0);
  c->eos_id = g.token_id("eos_token_id", 0);
}

// Gemma 3 text (Gemma3ForCausalLM, model_type gemma3_text; transformers' Gemma3TextConfig and its
// defaults). Layer kinds come from `layer_types` ("sliding_attention" / "full_attention") or, in
// older configs, `sliding_window_pattern` P (layer i is global when (i + 1) % P == 0). RoPE:
// `rope_parameters` keyed by layer type (transformers 4.57+), or the older `rope_theta` (global),
// `rope_local_base_freq` (local) and `rope_scaling` (global layers only). Options that change
// the maths and are not implemented are refused by name.
void fill_gemma3_config(const Json& j, const std::string& path, ModelConfig* c) {
  const Config g(j, path);
  c->arch = Arch::Gemma3;
  c->ffn = FfnKind::GeGLU;
  c->qk_norm = c->post_norms = c->embed_scale = true;
  c->rope_style = ops::RopeStyle::RotateHalf;
  c->d_model = g.integer("hidden_size", 1, 1 << 20);
  c->hidden = g.integer("intermediate_size", 1, 1 << 22);
  c->n_layers = g.integer("num_hidden_layers", 1, 4096);
  c->n_heads = g.integer("num_attention_heads", 1, 1 << 16);
  c->n_kv_heads = g.integer("num_key_value_heads", 1, 1 << 16, &c->n_heads);
  const int64_t hd = 256, ctx = 131072;
  c->head_dim = g.integer("head_dim", 2, 1 << 16, &hd);
  c->vocab_size = g.integer("vocab_size", 1, INT32_MAX);
  c->ctx_len = g.integer("max_position_embeddings", 1, int64_t{1} << 30, &ctx);
  c->norm_eps = static_cast<float>(g.number("rms_norm_eps", 1e-6));
  if (!(c->norm_eps > 0.0f)) fail(path, ": rms_norm_eps ", c->norm_eps, " out of range");
  c->query_pre_attn_scalar = g.number("query_pre_attn_scalar", 256.0);
  if (!(c->query_pre_attn_scalar > 0))
    fail(path, ": query_pre_attn_scalar ", c->query_pre_attn_scalar, " must be > 0");
  c->final_logit_softcap = g.number("final_logit_softcapping", 0.0);
  if (c->final_logit_softcap < 0)
    fail(path, ": final_logit_softcapping ", c->final_logit_softcap, " must be > 0");
  if (const Json* v = g.get("attn_logit_softcapping"))
    fail(path, ": attn_logit_softcapping is not supported (found ", Json::type_name(v->type()),
         "; Gemma 3 has none)");
  if (g.boolean("use_bidirectional_attention", false))
    fail(path, ": use_bidirectional_attention = true (an embedding model) is not supported");
  if (g.boolean("attention_bias", false))
    fail(path, ": attention_bias = true is not supported for Gemma3ForCausalLM");
  std::string act = "gelu_pytorch_tanh";
  if (const Json* a = g.get("hidden_activation")) {
    if (!a->is_string()) fail(path, ": hidden_activation must be a string");
    act = a->str();
  }
  if (act != "gelu_pytorch_tanh" && act != "gelu_new")
    fail(path, ": hidden_activation '", act,
         "' is not supported (expected gelu_pytorch_tanh, the tanh-approximate GELU)");
  c->tied_embeddings = g.boolean("tie_word_embeddings", true);
  c->bos_id = g.token_id("bos_token_id", 2);
  c->eos_id = g.token_id("eos_token_id", 1);

  // Layer kinds.
  c->local_layers.assign(static_cast<size_t>(c->n_layers), false);
  if (const Json* lt = g.get("layer_types")) {
    if (!lt->is_array() || static_cast<int64_t>(lt->items().size()) != c->n_layers)
      fail(path, ": layer_types must be a list of ", c->n_layers, " layer types");
    for (int64_t l = 0; l < c->n_layers; ++l) {
      const Json& e = lt->items()[static_cast<size_t>(l)];
      const std::string t = e.is_string() ? e.str() : "";
      if (t != "sliding_attention" && t != "full_attention")
        fail(path, ": layer_types[", l,
             "] must be \"sliding_attention\" or \"full_attention\" (found ",
             e.is_string() ? "'" + t + "'" : std::string(Json::type_name(e.type())), ")");
      c->local_layers[static_cast<size_t>(l)] = t == "sliding_attention";
    }
  } else {
    const int64_t six = 6;
    const int64_t pattern = g.integer("sliding_window_pattern", 1, 4096, &six);
    for (int64_t l = 0; l < c->n_layers; ++l)
      c->local_layers[static_cast<size_t>(l)] = (l + 1) % pattern != 0;
  }
  const bool any_local =
      std::find(c->local_layers.begin(), c->local_layers.end(), true) != c->local_layers.end();
  const int64_t window = 4096;
  if (any_local && !g.get("sliding_window") && j.find("sliding_window"))
    fail(path, ": sliding_window is null but layers are marked sliding_attention");
  c->sliding_window = g.integer("sliding_window", 1, int64_t{1} << 40, &window);
  if (!any_local) {
    c->local_layers.clear();
    c->sliding_window = 0;
  }

  // RoPE per layer kind.
  c->rope_theta = 1e6;
  c->rope_local_theta = 1e4;
  const Json* rp = g.get("rope_parameters");
  if (rp) {
    const Json* full = rp->is_object() ? rp->find("full_attention") : nullptr;
    const Json* slide = rp->is_object() ? rp->find("sliding_attention") : nullptr;
    if (!full && !slide)
      fail(path,
           ": rope_parameters must be keyed by layer type (full_attention, sliding_attention)");
    if (full && !full->is_null()) {
      if (!full->is_object()) fail(path, ": rope_parameters.full_attention must be an object");
      c->rope_theta = Config(*full, path).number("rope_theta", c->rope_theta);
      c->rope_scaling = rope_scaling(*full, *c, path + ": rope_parameters.full_attention");
    }
    if (slide && !slide->is_null()) {
      if (!slide->is_object()) fail(path, ": rope_parameters.sliding_attention must be an object");
      c->rope_local_theta = Config(*slide, path).number("rope_theta", c->rope_local_theta);
      const ops::RopeScaling local =
          rope_scaling(*slide, *c, path + ": rope_parameters.sliding_attention");
      if (local.type != ops::RopeScaling::Type::None)
        fail(path, ": rope_parameters.sliding_attention: position scaling of local layers ('",
             ops::rope_scaling_name(local.type), "') is not supported");
    }
  } else {
    c->rope_theta = g.number("rope_theta", c->rope_theta);
    c->rope_local_theta = g.number("rope_local_base_freq", c->rope_local_theta);
    if (const Json* rs = g.get("rope_scaling")) c->rope_scaling = rope_scaling(*rs, *c, path);
  }
  if (!(c->rope_theta > 1.0) || !(c->rope_local_theta > 1.0))
    fail(path, ": rope_theta ", c->rope_theta, " / local ", c->rope_local_theta, " out of range");
  (void)ops::RopeFreqs(c->head_dim, c->rope_theta, c->rope_scaling);  // range checks
}

// A list of distinct layer indices in [0, n_layers).
std::vector<int64_t> layer_list(const Json* v, const char* key, int64_t n_layers,
                                const std::string& path) {
  std::vector<int64_t> out;
  if (!v) return out;
  if (!v->is_array()) fail(path, ": key '", key, "' must be a list of layer indices");
  for (const Json& e : v->items()) {
    if (!e.is_int() || e.integer() < 0 || e.integer() >= n_layers)
      fail(path, ": key '", key, "' has an entry that is not a layer index in [0, ", n_layers, ")");
    for (int64_t x : out)
      if (x == e.integer()) fail(path, ": key '", key, "' lists layer ", x, " twice");
    out.push_back(e.integer());
  }
  return out;
}

// A mixer sub-config's optional "_target_" (the official class path) must name the mixer the
// engine implements for that slot; anything else is refused rather than run as something else.
void check_mixer_target(const Json* m, const char* key, const char* expected,
                        const std::string& path) {
  if (!m) return;
  if (!m->is_object())
    fail(path, ": key '", key, "' is ", Json::type_name(m->type()), ", expected an object");
  const Json* t = m->find("_target_");
  if (t && !t->is_null() && (!t->is_string() || t->str().find(expected) == std::string::npos))
    fail(path, ": ", key, "._target_ is not a ", expected, " mixer (unknown mixer entry)");
}

// The l_max that mixer and alt_mixer agree on (either may be absent, null or 0), else 0.
int64_t mixers_l_max(const Config& g, const std::string& path) {
  int64_t l_max = 0;
  const char* from = nullptr;
  for (const char* key : {"mixer", "alt_mixer"}) {
    const Json* m = g.get(key);
    if (!m || !m->is_object()) continue;
    const Json* v = m->find("l_max");
    if (!v || v->is_null()) continue;
    if (!v->is_int() || v->integer() < 0 || v->integer() > (int64_t{1} << 30))
      fail(path, ": ", key, ".l_max must be an integer in [0, ", int64_t{1} << 30, "]");
    if (v->integer() == 0) continue;
    if (from && v->integer() != l_max)
      fail(path, ": ", from, ".l_max = ", l_max, " but ", key, ".l_max = ", v->integer(),
           " (n_positions is 0, so they give the trained length and must agree)");
    l_max = v->integer();
    from = key;
  }
  return l_max;
}

// BASED (../shared/specs/based.md): the flash-attn GPT config of the released checkpoints.
void fill_based_config(const Json& j, const std::string& path, ModelConfig* c) {
  const Config g(j, path);
  c->arch = Arch::Based;
  c->d_model = g.integer("n_embd", 1, 1 << 20);
  c->n_layers = g.integer("n_layer", 1, 4096);
  c->n_heads = g.integer("n_head", 1, 1 << 16);
  if (c->d_model % c->n_heads != 0 || (c->d_model / c->n_heads) % 2 != 0)
    fail(path, ": n_embd ", c->d_model, " / n_head ", c->n_heads, " must give an even head dim");
  c->n_kv_heads = c->n_heads;
  c->head_dim = c->d_model / c->n_heads;
  const int64_t four_d = 4 * c->d_model;
  const int64_t inner = g.integer("n_inner", 1, 1 << 22, &four_d);
  c->hidden = (inner + 255) / 256 * 256;  // spec: n_inner rounded up to a multiple of 256
  c->vocab_size = g.integer("vocab_size", 1, INT32_MAX - 8);
  c->based.padded_vocab = (c->vocab_size + 7) / 8 * 8;
  // n_positions sizes a learned position table, which rotary BASED models do not have, so the
  // official code accepts 0 there; the trained length is then the mixers' l_max (BaseConv and
  // LinearAttention get the data module's max_length), else unknown (ctx_len 0).
  const int64_t ctx = 2048;
  c->ctx_len = g.integer("n_positions", 0, int64_t{1} << 30, &ctx);
  if (c->ctx_len == 0) {
    c->ctx_len = mixers_l_max(g, path);
    c->ctx_len_source = c->ctx_len > 0 ? "n_positions is 0: the mixers' l_max"
                                       : "n_positions is 0 and no mixer has l_max: unknown";
  }
  c->norm_eps = static_cast<float>(g.number("layer_norm_epsilon", 1e-5));
  c->rope_theta = g.number("rotary_emb_base", 10000.0);
  if (!(c->norm_eps > 0.0f) || !(c->rope_theta > 1.0))
    fail(path, ": layer_norm_epsilon ", c->norm_eps, " / rotary_emb_base ", c->rope_theta,
         " out of range");
  c->rope_style = ops::RopeStyle::RotateHalf;
  c->tied_embeddings = true;
  BasedConfig& b = c->based;
  b.linear_layers = layer_list(g.get("alt_mixer_layers"), "alt_mixer_layers", c->n_layers, path);
  b.window_layers =
      layer_list(g.get("alt_mixer_2_layers"), "alt_mixer_2_layers", c->n_layers, path);
  check_mixer_target(g.get("mixer"), "mixer", "BaseConv", path);
  check_mixer_target(g.get("alt_mixer"), "alt_mixer", "LinearAttention", path);
  check_mixer_target(g.get("alt_mixer_2"), "alt_mixer_2", "SlidingAttention", path);
  static const Json kEmpty = parse_json("{}", "alt_mixer");
  const Json* am = g.get("alt_mixer");
  const Config a(am ? *am : kEmpty, path);
  if (const Json* fm = a.get("feature_map"))
    check_mixer_target(fm, "alt_mixer.feature_map", "TaylorExp", path);
  const int64_t sixteen = 16;
  b.linear_heads = a.integer("num_heads", 1, 1 << 12, &sixteen);
  b.feature_dim = a.integer("feature_dim", 1, 256, &sixteen);
  if (c->d_model % b.linear_heads != 0)
    fail(path, ": alt_mixer.num_heads ", b.linear_heads, " does not divide n_embd ", c->d_model);
  const Json* aw = g.get("alt_mixer_2");
  const Config w(aw ? *aw : kEmpty, path);
  const int64_t zero = 0;
  b.window_size = w.integer("window_size", b.window_layers.empty() ? 0 : 2, 1 << 24,
                            b.window_layers.empty() ? &zero : nullptr);
  b.window_rope = w.boolean("longctx_rotary", true);
  c->bos_id = g.token_id("bos_token_id", 50256);
  c->eos_id = g.token_id("eos_token_id", 50256);
}

// BASED checkpoints carry no usable "architectures" entry of their own (the flash-attn GPT
// config); a config is BASED when architectures[0] is "BasedForCausalLM" or, without an
// architectures list, when it has the mixer keys alt_mixer_layers / alt_mixer_2_layers.
bool is_based_config(const Json& j) {
  const Json* archs = j.find("architectures");
  if (archs && archs->is_array() && !archs->items().empty() && archs->items()[0].is_string())
    return archs->items()[0].str() == "BasedForCausalLM";
  return (!archs || archs->is_null()) &&
         (j.find("alt_mixer_layers") || j.find("alt_mixer_2_layers"));
}

void fill_config(const Json& j, const std::string& path, ModelConfig* c) {
  if (!j.is_object()) fail(path, ": expected a JSON object");
  if (is_based_config(j)) return fill_based_config(j, path, c);
  const Json* archs = j.find("architectures");
  if (!archs || !archs->is_array() || archs->items().empty() || !archs->items()[0].is_string())
    fail(path, ": 'architectures' must be a non-empty list of strings");
  const std::string arch = archs->items()[0].str();
  if (arch == "MptForCausalLM" || arch == "MPTForCausalLM") return fill_mpt_config(j, path, c);
  if (arch == "Gemma3ForCausalLM") return fill_gemma3_config(j, path, c);
  if (arch == "Gemma3ForConditionalGeneration")
    fail(path,
         ": architecture 'Gemma3ForConditionalGeneration' (Gemma 3 with vision) is not supported; "
         "the text model is Gemma3ForCausalLM");
  const bool mistral = arch == "MistralForCausalLM", qwen2 = arch == "Qwen2ForCausalLM";
  if (arch != "LlamaForCausalLM" && !mistral && !qwen2)
    fail(path, ": architecture '", arch,
         "' is not supported (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, "
         "Gemma3ForCausalLM, MptForCausalLM, BasedForCausalLM)");
  const Config g(j, path);
  c->arch = Arch::Llama;
  c->d_model = g.integer("hidden_size", 1, 1 << 20);
  c->hidden = g.integer("intermediate_size", 1, 1 << 22);
  c->n_layers = g.integer("num_hidden_layers", 1, 4096);
  c->n_heads = g.integer("num_attention_heads", 1, 1 << 16);
  c->n_kv_heads = g.integer("num_key_value_heads", 1, 1 << 16, &c->n_heads);
  if (!g.get("head_dim") && c->d_model % c->n_heads != 0)
    fail(path, ": hidden_size ", c->d_model, " is not divisible by num_attention_heads ",
         c->n_heads);
  const int64_t hd = c->d_model / c->n_heads;
  c->head_dim = g.integer("head_dim", 2, 1 << 16, &hd);
  c->vocab_size = g.integer("vocab_size", 1, INT32_MAX);
  const int64_t ctx = 2048;
  c->ctx_len = g.integer("max_position_embeddings", 1, int64_t{1} << 30, &ctx);
  c->norm_eps = static_cast<float>(g.number("rms_norm_eps", 1e-6));
  c->rope_theta = g.number("rope_theta", 10000.0);
  if (!(c->norm_eps > 0.0f) || !(c->rope_theta > 1.0))
    fail(path, ": rms_norm_eps ", c->norm_eps, " / rope_theta ", c->rope_theta, " out of range");
  if (const Json* rs = g.get("rope_scaling")) c->rope_scaling = rope_scaling(*rs, *c, path);
  c->tied_embeddings = g.boolean("tie_word_embeddings", false);
  const int64_t zero = 0;
  // Mistral trains with `sliding_window` (null = none); Qwen2 only when use_sliding_window is
  // set; LlamaForCausalLM has no window, so a stray key there is ignored as transformers does.
  const bool use_window = mistral || (qwen2 && g.boolean("use_sliding_window", false));
  const int64_t window = g.integer("sliding_window", 0, int64_t{1} << 40, &zero);
  c->sliding_window = use_window ? window : 0;
  // Llama/Mistral attention_bias also biases o_proj, which the model has no slot for; Qwen2
  // has q/k/v biases (never o_proj) whatever the key says.
  if (g.boolean("attention_bias", false) && !qwen2)
    fail(path, ": attention_bias is only supported for Qwen2ForCausalLM");
  c->qkv_bias = qwen2;
  c->bos_id = g.token_id("bos_token_id", 1);
  c->eos_id = g.token_id("eos_token_id", 2);
  c->rope_style = ops::RopeStyle::RotateHalf;
}

// Gemma's RMSNorm multiplies by (1 + w) (transformers' Gemma3RMSNorm: `1.0 + weight.float()`, in
// f32); canonical norm weights are the factor itself, as llama.cpp's converter stores them. Every
// 1-D tensor of a Gemma 3 checkpoint is a norm (all seven kinds end in "norm").
void gemma_norms_to_factors(ModelFile& m) {
  for (TensorRef& t : m.tensors) {
    if (t.shape.size() != 1 || !t.name.ends_with("norm")) continue;
    if (t.dtype != DType::F32) fail(m.path, ": internal error: norm '", t.name, "' is not f32");
    AlignedBuffer<uint8_t> buf(static_cast<size_t>(4 * t.numel()));
    const auto* w = static_cast<const float*>(t.data);
    auto* out = reinterpret_cast<float*>(buf.data());
    for (int64_t i = 0; i < t.numel(); ++i) out[i] = 1.0f + w[i];
    t.data = buf.data();
    m.owned.push_back(std::move(buf));
  }
}

// Shard file names come from the index: plain names inside the directory only.
void check_shard_name(const std::string& index, const std::string& f) {
  if (f.empty() || f.find('/') != std::string::npos || f == "." || f == "..")
    fail(index, ": shard file name '", f, "' must be a plain file name in the directory");
}

}  // namespace

std::unique_ptr<ModelFile> load_hf_dir(const std::string& dir) {
  auto mf = std::make_unique<ModelFile>();
  mf->path = dir;
  const std::string cfg_path = dir + "/config.json";
  fill_config(parse_json(read_small_file(cfg_path), cfg_path), cfg_path, &mf->config);

  std::vector<std::string> shards;
  std::map<std::string, std::string> weight_map;  // tensor -> shard
  const std::string single = dir + "/model.safetensors", index = single + ".index.json";
  if (std::ifstream(single).good()) {
    shards.push_back("model.safetensors");
  } else if (std::ifstream(index).good()) {
    const Json j = parse_json(read_small_file(index), index);
    const Json* wm = j.is_object() ? j.find("weight_map") : nullptr;
    if (!wm || !wm->is_object()) fail(index, ": 'weight_map' must be an object");
    for (const auto& [t, f] : wm->members()) {
      if (!f.is_string()) fail(index, ": weight_map entry '", t, "' must be a file name");
      check_shard_name(index, f.str());
      weight_map[t] = f.str();
      bool seen = false;
      for (const auto& s : shards) seen = seen || s == f.str();
      if (!seen) shards.push_back(f.str());
    }
  } else {
    fail(dir, ": no model.safetensors or model.safetensors.index.json");
  }
  for (const std::string& shard : shards) {
    MappedFile file(dir + "/" + shard);
    for (SafetensorsTensor& st : parse_safetensors(file.data(), file.size(), file.path())) {
      if (!weight_map.empty()) {
        auto it = weight_map.find(st.name);
        if (it == weight_map.end() || it->second != shard)
          fail(file.path(), ": tensor '", st.name, "' is not listed for this shard in ", index);
      }
      const bool based = mf->config.arch == Arch::Based;
      // BASED: an optional "model." prefix; training metrics, decay buffers and RoPE inv_freq
      // buffers carry no weights.
      const std::string hf_name =
          based && st.name.rfind("model.", 0) == 0 ? st.name.substr(6) : st.name;
      if (based && (hf_name.find("metrics") != std::string::npos ||
                    hf_name.find("decay") != std::string::npos ||
                    hf_name.find("inv_freq") != std::string::npos))
        continue;
      const std::string canon = canonical_from_hf(hf_name, mf->config.arch);
      const Arch a = mf->config.arch;
      if (canon.empty() && a != Arch::Llama)  // never drop weights
        fail(file.path(), ": tensor '", st.name, "' is not part of the supported ",
             based               ? "BASED"
             : a == Arch::Gemma3 ? "Gemma3ForCausalLM"
                                 : "MPT",
             " layout");
      if (canon.empty()) continue;  // e.g. rotary_emb.inv_freq buffers
      if (mf->find(canon)) fail(file.path(), ": tensor '", st.name, "' appears twice");
      TensorRef t;
      t.name = canon;
      t.dtype = st.dtype;
      t.shape = st.shape;
      t.data = st.data;
      const size_t align = st.dtype == DType::F32 ? 4 : 2;
      if (reinterpret_cast<uintptr_t>(st.data) % align != 0 ||
          (t.shape.size() == 1 && t.dtype != DType::F32)) {
        // Misaligned data, or a non-f32 norm / bias: one owned f32-or-same copy.
        const bool widen = t.shape.size() == 1 && t.dtype != DType::F32;
        AlignedBuffer<uint8_t> buf(static_cast<size_t>(widen ? 4 * t.numel() : st.bytes));
        if (widen) {
          for (int64_t i = 0; i < t.numel(); ++i) {
            uint16_t h;
            std::memcpy(&h, st.data + 2 * i, 2);
            const float v = t.dtype == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
            std::memcpy(buf.data() + 4 * i, &v, 4);
          }
          t.dtype = DType::F32;
        } else {
          std::memcpy(buf.data(), st.data, st.bytes);
        }
        t.data = buf.data();
        mf->owned.push_back(std::move(buf));
      }
      mf->tensors.push_back(std::move(t));
    }
    mf->mappings.push_back(std::move(file));
  }
  for (const auto& [t, f] : weight_map) {
    bool found = false;
    (void)f;
    for (const auto& tr : mf->tensors)
      found = found || hf_tensor_name(tr.name, mf->config.arch) == t;
    if (!found && !canonical_from_hf(t, mf->config.arch).empty())
      fail(index, ": tensor '", t, "' is listed but not found in its shard");
  }
  ModelConfig& c = mf->config;
  // Qwen2 always has q/k/v biases (and no o_proj bias); other architectures must have none,
  // so that no bias is silently dropped.
  for (int64_t l = 0; l < c.n_layers; ++l)
    for (const char* b : {"attn_q.bias", "attn_k.bias", "attn_v.bias"}) {
      const std::string canon = "blk." + std::to_string(l) + "." + b;
      const bool has = mf->find(canon) != nullptr;
      if (c.qkv_bias && !has)
        fail(dir, ": missing tensor '", hf_tensor_name(canon),
             "' (Qwen2ForCausalLM has q/k/v biases)");
      if (!c.qkv_bias && has)
        fail(dir, ": tensor '", hf_tensor_name(canon),
             "' is a q/k/v bias, supported only for Qwen2ForCausalLM");
    }
  if (!c.tied_embeddings && !mf->find("output"))
    fail(dir, ": missing tensor 'lm_head.weight' (tie_word_embeddings is false)");
  if (c.arch == Arch::Gemma3) gemma_norms_to_factors(*mf);
  return mf;
}

}  // namespace lc
