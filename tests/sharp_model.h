// Tiny random llama2.c models with sharp attention for whole-model policy tests (the same recipe
// as attention_policy_model_test.cc): q and k projections scaled up so that a wrong key set or
// distance changes the logits far beyond float rounding.
#pragma once
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "formats/llama2c.h"
#include "formats/model_file.h"
#include "model/llama.h"
#include "runtime/session.h"

namespace lc::test {

inline std::string write_sharp_llama2c(const SynthSpec& s, float qk_scale, const char* tag) {
  const std::string p = ::testing::TempDir() + "/longctx_" + tag + "_" +
                        std::to_string(::getpid()) + "_" + std::to_string(s.d_model) + "_" +
                        std::to_string(s.n_kv_heads) + "_" + std::to_string(s.n_layers) + ".bin";
  write_synthetic_llama2c(p, s);
  std::ifstream in(p, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  // llama2.c order: header (7 int32), token_embd [vocab, d], attn_norm [layers, d],
  // attn_q [layers, d, d], attn_k [layers, kv_dim, d], ...
  const int64_t d = s.d_model, kv_dim = d / s.n_heads * s.n_kv_heads;
  const int64_t q_at = 7 + s.vocab_size * d + s.n_layers * d;
  const int64_t n_qk = s.n_layers * d * d + s.n_layers * kv_dim * d;
  float* w = reinterpret_cast<float*>(bytes.data() + 4 * q_at);
  for (int64_t i = 0; i < n_qk; ++i) w[i] *= qk_scale;
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
  return p;
}

struct SharpModel {
  SynthSpec synth;
  const char* name;
};
// d_model, hidden, layers, heads, kv heads, vocab, trained context, seed.
inline const SharpModel kSharpModels[] = {
    {{48, 37, 3, 6, 2, 67, 64, 11, true}, "gqa3_hd8"},
    {{40, 29, 2, 4, 1, 53, 32, 12, false}, "mqa_hd10"},
    {{36, 31, 2, 3, 3, 41, 16, 13, true}, "mha_hd12"},
};

inline std::unique_ptr<ModelFile> load_sharp_model(int model, ops::RopeStyle style,
                                                   const char* tag) {
  auto f = load_model_file(write_sharp_llama2c(kSharpModels[model].synth, 6.0f, tag));
  f->config.rope_style = style;
  return f;
}

inline std::vector<float> session_logits(const LlamaModel& m, const AttentionConfig& c,
                                         const std::vector<int>& toks, int64_t block, int threads,
                                         int64_t ctx = 0) {
  Session s(m, SessionOptions{ctx, threads, block, c});
  std::vector<float> out(toks.size() * m.config().vocab_size);
  s.all_logits(toks.data(), static_cast<int64_t>(toks.size()), out.data());
  return out;
}

}  // namespace lc::test
