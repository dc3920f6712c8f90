// A slow, obvious forward pass of the transformer family (Llama: RMSNorm, RoPE, SwiGLU; MPT:
// LayerNorm without bias, ALiBi, fused Wqkv, exact GELU) whose attention is the dense policy
// reference (attention_dense_reference.h): no cache, no ring, no blocks, no threads, double
// precision. The ALiBi slopes are written out here from MPT's definition, independently of the
// engine's alibi_slopes(). TRAMS scores (trams.md) are recomputed by hand: the reformulated key
// K' = W_Q,h^T k (a d_model vector) per query head, then sum(K')/sqrt(d_model) (paper) or
// |K'| * |sum(K')| (code), the max over a kv head's query heads.
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "attention_dense_reference.h"
#include "formats/model_file.h"
#include "ops/reference.h"

namespace lc::test {

// TRAMS scores [n][n_kv_heads] of layer l's unrotated keys k [n][kv_dim], from K' by hand.
inline std::vector<std::vector<double>> trams_reference_scores(
    const ModelFile& f, int64_t l, const std::vector<std::vector<double>>& k, bool code) {
  const ModelConfig& c = f.config;
  const std::string pre = "blk." + std::to_string(l) + ".";
  const TensorRef* wq = f.find(pre + "attn_q");
  const bool fused = wq == nullptr;  // MPT: the first q_dim rows of attn_qkv
  if (fused) wq = f.find(pre + "attn_qkv");
  const int64_t d = c.d_model, hd = c.head_dim, group = c.n_heads / c.n_kv_heads;
  std::vector<std::vector<double>> out;
  for (const auto& kt : k) {
    std::vector<double> s(c.n_kv_heads, -INFINITY);
    for (int64_t h = 0; h < c.n_heads; ++h) {
      const int64_t g = h / group;
      std::vector<double> kp(d, 0.0);  // K' = W_Q,h^T k_g
      for (int64_t a = 0; a < hd; ++a)
        for (int64_t x = 0; x < d; ++x)
          kp[x] += ops::ref::load(wq->data, wq->dtype, (h * hd + a) * d + x) * kt[g * hd + a];
      double sum = 0, norm2 = 0;
      for (double e : kp) sum += e, norm2 += e * e;
      const double score = code ? std::sqrt(norm2) * std::fabs(sum) : sum / std::sqrt(double(d));
      s[g] = std::max(s[g], score);
    }
    out.push_back(s);
  }
  return out;
}

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
    const double N = static_cast<double>(x.size());
    double mean = 0, ss = 0;
    if (c.norm == NormKind::LayerNorm) {
      for (double e : x) mean += e / N;
      for (double e : x) ss += (e - mean) * (e - mean);
    } else {
      for (double e : x) ss += e * e;
    }
    const double s = 1.0 / std::sqrt(ss / N + c.norm_eps);
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = (x[i] - mean) * s * g[i];
    return y;
  };
  // MPT: slopes 2^(-bias_max (h+1)/H') over the next power of two H', odd-indexed ones first.
  std::vector<double> slopes;
  if (c.position == PositionKind::ALiBi) {
    int64_t p2 = 1;
    while (p2 < c.n_heads) p2 *= 2;
    std::vector<double> all;
    for (int64_t h = 1; h <= p2; ++h) all.push_back(std::pow(2.0, -c.alibi_bias_max * h / p2));
    for (int64_t h = p2 == c.n_heads ? 0 : 1; h < p2; h += p2 == c.n_heads ? 1 : 2)
      slopes.push_back(all[h]);
    for (int64_t h = 0; p2 != c.n_heads && h < p2; h += 2) slopes.push_back(all[h]);
    slopes.resize(c.n_heads);
  }
  // Position scaling: the frequencies of ops::RopeFreqs (checked against transformers by
  // tests/parity/rope_scaling_parity.py and against formulas in rope_test.cc).
  const ops::RopeFreqs freqs(c.head_dim, c.rope_theta, c.rope_scaling);
  const double af = freqs.attention_factor();
  const DenseShape shape{c.n_heads,         c.n_kv_heads, c.head_dim,
                         c.rope_theta,      c.rope_style, slopes.empty() ? nullptr : &slopes,
                         &freqs.inv_freq(), af * af};
  // q, k, v of a normed input: separate matrices, or rows [q | k | v] of a fused one.
  auto project = [&](const std::string& pre, const std::vector<double>& xn, std::vector<double>* q,
                     std::vector<double>* k, std::vector<double>* v) {
    if (const TensorRef* qkv = mat(pre + "attn_qkv")) {
      auto all = matvec(qkv, xn);
      q->assign(all.begin(), all.begin() + c.q_dim());
      k->assign(all.begin() + c.q_dim(), all.begin() + c.q_dim() + c.kv_dim());
      v->assign(all.begin() + c.q_dim() + c.kv_dim(), all.end());
      return;
    }
    *q = matvec(mat(pre + "attn_q"), xn);
    *k = matvec(mat(pre + "attn_k"), xn);
    *v = matvec(mat(pre + "attn_v"), xn);
  };
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
      project(pre, xn, &q[t], &k[t], &v[t]);
      add_bias(q[t], pre + "attn_q.bias");
      add_bias(k[t], pre + "attn_k.bias");
      add_bias(v[t], pre + "attn_v.bias");
    }
    DensePolicy pl = p;
    if (l < p.topk_from_layer) pl.topk = 0;
    std::vector<std::vector<double>> scores;
    if (p.policy == AttnPolicy::Trams || pl.middle_pool > 0) {
      scores = trams_reference_scores(f, l, k, p.score_code);
      pl.scores = &scores;
    }
    auto att = dense_attention(pl, shape, pos, q, k, v);
    for (int64_t t = 0; t < n; ++t) {
      auto o = matvec(mat(pre + "attn_output"), att[t]);
      for (int64_t i = 0; i < d; ++i) x[t][i] += o[i];
      auto xn = rmsnorm(x[t], pre + "ffn_norm");
      auto up = matvec(mat(pre + "ffn_up"), xn);
      if (c.ffn == FfnKind::GELU) {
        for (double& u : up) u = 0.5 * u * std::erfc(-u / std::sqrt(2.0));
      } else {
        auto gate = matvec(mat(pre + "ffn_gate"), xn);
        for (size_t i = 0; i < up.size(); ++i) up[i] *= gate[i] / (1 + std::exp(-gate[i]));
      }
      auto down = matvec(mat(pre + "ffn_down"), up);
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
