#include "formats/quant_recipe.h"

#include "core/error.h"

namespace lc {

namespace {

// --dtype names, their base type, mix and llama_ftype (llama.h). A plain K type is recorded as
// the llama.cpp file type whose default type it is (q3_k: Q3_K_S, q4_k: Q4_K_S, q5_k: Q5_K_S).
constexpr ConvertTarget kTargets[] = {
    {"f32", DType::F32, QuantMix::None, 0},        {"f16", DType::F16, QuantMix::None, 1},
    {"bf16", DType::BF16, QuantMix::None, 32},     {"q8_0", DType::Q8_0, QuantMix::None, 7},
    {"q4_0", DType::Q4_0, QuantMix::None, 2},      {"q4_1", DType::Q4_1, QuantMix::None, 3},
    {"q5_0", DType::Q5_0, QuantMix::None, 8},      {"q5_1", DType::Q5_1, QuantMix::None, 9},
    {"q2_k", DType::Q2_K, QuantMix::None, 10},     {"q3_k", DType::Q3_K, QuantMix::None, 11},
    {"q4_k", DType::Q4_K, QuantMix::None, 14},     {"q5_k", DType::Q5_K, QuantMix::None, 16},
    {"q6_k", DType::Q6_K, QuantMix::None, 18},     {"iq4_nl", DType::IQ4_NL, QuantMix::None, 25},
    {"iq4_xs", DType::IQ4_XS, QuantMix::None, 30}, {"q4_k_m", DType::Q4_K, QuantMix::Q4_K_M, 15},
    {"q5_k_m", DType::Q5_K, QuantMix::Q5_K_M, 17},
};

// The tensors a mix treats specially (llama.cpp's tensor categories that matter for these
// mixes); a tied token_embd counts as Output (it is the classifier too).
enum class Role : uint8_t { Other, Output, AttnV, AttnQkv, FfnDown };

// When a rule applies, given the tensor's layer.
enum class When : uint8_t {
  Always,
  RowsMisfit,  // its rows are not a whole number of the base type's blocks
  MoreBits,    // use_more_bits(layer): the first and last eighth of the layers, and every
               // third layer in between (layer - n/8) % 3 == 2
  Llama70B,    // 80 layers with grouped-query attention (llama.cpp's LLM_TYPE_70B)
};

struct Rule {
  QuantMix mix;
  Role role;
  When when;
  DType type;
};

// llama_tensor_get_type_impl for LLAMA_FTYPE_MOSTLY_Q4_K_M / Q5_K_M on a dense (no experts),
// non-Falcon model: the first rule that matches a tensor sets its type; no rule: the base type.
constexpr Rule kRules[] = {
    {QuantMix::Q4_K_M, Role::Output, When::RowsMisfit, DType::Q8_0},
    {QuantMix::Q4_K_M, Role::Output, When::Always, DType::Q6_K},
    {QuantMix::Q5_K_M, Role::Output, When::RowsMisfit, DType::Q8_0},
    {QuantMix::Q5_K_M, Role::Output, When::Always, DType::Q6_K},
    {QuantMix::Q4_K_M, Role::AttnV, When::MoreBits, DType::Q6_K},
    {QuantMix::Q4_K_M, Role::AttnV, When::Llama70B, DType::Q5_K},
    {QuantMix::Q5_K_M, Role::AttnV, When::MoreBits, DType::Q6_K},
    {QuantMix::Q4_K_M, Role::AttnQkv, When::Always, DType::Q5_K},
    {QuantMix::Q5_K_M, Role::AttnQkv, When::Always, DType::Q6_K},
    {QuantMix::Q4_K_M, Role::FfnDown, When::MoreBits, DType::Q6_K},
    {QuantMix::Q5_K_M, Role::FfnDown, When::MoreBits, DType::Q6_K},
};

// "blk.<layer>.<rest>" -> layer and rest; false otherwise.
bool split_layer(const std::string& name, int64_t* layer, std::string* rest) {
  const std::string prefix = "blk.";
  if (name.compare(0, prefix.size(), prefix) != 0) return false;
  size_t j = prefix.size();
  int64_t l = 0;
  while (j < name.size() && name[j] >= '0' && name[j] <= '9' && l < (int64_t{1} << 40))
    l = 10 * l + (name[j++] - '0');
  if (j == prefix.size() || j >= name.size() || name[j] != '.') return false;
  *layer = l;
  *rest = name.substr(j + 1);
  return true;
}

Role role_of(const TensorRef& t, bool tied, int64_t* layer) {
  *layer = -1;
  if (t.name == "output" || (tied && t.name == "token_embd")) return Role::Output;
  std::string rest;
  if (!split_layer(t.name, layer, &rest)) return Role::Other;
  if (rest == "attn_v") return Role::AttnV;
  if (rest == "attn_qkv") return Role::AttnQkv;
  if (rest == "ffn_down") return Role::FfnDown;
  return Role::Other;
}

bool use_more_bits(int64_t layer, int64_t n_layers) {
  return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

bool applies(When w, const ConvertTarget& target, const ModelFile& m, const TensorRef& t,
             int64_t layer) {
  const ModelConfig& c = m.config;
  switch (w) {
    case When::Always:
      return true;
    case When::RowsMisfit:
      return t.shape.back() % dtype_block(target.base) != 0;
    case When::MoreBits:
      return layer >= 0 && use_more_bits(layer, c.n_layers);
    case When::Llama70B:
      return c.arch == Arch::Llama && c.n_layers == 80 && c.n_kv_heads < c.n_heads;
  }
  return false;
}

}  // namespace

ConvertTarget parse_convert_target(const std::string& s) {
  for (const ConvertTarget& t : kTargets)
    if (s == t.name) return t;
  fail("--dtype: expected one of ", convert_target_names(), "; got '", s, "'");
}

std::string convert_target_names() {
  std::string out;
  for (const ConvertTarget& t : kTargets) out += std::string(out.empty() ? "" : ", ") + t.name;
  return out;
}

DType fallback_dtype(DType want, int64_t cols) {
  if (cols % dtype_block(want) == 0) return want;
  DType next = DType::F16;
  switch (want) {
    case DType::Q2_K:
    case DType::Q3_K:
      next = DType::Q4_0;
      break;
    case DType::Q4_K:
      next = DType::Q5_0;
      break;
    case DType::Q5_K:
      next = DType::Q5_1;
      break;
    case DType::Q6_K:
      next = DType::Q8_0;
      break;
    case DType::IQ4_XS:
      next = DType::IQ4_NL;
      break;
    default:
      break;
  }
  return cols % dtype_block(next) == 0 ? next : DType::F16;
}

DType tensor_target_dtype(const ConvertTarget& target, const ModelFile& m, const TensorRef& t) {
  if (t.shape.size() < 2) return DType::F32;
  DType type = target.base;
  if (target.mix != QuantMix::None) {
    const bool tied = m.find("output") == nullptr;
    int64_t layer;
    const Role role = role_of(t, tied, &layer);
    for (const Rule& r : kRules)
      if (r.mix == target.mix && r.role == role && applies(r.when, target, m, t, layer)) {
        type = r.type;
        break;
      }
  }
  return fallback_dtype(type, t.shape.back());
}

std::vector<DType> plan_tensor_dtypes(const ConvertTarget& target, const ModelFile& m) {
  std::vector<DType> out;
  out.reserve(m.tensors.size());
  for (const TensorRef& t : m.tensors) out.push_back(tensor_target_dtype(target, m, t));
  return out;
}

}  // namespace lc
