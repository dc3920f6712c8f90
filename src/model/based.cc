#include "model/based.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>

#include "attention/config.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "formats/hf.h"
#include "ops/quant/dequant.h"
#include "ops/reference.h"

namespace lc {

namespace {

const char* mixer_name(BasedMixer m) {
  return m == BasedMixer::Window   ? "sliding window"
         : m == BasedMixer::Linear ? "linear attention"
                                   : "BaseConv";
}

std::string shape_text(const std::vector<int64_t>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

// Binds the tensors of one model, with errors that name the layer, its mixer and the
// checkpoint's own tensor name.
class Binder {
 public:
  explicit Binder(const ModelFile& f) : f_(f) {}

  const TensorRef& get(const std::string& canon, const std::vector<int64_t>& shape,
                       const std::string& where) const {
    const TensorRef* t = f_.find(canon);
    if (!t) fail(f_.path, ": ", where, "missing tensor '", hf(canon), "'");
    if (t->shape != shape)
      fail(f_.path, ": ", where, "tensor '", hf(canon), "' has shape ", shape_text(t->shape),
           ", expected ", shape_text(shape), " from config.json");
    return *t;
  }
  ops::WeightView matrix(const std::string& canon, int64_t rows, int64_t cols,
                         const std::string& where) const {
    const TensorRef& t = get(canon, {rows, cols}, where);
    return ops::WeightView{t.dtype, t.data, rows, cols};
  }
  const float* vector(const std::string& canon, int64_t n, const std::string& where) const {
    const TensorRef& t = get(canon, {n}, where);
    if (t.dtype != DType::F32) fail(f_.path, ": ", where, "tensor '", hf(canon), "' must be f32");
    return static_cast<const float*>(t.data);
  }
  // A tensor that belongs to another mixer must not be present (a layer list that disagrees
  // with the checkpoint).
  void absent(const std::string& canon, const std::string& where) const {
    if (f_.find(canon))
      fail(f_.path, ": ", where, "has tensor '", hf(canon),
           "' of another mixer (alt_mixer_layers / alt_mixer_2_layers disagree with the weights)");
  }
  static std::string hf(const std::string& canon) {
    const std::string h = hf_tensor_name(canon, Arch::Based);
    return h.empty() ? canon : h;
  }

 private:
  const ModelFile& f_;
};

void add_bias(float* y, const float* b, int64_t n, int64_t width, int64_t ld) {
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < width; ++i) y[t * ld + i] += b[i];
}

}  // namespace

BasedModel::BasedModel(const ModelFile& f) : cfg_(f.config) {
  const ModelConfig& c = cfg_;
  const BasedConfig& b = c.based;
  if (c.arch != Arch::Based) fail(f.path, ": not a BASED model (arch '", arch_name(c.arch), "')");
  const int64_t d = c.d_model;
  check(d % c.n_heads == 0 && d % b.linear_heads == 0 && b.feature_dim >= 1, f.path,
        ": BASED head counts do not divide d_model ", d);
  check(b.padded_vocab >= c.vocab_size, f.path, ": padded vocabulary smaller than vocab_size");
  const Binder g(f);
  embd_ = g.matrix("token_embd", b.padded_vocab, d, "");
  if (embd_.dtype != DType::F32 && embd_.dtype != DType::BF16 && embd_.dtype != DType::F16)
    fail(f.path, ": tensor '", Binder::hf("token_embd"), "' is ", dtype_name(embd_.dtype),
         " (BASED embeddings must be f32, bf16 or f16)");
  // Tied embeddings: lm_head.weight, when stored at all, is used as is (its real rows).
  classifier_ = f.find("output") ? g.matrix("output", b.padded_vocab, d, "") : embd_;
  classifier_.rows = c.vocab_size;
  norm_f_ = g.vector("output_norm", d, "");
  const int64_t qk = b.linear_heads * b.feature_dim;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    BasedLayer L;
    L.mixer = b.mixer(l);
    const std::string where = "layer " + std::to_string(l) + " (" + mixer_name(L.mixer) + "): ";
    L.norm1 = g.vector(p + "attn_norm", d, where);
    L.norm2 = g.vector(p + "ffn_norm", d, where);
    L.fc1 = g.matrix(p + "ffn_fc1", 2 * c.hidden, d, where);
    L.fc2 = g.matrix(p + "ffn_down", d, c.hidden, where);
    switch (L.mixer) {
      case BasedMixer::Window:
        L.index = n_window_++;
        L.wqkv = g.matrix(p + "attn_qkv", 3 * d, d, where);
        L.wo = g.matrix(p + "attn_output", d, d, where);
        for (const char* s : {"attn_q", "attn_k", "attn_v", "conv_in", "conv_in.bias",
                              "conv_kernel", "attn_output.bias"})
          g.absent(p + s, where);
        break;
      case BasedMixer::Linear:
        L.index = n_linear_++;
        L.wq = g.matrix(p + "attn_q", qk, d, where);
        L.wk = g.matrix(p + "attn_k", qk, d, where);
        L.wv = g.matrix(p + "attn_v", d, d, where);
        L.wo = g.matrix(p + "attn_output", d, d, where);
        for (const char* s :
             {"attn_qkv", "conv_in", "conv_in.bias", "conv_kernel", "attn_output.bias"})
          g.absent(p + s, where);
        break;
      case BasedMixer::Conv: {
        L.index = n_conv_++;
        L.w_in = g.matrix(p + "conv_in", 4 * d, d, where);
        L.b_in = g.vector(p + "conv_in.bias", 4 * d, where);
        L.wo = g.matrix(p + "attn_output", d, 2 * d, where);
        L.bo = g.vector(p + "attn_output.bias", d, where);
        const TensorRef& k = g.get(p + "conv_kernel", {2 * d, 1, kBaseConvKernel}, where);
        if (k.dtype == DType::F32) {
          L.kernel = static_cast<const float*>(k.data);
        } else {
          std::vector<float> w(static_cast<size_t>(k.numel()));
          for (int64_t i = 0; i < k.numel(); ++i) w[i] = ops::ref::load(k.data, k.dtype, i);
          owned_kernels_.push_back(std::move(w));
          L.kernel = owned_kernels_.back().data();
        }
        for (const char* s : {"attn_q", "attn_k", "attn_v", "attn_qkv"}) g.absent(p + s, where);
        break;
      }
    }
    layers_.push_back(L);
  }
}

BasedScratch::BasedScratch(const BasedModel& model, int64_t rows, int64_t chunk, int n_threads)
    : rows_(std::max<int64_t>(1, rows)), chunk_(std::max<int64_t>(1, chunk)) {
  const ModelConfig& c = model.config();
  const int64_t d = c.d_model, B = rows_;
  const TaylorShape ts{c.based.linear_heads, c.based.feature_dim, d / c.based.linear_heads};
  const int64_t qk = c.based.linear_heads * c.based.feature_dim;
  x_ = AlignedBuffer<float>(static_cast<size_t>(B * d));
  xb_ = AlignedBuffer<float>(static_cast<size_t>(B * d));
  // q | k | v of a linear layer, Wqkv's 3d, or in_proj's 4d.
  proj_ = AlignedBuffer<float>(static_cast<size_t>(B * std::max(4 * d, 2 * qk + d)));
  att_ = AlignedBuffer<float>(static_cast<size_t>(B * 2 * d));
  out_ = AlignedBuffer<float>(static_cast<size_t>(B * d));
  fc1_ = AlignedBuffer<float>(static_cast<size_t>(B * 2 * c.hidden));
  mid_ = AlignedBuffer<float>(static_cast<size_t>(B * c.hidden));
  taylor_share_ = taylor_scratch_floats(ts, chunk_, 1);
  taylor_scratch_ = AlignedBuffer<float>(
      static_cast<size_t>(std::max<int64_t>(1, taylor_scratch_floats(ts, chunk_, n_threads))));
  seq_rows_.resize(static_cast<size_t>(rows_));
}

size_t BasedScratch::bytes() const {
  return x_.bytes() + xb_.bytes() + proj_.bytes() + att_.bytes() + out_.bytes() + fc1_.bytes() +
         mid_.bytes() + taylor_scratch_.bytes();
}

BasedState::BasedState(const BasedModel& model, int64_t block_tokens, int64_t chunk, int n_threads,
                       bool own_scratch, DType k_type, DType v_type)
    : block_(std::max<int64_t>(1, block_tokens)),
      chunk_(std::max<int64_t>(1, chunk)),
      window_(SlidingWindowShape{model.config().n_heads, model.config().head_dim,
                                 std::max<int64_t>(2, model.config().based.window_size),
                                 model.config().rope_theta, model.config().based.window_rope,
                                 k_type, v_type},
              // SlidingWindowAttention needs >= 1 layer: a model without window layers (e.g.
              // BaseConv + linear attention) keeps an unused 1-layer placeholder, not counted
              // in state_bytes().
              std::max<int64_t>(1, model.n_window()), block_, n_threads),
      window_used_(model.n_window() > 0),
      label_("based" + kv_types_label(k_type, v_type)) {
  const ModelConfig& c = model.config();
  const int64_t d = c.d_model;
  const TaylorShape ts{c.based.linear_heads, c.based.feature_dim, d / c.based.linear_heads};
  for (int64_t i = 0; i < model.n_linear(); ++i) taylor_.emplace_back(ts);
  for (int64_t i = 0; i < model.n_conv(); ++i) conv_.emplace_back(2 * d);
  if (own_scratch) scratch_ = BasedScratch(model, block_, chunk_, n_threads);
}

void BasedState::reset() {
  for (auto& t : taylor_) t.reset();
  window_.reset();
  for (auto& c : conv_) c.reset();
  pos_ = 0;
  quadratic_ = false;
}

void BasedState::fill_random(int64_t n, uint64_t seed) {
  check(n >= 0, "fill: negative position count ", n);
  reset();
  Rng rng(seed);
  auto u = [&rng] { return 2.0f * rng.uniform() - 1.0f; };
  for (TaylorState& t : taylor_) {
    const TaylorShape& s = t.shape();
    for (int64_t h = 0; h < s.n_heads; ++h) {
      float* kv = t.kv(h);  // [D][head_dim]
      for (int64_t i = 0; i < t.n_features() * s.head_dim; ++i) kv[i] = u();
      float* kz = t.kz(h);
      kz[0] = static_cast<float>(n);
      for (int64_t i = 1; i < t.n_features(); ++i) kz[i] = 0.01f * u();
    }
    t.add_tokens(n);
  }
  window_.fill_random(n, rng.next_u64());
  for (BaseConvState& c : conv_)
    for (int64_t i = 0; i < c.channels(); ++i) {
      c.older()[i] = u();
      c.newer()[i] = u();
    }
  pos_ = n;
}

const std::string& BasedState::label() const { return label_; }

std::unique_ptr<SequenceState> BasedModel::new_state(const StateOptions& opt, int n_threads) const {
  return std::make_unique<BasedState>(*this, opt.block_tokens, opt.chunk, n_threads,
                                      /*own_scratch=*/false, opt.attn.k_type, opt.attn.v_type);
}

std::unique_ptr<ForwardScratch> BasedModel::new_scratch(const StateOptions& opt, int64_t rows,
                                                        int n_threads) const {
  auto sc = std::make_unique<BasedScratch>(*this, rows, opt.chunk, n_threads);
  sc->taylor_form = opt.taylor;
  return sc;
}

void BasedModel::forward(ThreadPool& pool, ForwardScratch& scratch, const SeqBlock* seqs,
                         int64_t n_seqs, const int* tokens, float* logits, bool all_logits) const {
  auto* sc = dynamic_cast<BasedScratch*>(&scratch);
  check(sc != nullptr, "based forward: the scratch was not made by a BASED model");
  check(n_seqs >= 1 && n_seqs <= static_cast<int64_t>(sc->seq_rows_.size()),
        "based forward: ", n_seqs, " sequences exceed the scratch's ", sc->seq_rows_.size(),
        " rows");
  int64_t row = 0;
  for (int64_t s = 0; s < n_seqs; ++s) {
    auto* st = dynamic_cast<BasedState*>(seqs[s].state);
    check(st != nullptr, "based forward: sequence ", s, " is not a BASED state");
    sc->seq_rows_[s] = BasedRows{st, row, seqs[s].n};
    row += seqs[s].n;
  }
  forward(pool, *sc, sc->seq_rows_.data(), n_seqs, tokens, logits, all_logits);
}

size_t BasedState::state_bytes() const {
  size_t n = window_used_ ? window_.bytes() : 0;
  for (const auto& t : taylor_) n += t.bytes();
  for (const auto& c : conv_) n += c.bytes();
  return n;
}

void BasedModel::forward(ThreadPool& pool, BasedState& st, const int* tokens, int64_t n,
                         float* logits, bool all_logits) const {
  check(n >= 1 && n <= st.block_, "based forward: block of ", n, " tokens exceeds the state's ",
        st.block_);
  check(st.scratch_.rows() >= n, "based forward: the state has no scratch of its own");
  const BasedRows one{&st, 0, n};
  forward(pool, st.scratch_, &one, 1, tokens, logits, all_logits);
}

void BasedModel::forward(ThreadPool& pool, BasedScratch& sc, const BasedRows* seqs, int64_t n_seqs,
                         const int* tokens, float* logits, bool all_logits) const {
  const ModelConfig& c = cfg_;
  const ops::KernelTable& K = ops::kernels();
  int64_t n = 0;  // rows over all sequences
  for (int64_t s = 0; s < n_seqs; ++s) {
    const BasedRows& r = seqs[s];
    check(r.row0 == n, "based forward: sequence ", s, " starts at row ", r.row0, ", expected ", n);
    check(r.n >= 1 && r.n <= r.state->block_, "based forward: block of ", r.n,
          " tokens exceeds the state's ", r.state->block_);
    check(!r.state->quadratic_,
          "based forward: the sequence was prefilled with the quadratic "
          "Taylor form, which keeps no recurrent state (use the chunked form to continue)");
    n += r.n;
  }
  check(n_seqs >= 1 && n <= sc.rows_, "based forward: ", n, " rows exceed the scratch's ",
        sc.rows_);
  const int64_t d = c.d_model, h = c.hidden;
  const int64_t qk = c.based.linear_heads * c.based.feature_dim;
  float* x = sc.x_.data();      // [n, d]
  float* xb = sc.xb_.data();    // [n, d]
  float* out = sc.out_.data();  // [n, d]
  for (int64_t t = 0; t < n; ++t) {
    const int tok = tokens[t];
    check(tok >= 0 && tok < c.vocab_size, "token id ", tok, " is out of range [0, ", c.vocab_size,
          ")");
    const void* row = embd_.row(tok);
    ops::quant::dequantize_row(embd_.dtype, row, x + t * d, d);
  }
  // Row-wise work is split over the pool; each row's arithmetic is the same on any thread.
  // xb = norm(x), after x += out when `add` (the previous sub-layer's output).
  auto residual_norm = [&](const float* w, bool add) {
    for_rows(pool, n, 4 * d, [&](int64_t t) {
      if (add) K.axpy(1.0f, out + t * d, x + t * d, d);  // fma(1, o, x) == x + o exactly
      K.rmsnorm(x + t * d, w, xb + t * d, d, c.norm_eps);
    });
  };
  // The mixer core of every sequence: one sequence parallelises inside the core (over heads or
  // tokens); several (batched decode) are spread over the threads, each core on a one-thread
  // pool with its own share of the Taylor scratch, so a step needs one hand-off per layer instead
  // of one per sequence.
  auto per_sequence = [&](auto&& core) {
    if (n_seqs == 1) return core(pool, sc.taylor_scratch_.data(), int64_t{0});
    std::atomic<int64_t> next{0};
    pool.run([&](int t, int) {
      ThreadPool serial(1);
      float* scratch = sc.taylor_scratch_.data() + t * sc.taylor_share_;
      for (int64_t s = next.fetch_add(1, std::memory_order_relaxed); s < n_seqs;
           s = next.fetch_add(1, std::memory_order_relaxed))
        core(serial, scratch, s);
    });
  };
  bool pending_out = false;  // out holds the previous sub-layer's output, not yet added to x
  for (const BasedLayer& L : layers_) {
    // x = x + mixer(norm1(x))
    residual_norm(L.norm1, pending_out);
    float* att = sc.att_.data();
    switch (L.mixer) {
      case BasedMixer::Window: {
        float* qkv = sc.proj_.data();  // [n, 3d]
        ops::matmul(pool, L.wqkv, xb, n, qkv);
        per_sequence([&](ThreadPool& p, float*, int64_t s) {
          const float* r = qkv + seqs[s].row0 * 3 * d;
          seqs[s].state->window_.forward(p, L.index, r, r + d, r + 2 * d, 3 * d, seqs[s].n,
                                         att + seqs[s].row0 * d);
        });
        ops::matmul(pool, L.wo, att, n, out);
        break;
      }
      case BasedMixer::Linear: {
        float* q = sc.proj_.data();  // [n, H*f]
        float* k = q + n * qk;       // [n, H*f]
        float* v = k + n * qk;       // [n, d]
        ops::matmul(pool, L.wq, xb, n, q);
        ops::matmul(pool, L.wk, xb, n, k);
        ops::matmul(pool, L.wv, xb, n, v);
        per_sequence([&](ThreadPool& p, float* scratch, int64_t s) {
          BasedState& st = *seqs[s].state;
          TaylorState& ts = st.taylor_[L.index];
          const int64_t r0 = seqs[s].row0, m = seqs[s].n;
          float* o = att + r0 * d;
          if (m == 1) {
            taylor_decode(p, ts, q + r0 * qk, k + r0 * qk, v + r0 * d, o, scratch);
          } else if (sc.taylor_form == TaylorForm::Quadratic) {
            check(st.pos_ == 0,
                  "based forward: the quadratic Taylor form covers one block from "
                  "a fresh state (raise block_tokens to the prompt length)");
            taylor_quadratic(p, ts.shape(), q + r0 * qk, k + r0 * qk, v + r0 * d, m, o);
            st.quadratic_ = true;
          } else {
            taylor_prefill(p, ts, q + r0 * qk, k + r0 * qk, v + r0 * d, m, sc.chunk_, o, scratch);
          }
        });
        ops::matmul(pool, L.wo, att, n, out);
        break;
      }
      case BasedMixer::Conv: {
        float* u = sc.proj_.data();  // [n, 4d] = [u1 (2d) | u2 (2d)]
        ops::matmul(pool, L.w_in, xb, n, u);
        for_rows(pool, n, 4 * d,
                 [&](int64_t t) { add_bias(u + t * 4 * d, L.b_in, 1, 4 * d, 4 * d); });
        per_sequence([&](ThreadPool& p, float*, int64_t s) {
          const float* r = u + seqs[s].row0 * 4 * d;
          baseconv_forward(p, seqs[s].state->conv_[L.index], L.kernel, r, r + 2 * d, 4 * d,
                           seqs[s].n, att + seqs[s].row0 * 2 * d, 2 * d);
        });
        ops::matmul(pool, L.wo, att, n, out);  // att: [n, 2d]
        for_rows(pool, n, d, [&](int64_t t) { add_bias(out + t * d, L.bo, 1, d, d); });
        break;
      }
    }
    // x = x + fc2(value * silu(gate)),  [value | gate] = fc1(norm2(x))
    residual_norm(L.norm2, true);
    float* f1 = sc.fc1_.data();   // [n, 2h]
    float* mid = sc.mid_.data();  // [n, h]
    ops::matmul(pool, L.fc1, xb, n, f1);
    for_rows(pool, n, 4 * h, [&](int64_t t) {
      std::memcpy(mid + t * h, f1 + t * 2 * h + h, sizeof(float) * h);  // gate
      K.silu_mul(mid + t * h, f1 + t * 2 * h, h);                       // silu(gate) * value
    });
    ops::matmul(pool, L.fc2, mid, n, out);
    pending_out = true;
  }
  if (pending_out)
    for_rows(pool, n, d, [&](int64_t t) { K.axpy(1.0f, out + t * d, x + t * d, d); });
  for (int64_t s = 0; s < n_seqs; ++s) seqs[s].state->pos_ += seqs[s].n;
  if (!logits) return;
  // Every row, or the last row of each sequence.
  const int64_t rows = all_logits ? n : n_seqs;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t t = all_logits ? r : seqs[r].row0 + seqs[r].n - 1;
    K.rmsnorm(x + t * d, norm_f_, out + r * d, d, c.norm_eps);
  }
  ops::matmul(pool, classifier_, out, rows, logits);
}

}  // namespace lc
