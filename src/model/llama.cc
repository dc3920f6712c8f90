#include "model/llama.h"

#include <algorithm>
#include <cmath>
#include <cstring>
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

namespace {

BlockAttention block_attention(const ModelConfig& c, int64_t rows, int64_t cache_slots,
                               const AttentionPolicy* policy, int n_threads) {
  return BlockAttention(c.n_heads, c.n_kv_heads, c.head_dim, rows, cache_slots, policy, n_threads);
}

}  // namespace

Workspace::Workspace(const ModelConfig& c, int64_t max_tokens_, int64_t cache_capacity,
                     int n_threads)
    : Workspace(c, max_tokens_, cache_capacity, nullptr, n_threads) {}

Workspace::Workspace(const ModelConfig& c, int64_t max_tokens_, const AttentionPolicy& policy,
                     int n_threads)
    : Workspace(c, max_tokens_, policy.geometry().slots(), &policy, n_threads) {}

Workspace::Workspace(const ModelConfig& c, int64_t max_tokens_, int64_t cache_capacity,
                     const AttentionPolicy* policy, int n_threads)
    : max_tokens(max_tokens_),
      x(max_tokens_ * c.d_model),
      xb(max_tokens_ * c.d_model),
      q(max_tokens_ * c.q_dim()),
      k(max_tokens_ * c.kv_dim()),
      v(max_tokens_ * c.kv_dim()),
      att(max_tokens_ * c.q_dim()),
      proj(max_tokens_ * c.d_model),
      gate(max_tokens_ * c.hidden),
      up(max_tokens_ * c.hidden),
      attention(block_attention(c, max_tokens_, cache_capacity, policy, n_threads)),
      seq_rows(static_cast<size_t>(max_tokens_)) {}

size_t Workspace::bytes() const {
  return x.bytes() + xb.bytes() + q.bytes() + k.bytes() + v.bytes() + att.bytes() + proj.bytes() +
         gate.bytes() + up.bytes() + attention.bytes() + seq_rows.capacity() * sizeof(SeqRows);
}

LlamaState::LlamaState(const ModelConfig& c, std::unique_ptr<AttentionPolicy> policy,
                       int64_t block_tokens)
    : policy_(std::move(policy)),
      cache_(c.n_layers, c.n_kv_heads, c.head_dim, policy_->geometry()),
      max_block_(std::min(std::max<int64_t>(1, block_tokens), policy_->max_block())) {}

void LlamaState::fill_random(int64_t n, uint64_t seed) {
  reset();
  check(n >= 0 && n < capacity(), "fill: ", n, " positions do not fit the context of ", capacity(),
        " tokens (raise --ctx)");
  cache_.fill_random(n, seed);
  pos_ = n;
}

std::unique_ptr<AttentionPolicy> LlamaModel::make_policy_for(const StateOptions& opt) const {
  PolicyContext pc;
  pc.trained_ctx = cfg_.ctx_len;
  pc.ctx = opt.ctx > 0 ? opt.ctx : cfg_.ctx_len;
  pc.block_tokens = std::max<int64_t>(1, opt.block_tokens);
  pc.model_window = cfg_.sliding_window;
  return make_policy(opt.attn, pc);
}

std::unique_ptr<SequenceState> LlamaModel::new_state(const StateOptions& opt, int) const {
  auto st = std::make_unique<LlamaState>(cfg_, make_policy_for(opt), opt.block_tokens);
  // An unbounded top-k middle store grows by one chunk every MiddleStore::kChunk tokens; with an
  // explicit context it is allocated up front instead, so that decoding allocates nothing.
  if (opt.ctx > 0) st->cache().middle().reserve(opt.ctx);
  return st;
}

std::unique_ptr<ForwardScratch> LlamaModel::new_scratch(const StateOptions& opt, int64_t rows,
                                                        int n_threads) const {
  return std::make_unique<Workspace>(cfg_, std::max<int64_t>(1, rows), *make_policy_for(opt),
                                     n_threads);
}

void LlamaModel::forward(ThreadPool& pool, ForwardScratch& scratch, const SeqBlock* seqs,
                         int64_t n_seqs, const int* tokens, float* logits, bool all_logits) const {
  auto* ws = dynamic_cast<Workspace*>(&scratch);
  check(ws != nullptr, "forward: the scratch was not made by a Llama-family model");
  check(n_seqs >= 1 && n_seqs <= static_cast<int64_t>(ws->seq_rows.size()), "forward: ", n_seqs,
        " sequences exceed the scratch's ", ws->seq_rows.size(), " rows");
  int64_t row = 0;
  for (int64_t s = 0; s < n_seqs; ++s) {
    auto* st = dynamic_cast<LlamaState*>(seqs[s].state);
    check(st != nullptr, "forward: sequence ", s, " is not a Llama-family state");
    const AttentionPolicy& P = st->policy();
    check(ws->attention.fits(P, pool.size()),
          "forward: the scratch was made for a smaller attention policy than ", P.label());
    ws->seq_rows[s] = SeqRows{&st->cache_, row, seqs[s].n, st->pos_, &P};
    row += seqs[s].n;
  }
  forward_rows(pool, *ws, ws->seq_rows.data(), n_seqs, tokens, logits, all_logits);
  for (int64_t s = 0; s < n_seqs; ++s) static_cast<LlamaState*>(seqs[s].state)->pos_ += seqs[s].n;
}

LlamaModel::LlamaModel(const ModelFile& f) : cfg_(f.config) {
  const ModelConfig& c = cfg_;
  check(c.n_kv_heads > 0 && c.n_heads % c.n_kv_heads == 0, f.path, ": n_heads ", c.n_heads,
        " must be a multiple of n_kv_heads ", c.n_kv_heads);
  check(c.head_dim > 0 && c.head_dim % 2 == 0, f.path, ": head_dim ", c.head_dim, " must be even");
  tok_embd_ = view(f.get("token_embd", {c.vocab_size, c.d_model}));
  classifier_ = c.tied_embeddings ? tok_embd_ : view(f.get("output", {c.vocab_size, c.d_model}));
  output_norm_ = f32_vector(f, "output_norm", c.d_model);
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
    if (c.ffn == FfnKind::SwiGLU)
      L.w_gate = view(f.get(p + "ffn_gate", {c.hidden, c.d_model}));
    else if (f.find(p + "ffn_gate"))
      fail(f.path, ": tensor '", p, "ffn_gate' is present but the MLP is GELU (no gate)");
    L.w_up = view(f.get(p + "ffn_up", {c.hidden, c.d_model}));
    L.w_down = view(f.get(p + "ffn_down", {c.d_model, c.hidden}));
    if (c.qkv_bias) {
      L.bq = f32_vector(f, p + "attn_q.bias", c.q_dim());
      L.bk = f32_vector(f, p + "attn_k.bias", c.kv_dim());
      L.bv = f32_vector(f, p + "attn_v.bias", c.kv_dim());
    } else if (f.find(p + "attn_q.bias") || f.find(p + "attn_k.bias") ||
               f.find(p + "attn_v.bias")) {
      fail(f.path, ": tensor '", p,
           "attn_{q,k,v}.bias' is present but the config has no q/k/v "
           "bias");
    }
    layers_.push_back(L);
  }
  if (c.position == PositionKind::ALiBi) {
    check(c.alibi_bias_max > 0 && c.alibi_bias_max <= 64, f.path, ": alibi_bias_max ",
          c.alibi_bias_max, " is out of range (0, 64]");
    alibi_slopes_ = alibi_slopes(c.n_heads, c.alibi_bias_max);
  }
  if (c.position == PositionKind::RoPE) {
    ops::RopeScaling scaling = c.rope_scaling;
    if (f.find("rope_freqs")) {  // llama.cpp's Llama 3 files: inv_freq[i] /= rope_freqs[i]
      const float* ff = f32_vector(f, "rope_freqs", c.head_dim / 2);
      scaling.freq_factors.assign(ff, ff + c.head_dim / 2);
    }
    rope_ = ops::RopeFreqs(c.head_dim, c.rope_theta, scaling);
    q_scale_ = static_cast<float>(rope_.attention_factor() * rope_.attention_factor());
  }
  std::vector<ops::WeightView> wq;
  for (const LlamaLayer& L : layers_) wq.push_back(L.wq);
  trams_ = TramsWeights(std::move(wq), c.n_heads, c.head_dim);
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
  }
}

void LlamaModel::forward(ThreadPool& pool, Workspace& ws, KvCache& cache,
                         const AttentionPolicy& policy, const int* tokens, int64_t n, int64_t pos0,
                         float* logits, bool all_logits) const {
  const SeqRows one{&cache, 0, n, pos0, &policy};
  forward_rows(pool, ws, &one, 1, tokens, logits, all_logits);
}

void LlamaModel::forward_rows(ThreadPool& pool, Workspace& ws, const SeqRows* seqs, int64_t n_seqs,
                              const int* tokens, float* logits, bool all_logits) const {
  const ModelConfig& c = cfg_;
  const ops::KernelTable& K = ops::kernels();
  check(n_seqs >= 1, "forward: no sequences");
  const AttentionPolicy& policy = *seqs[0].policy;
  int64_t n = 0;  // rows over all sequences
  for (int64_t s = 0; s < n_seqs; ++s) {
    const SeqRows& sq = seqs[s];
    const AttentionPolicy& P = *sq.policy;
    check(sq.row0 == n, "forward: sequence ", s, " starts at row ", sq.row0, ", expected ", n);
    check(&P == &policy || P.label() == policy.label(),
          "forward: the sequences of one forward "
          "must share one attention policy (",
          P.label(), " vs ", policy.label(), ")");
    check(sq.n >= 1 && sq.n <= P.max_block(), "forward: block of ", sq.n,
          " tokens exceeds the policy's block (", P.max_block(), ")");
    check(sq.pos0 >= 0 && sq.pos0 + sq.n <= sq.cache->geometry().max_positions(),
          "context full: position ", sq.pos0 + sq.n - 1, " is beyond the cache capacity ",
          sq.cache->geometry().max_positions(), " (raise --ctx)");
    n += sq.n;
  }
  check(n <= ws.max_tokens, "forward: block of ", n, " tokens exceeds the workspace (",
        ws.max_tokens, ")");
  const int64_t dim = c.d_model, q_dim = c.q_dim(), kv_dim = c.kv_dim();
  const bool alibi = c.position == PositionKind::ALiBi;
  ws.attention.begin(AttentionShape{c.n_heads, c.n_kv_heads, c.head_dim,
                                    alibi ? alibi_slopes_.data() : nullptr, &rope_, c.rope_style},
                     seqs, n_seqs);

  embed(tokens, n, ws.x.data());
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const LlamaLayer& L = layers_[l];
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
    if (q_scale_ != 1.0f)  // YaRN: logits * attention_factor^2 (keys stay unscaled)
      for (int64_t i = 0; i < n * q_dim; ++i) ws.q[i] *= q_scale_;
    ws.attention.layer(pool, l, ws.q.data(), ws.k.data(), ws.v.data(), ws.att.data(), trams_);
    ops::matmul(pool, L.wo, ws.att.data(), n, ws.proj.data());
    for (int64_t i = 0; i < n * dim; ++i) ws.x[i] += ws.proj[i];

    // MLP sub-layer: w_down(silu(w_gate x) * w_up x), or w_down(gelu(w_up x)).
    for (int64_t i = 0; i < n; ++i) norm(ws.x.data() + i * dim, L.ffn_norm, ws.xb.data() + i * dim);
    if (c.ffn == FfnKind::SwiGLU) {
      const ops::MatmulJob gu[2] = {{&L.w_gate, ws.gate.data()}, {&L.w_up, ws.up.data()}};
      ops::matmul_shared(pool, gu, 2, ws.xb.data(), n);
      K.silu_mul(ws.gate.data(), ws.up.data(), n * c.hidden);
    } else {
      ops::matmul(pool, L.w_up, ws.xb.data(), n, ws.gate.data());
      ops::gelu(ws.gate.data(), n * c.hidden);
    }
    ops::matmul(pool, L.w_down, ws.gate.data(), n, ws.proj.data());
    for (int64_t i = 0; i < n * dim; ++i) ws.x[i] += ws.proj[i];
  }

  if (!logits) return;
  // Every row, or the last row of each sequence.
  const int64_t rows = all_logits ? n : n_seqs;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t i = all_logits ? r : seqs[r].row0 + seqs[r].n - 1;
    norm(ws.x.data() + i * dim, output_norm_, ws.xb.data() + r * dim);
  }
  ops::matmul(pool, classifier_, ws.xb.data(), rows, logits);
}

}  // namespace lc
