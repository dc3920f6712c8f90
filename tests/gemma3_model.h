// A tiny random Gemma 3 model in memory, and a slow, obvious forward pass of it written from
// transformers' Gemma3ForCausalLM (no engine code beyond ops::ref::load for reading weights): the
// embedding times sqrt(d_model), RMSNorm with the canonical factor (HF's 1 + w), q/k RMSNorm per
// head before RoPE, the attention output and MLP output normed before their residual adds, GeGLU
// with tanh-approximate GELU, logits scaled by query_pre_attn_scalar^-1/2, local layers in a
// sliding window with their own RoPE base, global layers under a dense policy reference
// (attention_dense_reference.h) with the global base and linear scaling, tied classifier, final
// softcapping. Double precision throughout.
#pragma once
#include <cmath>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include "attention_dense_reference.h"
#include "core/rng.h"
#include "formats/model_file.h"
#include "formats/synthetic.h"
#include "ops/reference.h"

namespace lc::test {

struct Gemma3Spec {
  int64_t d_model = 32, hidden = 40, n_layers = 4, n_heads = 4, n_kv_heads = 2, head_dim = 8;
  int64_t vocab = 50, ctx = 128, window = 6;
  std::vector<bool> local = {true, true, false, true};
  double query_pre_attn_scalar = 5.0;
  double rope_theta = 1e6, rope_local_theta = 1e4;
  double linear_factor = 1.0;  // > 1: linear position scaling on the global layers
  double softcap = 0.0;
  bool tied = true;
  uint64_t seed = 5;
};

inline std::unique_ptr<ModelFile> gemma3_model(const Gemma3Spec& s) {
  auto m = std::make_unique<ModelFile>();
  m->path = "gemma3-test";
  ModelConfig& c = m->config;
  c.arch = Arch::Gemma3;
  c.ffn = FfnKind::GeGLU;
  c.qk_norm = c.post_norms = c.embed_scale = true;
  c.d_model = s.d_model;
  c.hidden = s.hidden;
  c.n_layers = s.n_layers;
  c.n_heads = s.n_heads;
  c.n_kv_heads = s.n_kv_heads;
  c.head_dim = s.head_dim;
  c.vocab_size = s.vocab;
  c.ctx_len = s.ctx;
  c.norm_eps = 1e-6f;
  c.rope_theta = s.rope_theta;
  c.rope_local_theta = s.rope_local_theta;
  if (s.linear_factor != 1.0) {
    c.rope_scaling.type = ops::RopeScaling::Type::Linear;
    c.rope_scaling.factor = s.linear_factor;
  }
  c.rope_style = ops::RopeStyle::RotateHalf;
  c.tied_embeddings = s.tied;
  c.sliding_window = s.window;
  c.local_layers = s.local;
  c.query_pre_attn_scalar = s.query_pre_attn_scalar;
  c.final_logit_softcap = s.softcap;
  c.bos_id = 2;
  c.eos_id = 1;
  Rng r(s.seed);
  const int64_t d = s.d_model, q = s.n_heads * s.head_dim, kv = s.n_kv_heads * s.head_dim;
  add_random_tensor(*m, "token_embd", {s.vocab, d}, r, 0.5f);
  if (!s.tied) add_random_tensor(*m, "output", {s.vocab, d}, r, 0.3f);
  add_random_tensor(*m, "output_norm", {d}, r, 0.3f, 1.0f);
  for (int64_t l = 0; l < s.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add_random_tensor(*m, p + "attn_norm", {d}, r, 0.3f, 1.0f);
    add_random_tensor(*m, p + "attn_q", {q, d}, r, 0.3f);
    add_random_tensor(*m, p + "attn_k", {kv, d}, r, 0.3f);
    add_random_tensor(*m, p + "attn_v", {kv, d}, r, 0.3f);
    // Large q/k norm factors make attention sharp: a wrong key set or distance shows.
    add_random_tensor(*m, p + "attn_q_norm", {s.head_dim}, r, 0.5f, 3.0f);
    add_random_tensor(*m, p + "attn_k_norm", {s.head_dim}, r, 0.5f, 3.0f);
    add_random_tensor(*m, p + "attn_output", {d, q}, r, 0.3f);
    add_random_tensor(*m, p + "post_attention_norm", {d}, r, 0.3f, 1.0f);
    add_random_tensor(*m, p + "ffn_norm", {d}, r, 0.3f, 1.0f);
    add_random_tensor(*m, p + "ffn_gate", {s.hidden, d}, r, 0.3f);
    add_random_tensor(*m, p + "ffn_up", {s.hidden, d}, r, 0.3f);
    add_random_tensor(*m, p + "ffn_down", {d, s.hidden}, r, 0.3f);
    add_random_tensor(*m, p + "post_ffw_norm", {d}, r, 0.3f, 1.0f);
  }
  return m;
}

// Logits [n, vocab] for tokens at positions 0..n-1: local layers attend within the config's
// window (whatever `global` says), global layers under `global`. local_as_global: the control
// that ignores the local layers' window and RoPE base.
inline std::vector<float> gemma3_reference_logits(const ModelFile& f, const std::vector<int>& toks,
                                                  const DensePolicy& global,
                                                  bool local_as_global = false) {
  const ModelConfig& c = f.config;
  const int64_t n = static_cast<int64_t>(toks.size()), d = c.d_model, hd = c.head_dim;
  auto W = [&](const std::string& name) { return f.find(name); };
  auto matvec = [&](const TensorRef* w, const std::vector<double>& x) {
    std::vector<double> y(w->shape[0]);
    for (int64_t r = 0; r < w->shape[0]; ++r) {
      double acc = 0;
      for (int64_t i = 0; i < w->shape[1]; ++i)
        acc += x[i] * ops::ref::load(w->data, w->dtype, r * w->shape[1] + i);
      y[r] = acc;
    }
    return y;
  };
  // x / sqrt(mean(x^2) + eps) * factor, over [off, off + len) of x.
  auto rmsnorm = [&](std::vector<double> x, const std::string& w, int64_t off, int64_t len) {
    const float* g = static_cast<const float*>(W(w)->data);
    double ss = 0;
    for (int64_t i = 0; i < len; ++i) ss += x[off + i] * x[off + i];
    const double s = 1.0 / std::sqrt(ss / static_cast<double>(len) + c.norm_eps);
    for (int64_t i = 0; i < len; ++i) x[off + i] *= s * g[i];
    return x;
  };
  auto norm = [&](const std::vector<double>& x, const std::string& w) {
    return rmsnorm(x, w, 0, static_cast<int64_t>(x.size()));
  };
  auto inv_freq = [&](double theta, double factor) {
    std::vector<double> f(static_cast<size_t>(hd / 2));
    for (int64_t i = 0; i < hd / 2; ++i)
      f[i] = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(hd)) / factor;
    return f;
  };
  const double factor =
      c.rope_scaling.type == ops::RopeScaling::Type::Linear ? c.rope_scaling.factor : 1.0;
  const std::vector<double> f_global = inv_freq(c.rope_theta, factor),
                            f_local = inv_freq(c.rope_local_theta, 1.0);
  const double qpas = c.query_pre_attn_scalar > 0 ? c.query_pre_attn_scalar : double(hd);
  // The dense reference divides by sqrt(head_dim); Gemma divides by sqrt(query_pre_attn_scalar).
  const double logit_scale = std::sqrt(static_cast<double>(hd) / qpas);
  std::vector<int64_t> pos(n);
  for (int64_t t = 0; t < n; ++t) pos[t] = t;

  const TensorRef* emb = W("token_embd");
  std::vector<std::vector<double>> x(n, std::vector<double>(d));
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < d; ++i)
      x[t][i] = ops::ref::load(emb->data, emb->dtype, toks[t] * d + i) *
                static_cast<double>(std::sqrt(static_cast<float>(d)));
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const bool local = c.is_local_layer(l) && !local_as_global;
    std::vector<std::vector<double>> q(n), k(n), v(n);
    for (int64_t t = 0; t < n; ++t) {
      const auto xn = norm(x[t], p + "attn_norm");
      q[t] = matvec(W(p + "attn_q"), xn);
      k[t] = matvec(W(p + "attn_k"), xn);
      v[t] = matvec(W(p + "attn_v"), xn);
      for (int64_t h = 0; h < c.n_heads; ++h) q[t] = rmsnorm(q[t], p + "attn_q_norm", h * hd, hd);
      for (int64_t h = 0; h < c.n_kv_heads; ++h)
        k[t] = rmsnorm(k[t], p + "attn_k_norm", h * hd, hd);
    }
    DensePolicy pl = global;
    if (local) {
      pl = DensePolicy{};
      pl.policy = AttnPolicy::Window;
      pl.window = c.sliding_window;
    }
    const DenseShape shape{
        c.n_heads,  c.n_kv_heads, hd, 0.0, c.rope_style, nullptr, local ? &f_local : &f_global,
        logit_scale};
    const auto att = dense_attention(pl, shape, pos, q, k, v);
    for (int64_t t = 0; t < n; ++t) {
      const auto o = norm(matvec(W(p + "attn_output"), att[t]), p + "post_attention_norm");
      for (int64_t i = 0; i < d; ++i) x[t][i] += o[i];
      const auto xn = norm(x[t], p + "ffn_norm");
      const auto gate = matvec(W(p + "ffn_gate"), xn);
      auto up = matvec(W(p + "ffn_up"), xn);
      const double k0 = std::sqrt(2.0 / std::numbers::pi);
      for (size_t i = 0; i < up.size(); ++i) {
        const double g = gate[i];
        up[i] *= 0.5 * g * (1.0 + std::tanh(k0 * (g + 0.044715 * g * g * g)));
      }
      const auto down = norm(matvec(W(p + "ffn_down"), up), p + "post_ffw_norm");
      for (int64_t i = 0; i < d; ++i) x[t][i] += down[i];
    }
  }
  const TensorRef* cls = c.tied_embeddings ? emb : W("output");
  std::vector<float> out;
  for (int64_t t = 0; t < n; ++t)
    for (double e : matvec(cls, norm(x[t], "output_norm"))) {
      if (c.final_logit_softcap > 0)
        e = c.final_logit_softcap * std::tanh(e / c.final_logit_softcap);
      out.push_back(static_cast<float>(e));
    }
  return out;
}

}  // namespace lc::test
