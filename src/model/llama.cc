#include "model/llama.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "core/error.h"
#include "core/thread_pool.h"
#include "ops/quant/dequant.h"

namespace lc {

namespace {

ops::WeightView view(const TensorRef& t) {
  return ops::WeightView{t.dtype, t.data, t.shape[0], t.shape[1]};
}

const float* f32_vector(const ModelFile& f, const std::string& name, int64_t n) {
  const TensorRef& t = f.get(name, {n});
  if (t.dtype != DType::F32) fail(f.path, ": tensor '", name, "' must be f32");
  return static_cast<const float*>(t.data);
}

// Rows [row0, row0 + rows) of a matrix, in place (the q, k, v parts of a fused Wqkv).
ops::WeightView row_slice(const ops::WeightView& w, int64_t row0, int64_t rows) {
  const auto* base = static_cast<const uint8_t*>(w.data);
  return ops::WeightView{w.dtype, base + dtype_bytes(w.dtype, row0 * w.cols), rows, w.cols};
}

void add_bias(float* y, const float* b, int64_t n) {
  for (int64_t j = 0; j < n; ++j) y[j] += b[j];
}

}  // namespace

std::vector<float> alibi_slopes(int64_t n_heads, double bias_max) {
  int64_t p2 = 1;
  while (p2 < n_heads) p2 *= 2;
  std::vector<float> m(static_cast<size_t>(p2));
  for (int64_t h = 0; h < p2; ++h)
    m[h] = static_cast<float>(
        std::pow(2.0, -bias_max * static_cast<double>(h + 1) / static_cast<double>(p2)));
  if (p2 == n_heads) return m;
  std::vector<float> out;
  for (int64_t h = 1; h < p2; h += 2) out.push_back(m[h]);
  for (int64_t h = 0; h < p2; h += 2) out.push_back(m[h]);
  out.resize(static_cast<size_t>(n_heads));
  return out;
}

Workspace::Workspace(const ModelConfig& c, int64_t max_tokens_, const AttentionPolicy& policy,
                     int n_threads)
    : Workspace(c, max_tokens_, std::span<const AttentionPolicy* const>(std::array{&policy}),
                n_threads) {}

Workspace::Workspace(const ModelConfig& c, int64_t max_tokens_,
                     std::span<const AttentionPolicy* const> group_policies, int n_threads)
    : max_tokens(max_tokens_),
      x(max_tokens_ * c.d_model),
      xb(max_tokens_ * c.d_model),
      q(max_tokens_ * c.q_dim()),
      k(max_tokens_ * c.kv_dim()),
      v(max_tokens_ * c.kv_dim()),
      att(max_tokens_ * c.q_dim()),
      proj(max_tokens_ * c.d_model),
      gate(max_tokens_ * c.hidden),
      up(max_tokens_ * c.hidden) {
  for (const AttentionPolicy* p : group_policies) {
    attention.emplace_back(c.n_heads, c.n_kv_heads, c.head_dim, max_tokens_, p->geometry().slots(),
                           p, n_threads);
    seq_rows.emplace_back(static_cast<size_t>(max_tokens_));
  }
  for (const auto& rows : seq_rows) seq_plans.push_back(rows.data());
}

size_t Workspace::bytes() const {
  size_t b = x.bytes() + xb.bytes() + q.bytes() + k.bytes() + v.bytes() + att.bytes() +
             proj.bytes() + gate.bytes() + up.bytes();
  for (const BlockAttention& a : attention) b += a.bytes();
  for (const auto& rows : seq_rows) b += rows.capacity() * sizeof(SeqRows);
  return b;
}

LlamaState::LlamaState(const ModelConfig& c, std::unique_ptr<AttentionPolicy> policy,
                       int64_t block_tokens)
    : LlamaState(
          c,
          [&] {
            std::vector<std::unique_ptr<AttentionPolicy>> v;
            v.push_back(std::move(policy));
            return v;
          }(),
          {c.n_layers}, block_tokens) {}

LlamaState::LlamaState(const ModelConfig& c, std::vector<std::unique_ptr<AttentionPolicy>> policies,
                       const std::vector<int64_t>& group_layers, int64_t block_tokens) {
  check(!policies.empty() && policies.size() == group_layers.size(),
        "LlamaState: one policy per layer group");
  max_block_ = std::max<int64_t>(1, block_tokens);
  for (size_t g = 0; g < policies.size(); ++g) {
    const CacheGeometry& geo = policies[g]->geometry();
    max_block_ = std::min(max_block_, policies[g]->max_block());
    label_ += (g == 0 ? "" : "+local:") + policies[g]->label();
    groups_.push_back(
        Group{std::move(policies[g]), KvCache(group_layers[g], c.n_kv_heads, c.head_dim, geo)});
  }
}

int64_t LlamaState::capacity() const {
  int64_t cap = std::numeric_limits<int64_t>::max();
  for (const Group& g : groups_) cap = std::min(cap, g.cache.geometry().max_positions());
  return cap;
}

size_t LlamaState::bytes() const {
  size_t b = 0;
  for (const Group& g : groups_) b += g.cache.bytes();
  return b;
}

int64_t LlamaState::kv_bytes_per_token() const {
  int64_t n = 0;
  for (const Group& g : groups_) n += g.cache.bytes_per_position();
  return n;
}

int64_t LlamaState::cache_slots() const {
  int64_t n = 0;
  for (const Group& g : groups_) n += g.cache.capacity();
  return n;
}

void LlamaState::fill_random(int64_t n, uint64_t seed) {
  reset();
  check(n >= 0 && n < capacity(), "fill: ", n, " positions do not fit the context of ", capacity(),
        " tokens (raise --ctx)");
  for (size_t g = 0; g < groups_.size(); ++g) groups_[g].cache.fill_random(n, seed + g);
  pos_ = n;
}

std::unique_ptr<AttentionPolicy> LlamaModel::make_policy_for(const StateOptions& opt,
                                                             int64_t group) const {
  check(group >= 0 && group < groups(), "attention: no layer group ", group);
  PolicyContext pc;
  pc.trained_ctx = cfg_.ctx_len;
  pc.ctx = opt.ctx > 0 ? opt.ctx : cfg_.ctx_len;
  pc.block_tokens = std::max<int64_t>(1, opt.block_tokens);
  // Local layers keep the window they were trained with, whatever the session asks; the global
  // layers of a model with local ones were trained without a window.
  if (groups_[group].local) {
    auto local = make_window_policy(cfg_.sliding_window, pc.block_tokens);
    local->set_kv_types(opt.attn.k_type, opt.attn.v_type);
    return local;
  }
  pc.model_window = cfg_.local_layers.empty() ? cfg_.sliding_window : 0;
  return make_policy(opt.attn, pc);
}

std::unique_ptr<SequenceState> LlamaModel::new_state(const StateOptions& opt, int) const {
  std::vector<std::unique_ptr<AttentionPolicy>> policies;
  std::vector<int64_t> layers;
  for (int64_t g = 0; g < groups(); ++g) {
    policies.push_back(make_policy_for(opt, g));
    layers.push_back(static_cast<int64_t>(groups_[g].layers.size()));
  }
  auto st = std::make_unique<LlamaState>(cfg_, std::move(policies), layers, opt.block_tokens);
  // An unbounded top-k middle store grows by one chunk every MiddleStore::kChunk tokens; with an
  // explicit context it is allocated up front instead, so that decoding allocates nothing.
  if (opt.ctx > 0)
    for (int64_t g = 0; g < groups(); ++g) st->cache(g).middle().reserve(opt.ctx);
  return st;
}

std::unique_ptr<ForwardScratch> LlamaModel::new_scratch(const StateOptions& opt, int64_t rows,
                                                        int n_threads) const {
  std::vector<std::unique_ptr<AttentionPolicy>> owned;
  std::vector<const AttentionPolicy*> policies;
  for (int64_t g = 0; g < groups(); ++g) {
    owned.push_back(make_policy_for(opt, g));
    policies.push_back(owned.back().get());
  }
  return std::make_unique<Workspace>(cfg_, std::max<int64_t>(1, rows), policies, n_threads);
}

void LlamaModel::forward(ThreadPool& pool, ForwardScratch& scratch, const SeqBlock* seqs,
                         int64_t n_seqs, const int* tokens, float* logits, bool all_logits) const {
  auto* ws = dynamic_cast<Workspace*>(&scratch);
  check(ws != nullptr, "forward: the scratch was not made by a Llama-family model");
  check(static_cast<int64_t>(ws->attention.size()) == groups(),
        "forward: the scratch was made for another model (", ws->attention.size(),
        " layer groups, expected ", groups(), ")");
  check(n_seqs >= 1 && n_seqs <= ws->max_tokens, "forward: ", n_seqs,
        " sequences exceed the scratch's ", ws->max_tokens, " rows");
  int64_t row = 0;
  for (int64_t s = 0; s < n_seqs; ++s) {
    auto* st = dynamic_cast<LlamaState*>(seqs[s].state);
    check(st != nullptr, "forward: sequence ", s, " is not a Llama-family state");
    check(st->groups() == groups(), "forward: sequence ", s, " was made for another model");
    for (int64_t g = 0; g < groups(); ++g) {
      const AttentionPolicy& P = st->policy(g);
      check(ws->attention[g].fits(P, pool.size()),
            "forward: the scratch was made for a smaller attention policy than ", P.label());
      ws->seq_rows[g][s] = SeqRows{&st->cache(g), row, seqs[s].n, st->pos_, &P};
    }
    row += seqs[s].n;
  }
  forward_rows(pool, *ws, ws->seq_plans.data(), n_seqs, tokens, logits, all_logits);
  for (int64_t s = 0; s < n_seqs; ++s) static_cast<LlamaState*>(seqs[s].state)->pos_ += seqs[s].n;
}

LlamaModel::LlamaModel(const ModelFile& f) : cfg_(f.config) {
  const ModelConfig& c = cfg_;
  check(c.n_kv_heads > 0 && c.n_heads % c.n_kv_heads == 0, f.path, ": n_heads ", c.n_heads,
        " must be a multiple of n_kv_heads ", c.n_kv_heads);
  check(c.head_dim > 0 && c.head_dim % 2 == 0, f.path, ": head_dim ", c.head_dim, " must be even");
  check(c.local_layers.empty() || static_cast<int64_t>(c.local_layers.size()) == c.n_layers, f.path,
        ": ", c.local_layers.size(), " local/global layer flags for ", c.n_layers, " layers");
  check(c.local_layers.empty() || c.sliding_window > 0, f.path,
        ": local layers are marked but the sliding window is ", c.sliding_window);
  check(c.local_layers.empty() || c.position == PositionKind::RoPE, f.path,
        ": local/global layers need RoPE");
  tok_embd_ = view(f.get("token_embd", {c.vocab_size, c.d_model}));
  classifier_ = c.tied_embeddings ? tok_embd_ : view(f.get("output", {c.vocab_size, c.d_model}));
  output_norm_ = f32_vector(f, "output_norm", c.d_model);
  // A tensor the config does not use would be silently ignored: refuse it by name instead.
  auto refuse = [&](const std::string& name, const char* why) {
    if (f.find(name)) fail(f.path, ": tensor '", name, "' is present but ", why);
  };
  for (int64_t l = 0; l < c.n_layers; ++l) {
    std::string p = "blk." + std::to_string(l) + ".";
    LlamaLayer L;
    L.attn_norm = f32_vector(f, p + "attn_norm", c.d_model);
    L.ffn_norm = f32_vector(f, p + "ffn_norm", c.d_model);
    if (f.find(p + "attn_qkv")) {  // fused [q | k | v] rows (MPT's Wqkv)
      const ops::WeightView qkv =
          view(f.get(p + "attn_qkv", {c.q_dim() + 2 * c.kv_dim(), c.d_model}));
      L.wq = row_slice(qkv, 0, c.q_dim());
      L.wk = row_slice(qkv, c.q_dim(), c.kv_dim());
      L.wv = row_slice(qkv, c.q_dim() + c.kv_dim(), c.kv_dim());
    } else {
      L.wq = view(f.get(p + "attn_q", {c.q_dim(), c.d_model}));
      L.wk = view(f.get(p + "attn_k", {c.kv_dim(), c.d_model}));
      L.wv = view(f.get(p + "attn_v", {c.kv_dim(), c.d_model}));
    }
    L.wo = view(f.get(p + "attn_output", {c.d_model, c.q_dim()}));
    if (c.ffn != FfnKind::GELU)
      L.w_gate = view(f.get(p + "ffn_gate", {c.hidden, c.d_model}));
    else
      refuse(p + "ffn_gate", "the MLP is GELU (no gate)");
    L.w_up = view(f.get(p + "ffn_up", {c.hidden, c.d_model}));
    L.w_down = view(f.get(p + "ffn_down", {c.d_model, c.hidden}));
    if (c.qkv_bias) {
      L.bq = f32_vector(f, p + "attn_q.bias", c.q_dim());
      L.bk = f32_vector(f, p + "attn_k.bias", c.kv_dim());
      L.bv = f32_vector(f, p + "attn_v.bias", c.kv_dim());
    } else {
      for (const char* b : {"attn_q.bias", "attn_k.bias", "attn_v.bias"})
        refuse(p + b, "the config has no q/k/v bias");
    }
    if (c.qk_norm) {
      L.q_norm = f32_vector(f, p + "attn_q_norm", c.head_dim);
      L.k_norm = f32_vector(f, p + "attn_k_norm", c.head_dim);
    } else {
      refuse(p + "attn_q_norm", "the config has no q/k norm");
      refuse(p + "attn_k_norm", "the config has no q/k norm");
    }
    if (c.post_norms) {
      L.post_attn_norm = f32_vector(f, p + "post_attention_norm", c.d_model);
      L.post_ffn_norm = f32_vector(f, p + "post_ffw_norm", c.d_model);
    } else {
      refuse(p + "post_attention_norm", "the config has no post-sub-layer norms");
      refuse(p + "post_ffw_norm", "the config has no post-sub-layer norms");
    }
    layers_.push_back(L);
  }
  if (c.position == PositionKind::ALiBi) {
    check(c.alibi_bias_max > 0 && c.alibi_bias_max <= 64, f.path, ": alibi_bias_max ",
          c.alibi_bias_max, " is out of range (0, 64]");
    alibi_slopes_ = alibi_slopes(c.n_heads, c.alibi_bias_max);
  }
  // Layer groups: the global layers (every layer of most models), then the local ones.
  check(c.query_pre_attn_scalar >= 0, f.path, ": query_pre_attn_scalar ", c.query_pre_attn_scalar,
        " must be > 0");
  const double query_scale =
      c.query_pre_attn_scalar > 0
          ? std::sqrt(static_cast<double>(c.head_dim) / c.query_pre_attn_scalar)
          : 1.0;
  layer_group_.assign(static_cast<size_t>(c.n_layers), 0);
  layer_index_.assign(static_cast<size_t>(c.n_layers), 0);
  for (bool local : {false, true}) {
    LayerGroup G;
    G.local = local;
    for (int64_t l = 0; l < c.n_layers; ++l)
      if (c.is_local_layer(l) == local) G.layers.push_back(l);
    if (G.layers.empty()) continue;
    if (c.position == PositionKind::RoPE) {
      // Local layers: their own base, no position scaling (Gemma 3 scales global layers only).
      ops::RopeScaling scaling = local ? ops::RopeScaling{} : c.rope_scaling;
      if (!local && f.find("rope_freqs")) {  // llama.cpp's Llama 3 files: inv_freq[i] /= factor
        const float* ff = f32_vector(f, "rope_freqs", c.head_dim / 2);
        scaling.freq_factors.assign(ff, ff + c.head_dim / 2);
      }
      G.rope = ops::RopeFreqs(c.head_dim, local ? c.rope_local_theta : c.rope_theta, scaling);
    }
    const double af = G.rope.attention_factor();
    G.q_scale = static_cast<float>(af * af * query_scale);
    std::vector<ops::WeightView> wq;
    for (int64_t l : G.layers) {
      layer_group_[l] = static_cast<int64_t>(groups_.size());
      layer_index_[l] = static_cast<int64_t>(wq.size());
      wq.push_back(layers_[l].wq);
    }
    G.trams = TramsWeights(std::move(wq), c.n_heads, c.head_dim);
    groups_.push_back(std::move(G));
  }
  check(!groups_.empty(), f.path, ": the model has no layers");
  check(groups_[0].local == false || groups_.size() == 1, f.path, ": internal error: group order");
  if (c.embed_scale) embed_scale_ = static_cast<float>(std::sqrt(static_cast<double>(c.d_model)));
  check(c.final_logit_softcap >= 0, f.path, ": final_logit_softcapping ", c.final_logit_softcap,
        " must be > 0");
}

void LlamaModel::norm(const float* x, const float* w, float* y) const {
  if (cfg_.norm == NormKind::RMSNorm)
    ops::kernels().rmsnorm(x, w, y, cfg_.d_model, cfg_.norm_eps);
  else
    ops::layernorm(x, w, y, cfg_.d_model, cfg_.norm_eps);
}

void LlamaModel::embed(const int* tokens, int64_t n, float* x) const {
  for (int64_t i = 0; i < n; ++i) {
    int tok = tokens[i];
    check(tok >= 0 && tok < cfg_.vocab_size, "token id ", tok, " is out of range [0, ",
          cfg_.vocab_size, ")");
    const void* row = tok_embd_.row(tok);
    float* dst = x + i * cfg_.d_model;
    ops::quant::dequantize_row(tok_embd_.dtype, row, dst, cfg_.d_model);
    if (embed_scale_ != 1.0f)
      for (int64_t j = 0; j < cfg_.d_model; ++j) dst[j] *= embed_scale_;
  }
}

void LlamaModel::head_norm(float* x, int64_t n, int64_t heads, const float* w) const {
  const ops::KernelTable& K = ops::kernels();
  for (int64_t h = 0; h < n * heads; ++h)
    K.rmsnorm(x + h * cfg_.head_dim, w, x + h * cfg_.head_dim, cfg_.head_dim, cfg_.norm_eps);
}

void LlamaModel::forward(ThreadPool& pool, Workspace& ws, KvCache& cache,
                         const AttentionPolicy& policy, const int* tokens, int64_t n, int64_t pos0,
                         float* logits, bool all_logits) const {
  check(groups() == 1, "forward: a model with ", groups(), " layer groups needs a LlamaState");
  const SeqRows one{&cache, 0, n, pos0, &policy};
  const SeqRows* plan = &one;
  forward_rows(pool, ws, &plan, 1, tokens, logits, all_logits);
}

void LlamaModel::forward_rows(ThreadPool& pool, Workspace& ws, const SeqRows* const* seqs,
                              int64_t n_seqs, const int* tokens, float* logits,
                              bool all_logits) const {
  const ModelConfig& c = cfg_;
  const ops::KernelTable& K = ops::kernels();
  check(n_seqs >= 1, "forward: no sequences");
  check(static_cast<int64_t>(ws.attention.size()) == groups(),
        "forward: the workspace was made for ", ws.attention.size(), " layer groups, expected ",
        groups());
  int64_t n = 0;  // rows over all sequences
  for (int64_t g = 0; g < groups(); ++g) {
    const AttentionPolicy& policy = *seqs[g][0].policy;
    int64_t rows = 0;
    for (int64_t s = 0; s < n_seqs; ++s) {
      const SeqRows& sq = seqs[g][s];
      const AttentionPolicy& P = *sq.policy;
      check(sq.row0 == rows, "forward: sequence ", s, " starts at row ", sq.row0, ", expected ",
            rows);
      check(g == 0 || (sq.n == seqs[0][s].n && sq.pos0 == seqs[0][s].pos0),
            "forward: the layer groups' plans of sequence ", s, " disagree");
      check(&P == &policy || P.label() == policy.label(),
            "forward: the sequences of one forward "
            "must share one attention policy (",
            P.label(), " vs ", policy.label(), ")");
      check(sq.n >= 1 && sq.n <= P.max_block(), "forward: block of ", sq.n,
            " tokens exceeds the policy's block (", P.max_block(), ")");
      check(sq.pos0 >= 0 && sq.pos0 + sq.n <= sq.cache->geometry().max_positions(),
            "context full: position ", sq.pos0 + sq.n - 1, " is beyond the cache capacity ",
            sq.cache->geometry().max_positions(), " (raise --ctx)");
      rows += sq.n;
    }
    n = rows;
  }
  check(n <= ws.max_tokens, "forward: block of ", n, " tokens exceeds the workspace (",
        ws.max_tokens, ")");
  const int64_t dim = c.d_model, q_dim = c.q_dim(), kv_dim = c.kv_dim();
  const bool alibi = c.position == PositionKind::ALiBi;
  for (int64_t g = 0; g < groups(); ++g)
    ws.attention[g].begin(
        AttentionShape{c.n_heads, c.n_kv_heads, c.head_dim, alibi ? alibi_slopes_.data() : nullptr,
                       &groups_[g].rope, c.rope_style},
        seqs[g], n_seqs);

  embed(tokens, n, ws.x.data());
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const LlamaLayer& L = layers_[l];
    const LayerGroup& G = groups_[layer_group_[l]];
    // Attention sub-layer.
    for (int64_t i = 0; i < n; ++i)
      norm(ws.x.data() + i * dim, L.attn_norm, ws.xb.data() + i * dim);
    const ops::MatmulJob qkv[3] = {
        {&L.wq, ws.q.data()}, {&L.wk, ws.k.data()}, {&L.wv, ws.v.data()}};
    ops::matmul_shared(pool, qkv, 3, ws.xb.data(), n);
    if (L.bq) {  // biases go on before RoPE (and before any copy of the unrotated key)
      for (int64_t i = 0; i < n; ++i) {
        add_bias(ws.q.data() + i * q_dim, L.bq, q_dim);
        add_bias(ws.k.data() + i * kv_dim, L.bk, kv_dim);
        add_bias(ws.v.data() + i * kv_dim, L.bv, kv_dim);
      }
    }
    if (L.q_norm) {  // Gemma 3: every head of q and k normed before RoPE
      head_norm(ws.q.data(), n, c.n_heads, L.q_norm);
      head_norm(ws.k.data(), n, c.n_kv_heads, L.k_norm);
    }
    // YaRN: logits * attention_factor^2; Gemma: query_pre_attn_scalar^-1/2 in place of the
    // kernel's head_dim^-1/2. On the query only: cached keys stay plain.
    if (G.q_scale != 1.0f)
      for (int64_t i = 0; i < n * q_dim; ++i) ws.q[i] *= G.q_scale;
    ws.attention[layer_group_[l]].layer(pool, layer_index_[l], ws.q.data(), ws.k.data(),
                                        ws.v.data(), ws.att.data(), G.trams);
    ops::matmul(pool, L.wo, ws.att.data(), n, ws.proj.data());
    if (L.post_attn_norm)
      for (int64_t i = 0; i < n; ++i)
        norm(ws.proj.data() + i * dim, L.post_attn_norm, ws.proj.data() + i * dim);
    for (int64_t i = 0; i < n * dim; ++i) ws.x[i] += ws.proj[i];

    // MLP sub-layer: w_down(silu(w_gate x) * w_up x), w_down(gelu_tanh(w_gate x) * w_up x), or
    // w_down(gelu(w_up x)).
    for (int64_t i = 0; i < n; ++i) norm(ws.x.data() + i * dim, L.ffn_norm, ws.xb.data() + i * dim);
    if (c.ffn != FfnKind::GELU) {
      const ops::MatmulJob gu[2] = {{&L.w_gate, ws.gate.data()}, {&L.w_up, ws.up.data()}};
      ops::matmul_shared(pool, gu, 2, ws.xb.data(), n);
      if (c.ffn == FfnKind::SwiGLU)
        K.silu_mul(ws.gate.data(), ws.up.data(), n * c.hidden);
      else
        K.gelu_tanh_mul(ws.gate.data(), ws.up.data(), n * c.hidden);
    } else {
      ops::matmul(pool, L.w_up, ws.xb.data(), n, ws.gate.data());
      ops::gelu(ws.gate.data(), n * c.hidden);
    }
    ops::matmul(pool, L.w_down, ws.gate.data(), n, ws.proj.data());
    if (L.post_ffn_norm)
      for (int64_t i = 0; i < n; ++i)
        norm(ws.proj.data() + i * dim, L.post_ffn_norm, ws.proj.data() + i * dim);
    for (int64_t i = 0; i < n * dim; ++i) ws.x[i] += ws.proj[i];
  }

  if (!logits) return;
  // Every row, or the last row of each sequence.
  const int64_t rows = all_logits ? n : n_seqs;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t i = all_logits ? r : seqs[0][r].row0 + seqs[0][r].n - 1;
    norm(ws.x.data() + i * dim, output_norm_, ws.xb.data() + r * dim);
  }
  ops::matmul(pool, classifier_, ws.xb.data(), rows, logits);
  if (c.final_logit_softcap > 0) {  // Gemma 2 style: cap * tanh(logits / cap)
    const float cap = static_cast<float>(c.final_logit_softcap), inv = 1.0f / cap;
    for (int64_t i = 0; i < rows * c.vocab_size; ++i) logits[i] = cap * std::tanh(logits[i] * inv);
  }
}

}  // namespace lc
