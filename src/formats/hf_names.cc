#include <cstring>
#include <span>

#include "core/error.h"
#include "formats/hf.h"

namespace lc {

namespace {

struct Pair {
  const char* canonical;  // suffix after "blk.N."
  const char* hf;         // suffix after the architecture's layer prefix and "N."
};
constexpr Pair kLlamaLayer[] = {
    {"attn_norm", "input_layernorm.weight"},  {"ffn_norm", "post_attention_layernorm.weight"},
    {"attn_q", "self_attn.q_proj.weight"},    {"attn_k", "self_attn.k_proj.weight"},
    {"attn_v", "self_attn.v_proj.weight"},    {"attn_output", "self_attn.o_proj.weight"},
    {"attn_q.bias", "self_attn.q_proj.bias"}, {"attn_k.bias", "self_attn.k_proj.bias"},
    {"attn_v.bias", "self_attn.v_proj.bias"}, {"ffn_gate", "mlp.gate_proj.weight"},
    {"ffn_up", "mlp.up_proj.weight"},         {"ffn_down", "mlp.down_proj.weight"},
};
constexpr Pair kLlamaGlobal[] = {
    {"token_embd", "model.embed_tokens.weight"},
    {"output_norm", "model.norm.weight"},
    {"output", "lm_head.weight"},
};
// Gemma 3 (Gemma3ForCausalLM): four norms per layer and per-head q/k norms. Note that HF's
// post_attention_layernorm is the norm of the attention output here (canonical
// post_attention_norm, as in llama.cpp), not Llama's pre-MLP norm (pre_feedforward_layernorm).
constexpr Pair kGemma3Layer[] = {
    {"attn_norm", "input_layernorm.weight"},
    {"post_attention_norm", "post_attention_layernorm.weight"},
    {"ffn_norm", "pre_feedforward_layernorm.weight"},
    {"post_ffw_norm", "post_feedforward_layernorm.weight"},
    {"attn_q_norm", "self_attn.q_norm.weight"},
    {"attn_k_norm", "self_attn.k_norm.weight"},
    {"attn_q", "self_attn.q_proj.weight"},
    {"attn_k", "self_attn.k_proj.weight"},
    {"attn_v", "self_attn.v_proj.weight"},
    {"attn_output", "self_attn.o_proj.weight"},
    {"ffn_gate", "mlp.gate_proj.weight"},
    {"ffn_up", "mlp.up_proj.weight"},
    {"ffn_down", "mlp.down_proj.weight"},
};
// MPT (transformers' MptForCausalLM and mosaicml's MPTForCausalLM share these names).
constexpr Pair kMptLayer[] = {
    {"attn_norm", "norm_1.weight"},   {"ffn_norm", "norm_2.weight"},
    {"attn_qkv", "attn.Wqkv.weight"}, {"attn_output", "attn.out_proj.weight"},
    {"ffn_up", "ffn.up_proj.weight"}, {"ffn_down", "ffn.down_proj.weight"},
};
constexpr Pair kMptGlobal[] = {
    {"token_embd", "transformer.wte.weight"},
    {"output_norm", "transformer.norm_f.weight"},
    {"output", "lm_head.weight"},
};

// BASED (flash-attn GPT layout, ../shared/specs/based.md "Checkpoint layout"). One canonical
// name per HF name whatever the layer's mixer: out_proj is attn_output for all three mixers
// (with a bias only in BaseConv layers); fc1 is the fused [value | gate] SwiGLU input.
constexpr Pair kBasedLayer[] = {
    {"attn_norm", "norm1.weight"},
    {"ffn_norm", "norm2.weight"},
    {"ffn_fc1", "mlp.fc1.weight"},
    {"ffn_down", "mlp.fc2.weight"},
    {"attn_q", "mixer.proj_q.weight"},
    {"attn_k", "mixer.proj_k.weight"},
    {"attn_v", "mixer.proj_v.weight"},
    {"attn_qkv", "mixer.Wqkv.weight"},
    {"attn_output", "mixer.out_proj.weight"},
    {"attn_output.bias", "mixer.out_proj.bias"},
    {"conv_in", "mixer.in_proj.weight"},
    {"conv_in.bias", "mixer.in_proj.bias"},
    {"conv_kernel", "mixer.conv.conv.weight"},
};
constexpr Pair kBasedGlobal[] = {
    {"token_embd", "transformer.embeddings.word_embeddings.weight"},
    {"output_norm", "transformer.ln_f.weight"},
    {"output", "lm_head.weight"},
};

struct Names {
  std::span<const Pair> global, layer;
  const char* layer_prefix;
};
Names names_for(Arch arch) {
  if (arch == Arch::Mpt) return Names{kMptGlobal, kMptLayer, "transformer.blocks."};
  if (arch == Arch::Based) return Names{kBasedGlobal, kBasedLayer, "transformer.layers."};
  if (arch == Arch::Gemma3) return Names{kLlamaGlobal, kGemma3Layer, "model.layers."};
  return Names{kLlamaGlobal, kLlamaLayer, "model.layers."};
}

// Splits "<prefix><digits>.<rest>" into the layer number and rest; false if it does not match.
bool split_layer(const std::string& s, const std::string& prefix, int64_t* layer,
                 std::string* rest) {
  if (s.compare(0, prefix.size(), prefix) != 0) return false;
  size_t i = prefix.size(), j = i;
  while (j < s.size() && j - i < 7 && s[j] >= '0' && s[j] <= '9') ++j;
  if (j == i || j >= s.size() || s[j] != '.' || (s[i] == '0' && j - i > 1)) return false;
  *layer = std::stoll(s.substr(i, j - i));
  *rest = s.substr(j + 1);
  return true;
}

}  // namespace

std::string hf_tensor_name(const std::string& c, Arch arch) {
  const Names n = names_for(arch);
  for (const Pair& p : n.global)
    if (c == p.canonical) return p.hf;
  int64_t l;
  std::string rest;
  if (!split_layer(c, "blk.", &l, &rest)) return "";
  for (const Pair& p : n.layer)
    if (rest == p.canonical) return n.layer_prefix + std::to_string(l) + "." + p.hf;
  return "";
}

std::string canonical_from_hf(const std::string& h, Arch arch) {
  const Names n = names_for(arch);
  for (const Pair& p : n.global)
    if (h == p.hf) return p.canonical;
  int64_t l;
  std::string rest;
  if (!split_layer(h, n.layer_prefix, &l, &rest)) return "";
  for (const Pair& p : n.layer)
    if (rest == p.hf) return "blk." + std::to_string(l) + "." + p.canonical;
  return "";
}

void permute_rope_rows(ModelFile& m, ops::RopeStyle to) {
  ModelConfig& c = m.config;
  if (c.rope_style == to) return;
  const bool to_half = to == ops::RopeStyle::RotateHalf;
  const int64_t hd = c.head_dim, half = hd / 2;
  for (auto& t : m.tensors) {
    int64_t l;
    std::string rest;
    if (!split_layer(t.name, "blk.", &l, &rest)) continue;
    const bool is_q = rest == "attn_q" || rest == "attn_q.bias";
    const bool is_k = rest == "attn_k" || rest == "attn_k.bias";
    if (!is_q && !is_k) continue;
    const int64_t heads = is_q ? c.n_heads : c.n_kv_heads;
    const int64_t rows = t.shape[0], cols = t.shape.size() == 2 ? t.shape[1] : 1;
    if (rows != heads * hd)
      fail(m.path, ": tensor '", t.name, "' has ", rows, " rows, expected ", heads * hd);
    const int64_t row_bytes = dtype_bytes(t.dtype, cols);
    AlignedBuffer<uint8_t> buf(static_cast<size_t>(rows * row_bytes));
    const auto* src = static_cast<const uint8_t*>(t.data);
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < half; ++i)
        for (int64_t p = 0; p < 2; ++p) {
          const int64_t adjacent = h * hd + 2 * i + p, rotate = h * hd + p * half + i;
          const int64_t dst = to_half ? rotate : adjacent, from = to_half ? adjacent : rotate;
          std::memcpy(buf.data() + dst * row_bytes, src + from * row_bytes,
                      static_cast<size_t>(row_bytes));
        }
    t.data = buf.data();
    m.owned.push_back(std::move(buf));
  }
  c.rope_style = to;
}

}  // namespace lc
