#include "formats/synthesize.h"

#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "formats/hf.h"
#include "formats/llama2c.h"
#include "formats/synthetic.h"

namespace lc {

namespace {

int64_t required(const std::optional<int64_t>& size, const char* flag) {
  if (!size) fail("synth-model: ", flag, " is required");
  return *size;
}

// Each flag of `given` that was set is an error: it means nothing for this architecture.
void reject_flags(const std::vector<std::pair<const char*, bool>>& given, const char* arch) {
  for (const auto& [flag, set] : given)
    if (set) fail(flag, ": applies to --arch ", arch, " only");
}

void reject_based_only(const SynthRequest& r) {
  reject_flags({{"--preset", r.preset.has_value()},
                {"--dtype", r.dtype.has_value()},
                {"--feature-dim", r.feature_dim.has_value()},
                {"--linear-heads", r.linear_heads.has_value()},
                {"--window", r.window.has_value()}},
               "based");
}

// The sizes llama2.c and MPT share; `hidden_default` stands in for an unset hidden.
SynthSpec llama_family_spec(const SynthRequest& r, std::optional<int64_t> hidden_default) {
  SynthSpec s;
  s.d_model = required(r.d_model, "--dim");
  s.n_layers = required(r.n_layers, "--layers");
  s.n_heads = required(r.n_heads, "--heads");
  s.vocab_size = required(r.vocab_size, "--vocab");
  s.ctx_len = required(r.ctx_len, "--ctx");
  if (r.hidden)
    s.hidden = *r.hidden;
  else
    s.hidden = hidden_default ? *hidden_default : required(r.hidden, "--hidden");
  s.n_kv_heads = r.n_kv_heads.value_or(s.n_heads);
  s.seed = r.seed;
  s.shared_classifier = !r.unshared_classifier;
  return s;
}

void write_llama(const SynthRequest& r, const std::string& out) {
  reject_based_only(r);
  const SynthSpec s = llama_family_spec(r, std::nullopt);
  reject_flags({{"--weight-std", r.weight_std.has_value()},
                {"--alibi-bias-max", r.alibi_bias_max.has_value()}},
               "mpt");
  write_synthetic_llama2c(out, s);
}

void write_mpt(const SynthRequest& r, const std::string& out) {
  reject_based_only(r);
  const SynthSpec s = llama_family_spec(r, 4 * r.d_model.value_or(0));
  SynthOptions o;
  if (r.weight_std) o.weight_std = *r.weight_std;
  if (r.alibi_bias_max) o.alibi_bias_max = *r.alibi_bias_max;
  // (a d_model below 1 is synthetic_mpt's error to report)
  if (s.d_model >= 1 && s.hidden % s.d_model != 0)
    fail("--hidden ", s.hidden, ": MPT's MLP width must be a multiple of --dim ", s.d_model);
  write_hf_dir(out, *synthetic_mpt(s, o));
}

void write_based(const SynthRequest& r, const std::string& out) {
  ModelConfig c = based_preset(r.preset.value_or("tiny"));
  BasedConfig& b = c.based;
  c.d_model = r.d_model.value_or(c.d_model);
  c.n_heads = r.n_heads.value_or(c.n_heads);
  c.n_kv_heads = c.n_heads;
  c.hidden = (r.hidden.value_or(c.hidden) + 255) / 256 * 256;  // spec: n_inner rounded up to 256
  c.vocab_size = r.vocab_size.value_or(c.vocab_size);
  c.ctx_len = r.ctx_len.value_or(c.ctx_len);
  b.feature_dim = r.feature_dim.value_or(b.feature_dim);
  b.linear_heads = r.linear_heads.value_or(b.linear_heads);
  b.window_size = r.window.value_or(b.window_size);
  if (r.n_layers) {
    c.n_layers = *r.n_layers;
    b.linear_layers.clear();
    b.window_layers.clear();
    for (int64_t l = 0; l < c.n_layers; ++l) {
      if (l % 5 == 1) b.linear_layers.push_back(l);
      if (l % 5 == 2) b.window_layers.push_back(l);
    }
  }
  if (c.n_heads < 1 || c.d_model % c.n_heads != 0 || (c.d_model / c.n_heads) % 2 != 0)
    fail("--dim ", c.d_model, " / --heads ", c.n_heads, " must give an even head dim");
  if (b.linear_heads < 1 || c.d_model % b.linear_heads != 0)
    fail("--linear-heads ", b.linear_heads, " must divide --dim ", c.d_model);
  if (r.dtype && *r.dtype != DType::F32 && *r.dtype != DType::BF16 && *r.dtype != DType::F16)
    fail("--dtype: expected f32, bf16 or f16 for a safetensors directory");
  SynthOptions o;
  if (r.weight_std) o.weight_std = *r.weight_std;
  auto m = synthetic_based(c, r.seed, o);
  if (r.dtype) m->convert_matrices(*r.dtype);
  write_hf_dir(out, *m);
}

struct SynthArch {
  const char* name;
  void (*write)(const SynthRequest&, const std::string&);
};

// The one table of architectures: a new one is a row here and its writer above.
constexpr SynthArch kArchs[] = {
    {"llama", write_llama},
    {"mpt", write_mpt},
    {"based", write_based},
};

}  // namespace

const std::vector<std::string>& synth_architectures() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const SynthArch& a : kArchs) v.push_back(a.name);
    return v;
  }();
  return names;
}

void synthesize_model(const SynthRequest& request, const std::string& out) {
  for (const SynthArch& a : kArchs) {
    if (request.arch != a.name) continue;
    if (out.empty()) fail("synth-model: -o is required");
    return a.write(request, out);
  }
  // "llama, mpt or based"
  const auto& names = synth_architectures();
  std::string expected;
  for (size_t i = 0; i < names.size(); ++i)
    expected += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  fail("--arch: expected ", expected, ", got '", request.arch, "'");
}

}  // namespace lc
