// write_hf_dir: config.json + model.safetensors (8-byte little-endian header length, JSON header
// padded with spaces to a multiple of 8, then the tensors back to back).
#include <sys/stat.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/file_io.h"
#include "formats/hf.h"

namespace lc {

namespace {

// Shortest text that reads back as the same float.
std::string float_text(float v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

const char* st_dtype(DType t) {
  switch (t) {
    case DType::F32:
      return "F32";
    case DType::F16:
      return "F16";
    case DType::BF16:
      return "BF16";
    default:
      return nullptr;
  }
}

// An MPT config.json that both transformers' MptConfig and longctx read (ALiBi, no biases).
std::string mpt_config_json(const ModelConfig& c, const char* torch_dtype) {
  if (c.hidden % c.d_model != 0)
    fail("mpt config: MLP width ", c.hidden, " is not a multiple of d_model ", c.d_model,
         " (MPT stores expansion_ratio)");
  std::string attn =
      "{\"alibi\": true, \"alibi_bias_max\": " + float_text(static_cast<float>(c.alibi_bias_max));
  if (c.n_kv_heads == c.n_heads)
    attn += ", \"attn_type\": \"multihead_attention\"}";
  else if (c.n_kv_heads == 1)
    attn += ", \"attn_type\": \"multiquery_attention\"}";
  else  // mosaicml's key; transformers' MptForCausalLM has no grouped-query attention
    attn += ", \"attn_type\": \"grouped_query_attention\", \"kv_n_heads\": " +
            std::to_string(c.n_kv_heads) + "}";
  std::string j = "{\n";
  auto kv = [&](const std::string& k, const std::string& v) {
    j += "  \"" + k + "\": " + v + ",\n";
  };
  kv("architectures", "[\"MptForCausalLM\"]");
  kv("model_type", "\"mpt\"");
  kv("d_model", std::to_string(c.d_model));
  kv("n_heads", std::to_string(c.n_heads));
  kv("n_layers", std::to_string(c.n_layers));
  kv("expansion_ratio", std::to_string(c.hidden / c.d_model));
  kv("max_seq_len", std::to_string(c.ctx_len));
  kv("vocab_size", std::to_string(c.vocab_size));
  kv("layer_norm_epsilon", float_text(c.norm_eps));
  kv("no_bias", "true");
  kv("learned_pos_emb", "false");
  kv("norm_type", "\"low_precision_layernorm\"");
  kv("attn_config", attn);
  kv("tie_word_embeddings", c.tied_embeddings ? "true" : "false");
  kv("bos_token_id", std::to_string(c.bos_id));
  kv("eos_token_id", std::to_string(c.eos_id));
  j += std::string("  \"torch_dtype\": \"") + torch_dtype + "\"\n}\n";
  return j;
}

std::string int_list(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// A BASED config.json in the released checkpoints' flash-attn GPT layout (the keys longctx and
// tests/parity/based_parity.py read), with architectures = ["BasedForCausalLM"].
std::string based_config_json(const ModelConfig& c, const char* torch_dtype) {
  const BasedConfig& b = c.based;
  std::string j = "{\n";
  auto kv = [&](const std::string& k, const std::string& v) {
    j += "  \"" + k + "\": " + v + ",\n";
  };
  kv("architectures", "[\"BasedForCausalLM\"]");
  kv("model_type", "\"based\"");
  kv("n_embd", std::to_string(c.d_model));
  kv("n_inner", std::to_string(c.hidden));
  kv("n_layer", std::to_string(c.n_layers));
  kv("n_head", std::to_string(c.n_heads));
  kv("n_positions", std::to_string(c.ctx_len));
  kv("vocab_size", std::to_string(c.vocab_size));
  kv("pad_vocab_size_multiple", "8");
  kv("layer_norm_epsilon", float_text(c.norm_eps));
  kv("rotary_emb_base", float_text(static_cast<float>(c.rope_theta)));
  kv("activation_function", "\"swiglu\"");
  kv("tie_word_embeddings", "true");
  kv("alt_mixer_layers", int_list(b.linear_layers));
  kv("alt_mixer_2_layers", int_list(b.window_layers));
  kv("mixer",
     "{\"_target_\": \"based.models.mixers.convolution.BaseConv\", \"kernel_sizes\": 3, "
     "\"expand_proj\": 4, \"use_bias\": true}");
  kv("alt_mixer",
     "{\"_target_\": \"based.models.mixers.linear_attention.LinearAttention\", "
     "\"num_heads\": " +
         std::to_string(b.linear_heads) + ", \"feature_dim\": " + std::to_string(b.feature_dim) +
         ", \"feature_map\": {\"_target_\": "
         "\"based.models.mixers.linear_attention.TaylorExp\"}}");
  kv("alt_mixer_2",
     "{\"_target_\": \"based.models.mixers.slide_attention.SlidingAttention\", "
     "\"num_heads\": " +
         std::to_string(c.n_heads) + ", \"window_size\": " + std::to_string(b.window_size) +
         ", \"causal\": true" + (b.window_rope ? "" : ", \"longctx_rotary\": false") + "}");
  kv("bos_token_id", std::to_string(c.bos_id));
  kv("eos_token_id", std::to_string(c.eos_id));
  j += std::string("  \"torch_dtype\": \"") + torch_dtype + "\"\n}\n";
  return j;
}

// transformers' rope_scaling object for c.rope_scaling (type != None).
std::string rope_scaling_json(const ModelConfig& c) {
  const ops::RopeScaling& s = c.rope_scaling;
  using T = ops::RopeScaling::Type;
  auto num = [](double x) { return float_text(static_cast<float>(x)); };
  std::string j = std::string("{\"rope_type\": \"") + ops::rope_scaling_name(s.type) +
                  "\", \"factor\": " + num(s.factor);
  if (s.type == T::Llama3)
    j += ", \"low_freq_factor\": " + num(s.low_freq_factor) +
         ", \"high_freq_factor\": " + num(s.high_freq_factor);
  if (s.type == T::Llama3 || s.type == T::Yarn)
    j += ", \"original_max_position_embeddings\": " +
         std::to_string(static_cast<int64_t>(s.original_ctx));
  if (s.type == T::Yarn) {
    j += ", \"beta_fast\": " + num(s.beta_fast) + ", \"beta_slow\": " + num(s.beta_slow);
    if (s.attention_factor > 0) j += ", \"attention_factor\": " + num(s.attention_factor);
    if (s.mscale > 0) j += ", \"mscale\": " + num(s.mscale);
    if (s.mscale_all_dim > 0) j += ", \"mscale_all_dim\": " + num(s.mscale_all_dim);
  }
  return j + "}";
}

// A Gemma3ForCausalLM config.json with the keys both the older transformers
// (sliding_window_pattern, rope_theta, rope_local_base_freq, rope_scaling) and the newer
// (layer_types, from which they derive rope_parameters) read.
std::string gemma3_config_json(const ModelConfig& c, const char* torch_dtype) {
  auto num = [](double x) { return float_text(static_cast<float>(x)); };
  std::string j = "{\n";
  auto kv = [&](const std::string& k, const std::string& v) {
    j += "  \"" + k + "\": " + v + ",\n";
  };
  kv("architectures", "[\"Gemma3ForCausalLM\"]");
  kv("model_type", "\"gemma3_text\"");
  kv("hidden_size", std::to_string(c.d_model));
  kv("intermediate_size", std::to_string(c.hidden));
  kv("num_hidden_layers", std::to_string(c.n_layers));
  kv("num_attention_heads", std::to_string(c.n_heads));
  kv("num_key_value_heads", std::to_string(c.n_kv_heads));
  kv("head_dim", std::to_string(c.head_dim));
  kv("hidden_activation", "\"gelu_pytorch_tanh\"");
  kv("max_position_embeddings", std::to_string(c.ctx_len));
  kv("rms_norm_eps", float_text(c.norm_eps));
  kv("rope_theta", num(c.rope_theta));
  kv("rope_local_base_freq", num(c.rope_local_theta));
  kv("rope_scaling",
     c.rope_scaling.type == ops::RopeScaling::Type::None ? "null" : rope_scaling_json(c));
  // An integer where it is one (transformers 5 checks the field's type strictly).
  const double qpas =
      c.query_pre_attn_scalar > 0 ? c.query_pre_attn_scalar : static_cast<double>(c.head_dim);
  kv("query_pre_attn_scalar", qpas == std::floor(qpas) && qpas < 1e15
                                  ? std::to_string(static_cast<int64_t>(qpas))
                                  : num(qpas));
  std::string types = "[";
  for (int64_t l = 0; l < c.n_layers; ++l)
    types += std::string(l ? ", " : "") +
             (c.is_local_layer(l) ? "\"sliding_attention\"" : "\"full_attention\"");
  kv("layer_types", types + "]");
  const int64_t period = c.local_layers.empty() ? 1 : c.local_pattern();
  if (period > 0) kv("sliding_window_pattern", std::to_string(period));
  kv("sliding_window", c.sliding_window > 0 ? std::to_string(c.sliding_window) : "null");
  kv("final_logit_softcapping", c.final_logit_softcap > 0 ? num(c.final_logit_softcap) : "null");
  kv("attn_logit_softcapping", "null");
  kv("attention_bias", "false");
  kv("vocab_size", std::to_string(c.vocab_size));
  kv("tie_word_embeddings", c.tied_embeddings ? "true" : "false");
  kv("bos_token_id", std::to_string(c.bos_id));
  kv("eos_token_id", std::to_string(c.eos_id));
  j += std::string("  \"torch_dtype\": \"") + torch_dtype + "\"\n}\n";
  return j;
}

}  // namespace

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void write_hf_dir(const std::string& dir, const ModelFile& m,
                  const TensorWriteProgress& on_tensor) {
  const ModelConfig& c = m.config;
  if (c.position == PositionKind::RoPE && c.rope_style != ops::RopeStyle::RotateHalf)
    fail(dir, ": internal error: HF checkpoints need rotate-half q/k rows (permute first)");
  if (m.find("rope_freqs"))
    fail(dir,
         ": tensor 'rope_freqs' (llama.cpp's per-frequency RoPE factors) has no Hugging Face "
         "equivalent (keep the model in GGUF)");
  if (!is_directory(dir) && ::mkdir(dir.c_str(), 0755) != 0)
    fail(dir, ": cannot create the output directory");

  const DType dt = m.tensors.empty()      ? DType::F32
                   : m.find("token_embd") ? m.find("token_embd")->dtype
                                          : DType::F32;
  const char* torch = dt == DType::F16 ? "float16" : dt == DType::BF16 ? "bfloat16" : "float32";
  // Validated before anything is written.
  const std::string arch_json = c.arch == Arch::Mpt      ? mpt_config_json(c, torch)
                                : c.arch == Arch::Based  ? based_config_json(c, torch)
                                : c.arch == Arch::Gemma3 ? gemma3_config_json(c, torch)
                                                         : "";

  std::string header = "{\"__metadata__\":{\"format\":\"pt\"}";
  std::vector<std::pair<const void*, size_t>> data;
  // Gemma's norms are stored as w where the model multiplies by 1 + w (canonical: the factor).
  std::vector<std::vector<float>> gemma_norms;
  if (c.arch == Arch::Gemma3) gemma_norms.reserve(m.tensors.size());
  uint64_t off = 0;
  bool has_bias = false;
  for (const auto& t : m.tensors) {
    const std::string name = hf_tensor_name(t.name, c.arch);
    if (name.empty()) fail(dir, ": tensor '", t.name, "' has no Hugging Face name");
    const char* dt = st_dtype(t.dtype);
    if (!dt)
      fail(dir, ": tensor '", t.name, "' is ", dtype_name(t.dtype),
           "; safetensors holds f32, f16 or bf16 (use --dtype f32|f16|bf16)");
    has_bias = has_bias || t.name.find(".bias") != std::string::npos;
    const uint64_t n = static_cast<uint64_t>(dtype_bytes(t.dtype, t.numel()));
    header += ",\"" + name + "\":{\"dtype\":\"" + dt + "\",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); ++i)
      header += (i ? "," : "") + std::to_string(t.shape[i]);
    header += "],\"data_offsets\":[" + std::to_string(off) + "," + std::to_string(off + n) + "]}";
    const void* bytes = t.data;
    if (c.arch == Arch::Gemma3 && t.shape.size() == 1 && t.name.ends_with("norm")) {
      if (t.dtype != DType::F32) fail(dir, ": internal error: norm '", t.name, "' is not f32");
      const auto* w = static_cast<const float*>(t.data);
      gemma_norms.emplace_back(w, w + t.numel());
      for (float& x : gemma_norms.back()) x -= 1.0f;
      bytes = gemma_norms.back().data();
    }
    data.emplace_back(bytes, static_cast<size_t>(n));
    off += n;
  }
  header += "}";
  while (header.size() % 8) header += ' ';
  const uint64_t hlen = header.size();
  std::vector<std::pair<const void*, size_t>> parts = {{&hlen, 8}, {header.data(), header.size()}};
  parts.insert(parts.end(), data.begin(), data.end());
  const int64_t n_tensors = static_cast<int64_t>(data.size());
  write_file_atomic(dir, dir + "/model.safetensors", parts, [&](size_t written) {
    // parts: the header length, the header, then one per tensor
    if (on_tensor && written > 2) on_tensor(static_cast<int64_t>(written) - 2, n_tensors);
  });

  // arch_json holds that architecture's config
  if (c.arch == Arch::Mpt || c.arch == Arch::Based || c.arch == Arch::Gemma3) {
    write_file_atomic(dir, dir + "/config.json", {{arch_json.data(), arch_json.size()}});
    return;
  }
  const bool qwen = has_bias || c.qkv_bias;
  if (c.qkv_bias != has_bias)
    fail(dir, ": internal error: config qkv_bias does not match the bias tensors");
  std::string j = "{\n";
  auto kv = [&](const std::string& k, const std::string& v) {
    j += "  \"" + k + "\": " + v + ",\n";
  };
  const bool mistral = !qwen && c.sliding_window > 0;  // Llama has no sliding-window key
  kv("architectures", qwen      ? "[\"Qwen2ForCausalLM\"]"
                      : mistral ? "[\"MistralForCausalLM\"]"
                                : "[\"LlamaForCausalLM\"]");
  kv("model_type", qwen ? "\"qwen2\"" : mistral ? "\"mistral\"" : "\"llama\"");
  kv("hidden_size", std::to_string(c.d_model));
  kv("intermediate_size", std::to_string(c.hidden));
  kv("num_hidden_layers", std::to_string(c.n_layers));
  kv("num_attention_heads", std::to_string(c.n_heads));
  kv("num_key_value_heads", std::to_string(c.n_kv_heads));
  kv("head_dim", std::to_string(c.head_dim));
  kv("hidden_act", "\"silu\"");
  kv("max_position_embeddings", std::to_string(c.ctx_len));
  kv("rms_norm_eps", float_text(c.norm_eps));
  kv("rope_theta", float_text(static_cast<float>(c.rope_theta)));
  if (c.rope_scaling.type != ops::RopeScaling::Type::None) kv("rope_scaling", rope_scaling_json(c));
  kv("vocab_size", std::to_string(c.vocab_size));
  kv("tie_word_embeddings", c.tied_embeddings ? "true" : "false");
  kv("attention_bias", "false");
  if (c.sliding_window > 0) kv("sliding_window", std::to_string(c.sliding_window));
  if (qwen) kv("use_sliding_window", c.sliding_window > 0 ? "true" : "false");
  kv("bos_token_id", std::to_string(c.bos_id));
  kv("eos_token_id", std::to_string(c.eos_id));
  j += std::string("  \"torch_dtype\": \"") + torch + "\"\n}\n";
  write_file_atomic(dir, dir + "/config.json", {{j.data(), j.size()}});
}

}  // namespace lc
