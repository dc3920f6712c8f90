// A slow, obvious Llama forward pass over a whole sequence (no cache, no blocks, no threads,
// double accumulation), written from the architecture's definition for the engine's tests.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "formats/model_file.h"
#include "ops/reference.h"

namespace lc::test {

// Returns logits [n, vocab] for tokens at positions 0..n-1.
inline std::vector<float> llama_reference_logits(const ModelFile& f, const std::vector<int>& toks) {
  const ModelConfig& c = f.config;
  const int64_t n = static_cast<int64_t>(toks.size()), d = c.d_model, hd = c.head_dim;
  const int64_t group = c.n_heads / c.n_kv_heads;
  auto mat = [&](const std::string& name) { return f.find(name); };
  auto matvec = [&](const TensorRef* W, const std::vector<double>& x) {
    std::vector<double> y(W->shape[0]);
    for (int64_t r = 0; r < W->shape[0]; ++r) {
      double acc = 0;
      for (int64_t k = 0; k < W->shape[1]; ++k)
        acc += x[k] * ops::ref::load(W->data, W->dtype, r * W->shape[1] + k);
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
    for (double v : x) ss += v * v;
    double s = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + c.norm_eps);
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * s * g[i];
    return y;
  };
  auto rope = [&](std::vector<double>& v, int64_t heads, int64_t pos) {
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < hd / 2; ++i) {
        double ang = static_cast<double>(pos) * std::pow(c.rope_theta, -2.0 * i / hd);
        bool adj = c.rope_style == ops::RopeStyle::AdjacentPairs;
        int64_t a = h * hd + (adj ? 2 * i : i), b = h * hd + (adj ? 2 * i + 1 : i + hd / 2);
        double x0 = v[a], x1 = v[b];
        v[a] = x0 * std::cos(ang) - x1 * std::sin(ang);
        v[b] = x0 * std::sin(ang) + x1 * std::cos(ang);
      }
  };
  std::vector<std::vector<double>> x(n, std::vector<double>(d));
  const TensorRef* emb = mat("token_embd");
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < d; ++i)
      x[t][i] = ops::ref::load(emb->data, emb->dtype, toks[t] * d + i);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    std::string p = "blk." + std::to_string(l) + ".";
    std::vector<std::vector<double>> q(n), k(n), v(n);
    for (int64_t t = 0; t < n; ++t) {
      auto xn = rmsnorm(x[t], p + "attn_norm");
      q[t] = matvec(mat(p + "attn_q"), xn);
      k[t] = matvec(mat(p + "attn_k"), xn);
      v[t] = matvec(mat(p + "attn_v"), xn);
      add_bias(q[t], p + "attn_q.bias");
      add_bias(k[t], p + "attn_k.bias");
      add_bias(v[t], p + "attn_v.bias");
      rope(q[t], c.n_heads, t);
      rope(k[t], c.n_kv_heads, t);
    }
    for (int64_t t = 0; t < n; ++t) {
      std::vector<double> att(c.n_heads * hd, 0.0);
      for (int64_t h = 0; h < c.n_heads; ++h) {
        int64_t g = h / group;
        std::vector<double> w(t + 1);
        double mx = -1e300, sum = 0;
        for (int64_t j = 0; j <= t; ++j) {
          double s = 0;
          for (int64_t i = 0; i < hd; ++i) s += q[t][h * hd + i] * k[j][g * hd + i];
          w[j] = s / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, w[j]);
        }
        for (auto& e : w) sum += (e = std::exp(e - mx));
        for (int64_t j = 0; j <= t; ++j)
          for (int64_t i = 0; i < hd; ++i) att[h * hd + i] += w[j] / sum * v[j][g * hd + i];
      }
      auto o = matvec(mat(p + "attn_output"), att);
      for (int64_t i = 0; i < d; ++i) x[t][i] += o[i];
      auto xn = rmsnorm(x[t], p + "ffn_norm");
      auto gate = matvec(mat(p + "ffn_gate"), xn), up = matvec(mat(p + "ffn_up"), xn);
      for (size_t i = 0; i < gate.size(); ++i) gate[i] = gate[i] / (1 + std::exp(-gate[i])) * up[i];
      auto down = matvec(mat(p + "ffn_down"), gate);
      for (int64_t i = 0; i < d; ++i) x[t][i] += down[i];
    }
  }
  const TensorRef* cls = c.tied_embeddings ? emb : mat("output");
  std::vector<float> out;
  for (int64_t t = 0; t < n; ++t) {
    auto y = matvec(cls, rmsnorm(x[t], "output_norm"));
    for (double e : y) out.push_back(static_cast<float>(e));
  }
  return out;
}

}  // namespace lc::test
