// A slow, obvious Llama forward pass whose attention is the dense policy reference
// (attention_dense_reference.h): no cache, no ring, no blocks, no threads, double precision.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "attention_dense_reference.h"
#include "formats/model_file.h"
#include "ops/reference.h"

namespace lc::test {

// Logits [n, vocab] for tokens at positions 0..n-1 under policy p.
inline std::vector<float> llama_policy_reference_logits(const ModelFile& f,
                                                        const std::vector<int>& toks,
                                                        const DensePolicy& p) {
  const ModelConfig& c = f.config;
  const int64_t n = static_cast<int64_t>(toks.size()), d = c.d_model;
  auto mat = [&](const std::string& name) { return f.find(name); };
  auto matvec = [&](const TensorRef* W, const std::vector<double>& x) {
    std::vector<double> y(W->shape[0]);
    for (int64_t r = 0; r < W->shape[0]; ++r) {
      double acc = 0;
      for (int64_t i = 0; i < W->shape[1]; ++i)
        acc += x[i] * ops::ref::load(W->data, W->dtype, r * W->shape[1] + i);
      y[r] = acc;
    }
    return y;
  };
  auto add_bias = [&](std::vector<double>& y, const std::string& name) {  // Qwen2
    if (const TensorRef* b = mat(name))
      for (size_t i = 0; i < y.size(); ++i) y[i] += ops::ref::load(b->data, b->dtype, i);
  };
  auto rmsnorm = [&](const std::vector<double>& x, const std::string& w) {
    const float* g = static_cast<const float*>(mat(w)->data);
    double ss = 0;
    for (double e : x) ss += e * e;
    const double s = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + c.norm_eps);
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * s * g[i];
    return y;
  };
  const DenseShape shape{c.n_heads, c.n_kv_heads, c.head_dim, c.rope_theta, c.rope_style, nullptr};
  std::vector<int64_t> pos(n);
  for (int64_t t = 0; t < n; ++t) pos[t] = t;

  std::vector<std::vector<double>> x(n, std::vector<double>(d));
  const TensorRef* emb = mat("token_embd");
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < d; ++i)
      x[t][i] = ops::ref::load(emb->data, emb->dtype, toks[t] * d + i);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string pre = "blk." + std::to_string(l) + ".";
    std::vector<std::vector<double>> q(n), k(n), v(n);
    for (int64_t t = 0; t < n; ++t) {
      auto xn = rmsnorm(x[t], pre + "attn_norm");
      q[t] = matvec(mat(pre + "attn_q"), xn);
      k[t] = matvec(mat(pre + "attn_k"), xn);
      v[t] = matvec(mat(pre + "attn_v"), xn);
      add_bias(q[t], pre + "attn_q.bias");
      add_bias(k[t], pre + "attn_k.bias");
      add_bias(v[t], pre + "attn_v.bias");
    }
    auto att = dense_attention(p, shape, pos, q, k, v);
    for (int64_t t = 0; t < n; ++t) {
      auto o = matvec(mat(pre + "attn_output"), att[t]);
      for (int64_t i = 0; i < d; ++i) x[t][i] += o[i];
      auto xn = rmsnorm(x[t], pre + "ffn_norm");
      auto gate = matvec(mat(pre + "ffn_gate"), xn), up = matvec(mat(pre + "ffn_up"), xn);
      for (size_t i = 0; i < gate.size(); ++i) gate[i] = gate[i] / (1 + std::exp(-gate[i])) * up[i];
      auto down = matvec(mat(pre + "ffn_down"), gate);
      for (int64_t i = 0; i < d; ++i) x[t][i] += down[i];
    }
  }
  const TensorRef* cls = c.tied_embeddings ? emb : mat("output");
  std::vector<float> out;
  for (int64_t t = 0; t < n; ++t)
    for (double e : matvec(cls, rmsnorm(x[t], "output_norm"))) out.push_back(static_cast<float>(e));
  return out;
}

}  // namespace lc::test
