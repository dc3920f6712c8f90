#include "train/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string_view>

#include "core/error.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "train/layers.h"

namespace lc::train {

namespace {
constexpr std::string_view kMixerLetters = "awlc";  // indexed by Mixer
}  // namespace

char mixer_letter(Mixer m) { return kMixerLetters[static_cast<size_t>(m)]; }

std::string mixers_text(const std::vector<Mixer>& mixers) {
  std::string s;
  for (Mixer m : mixers) s += mixer_letter(m);
  return s;
}

std::vector<Mixer> parse_mixers(const std::string& text) {
  check(!text.empty(), "--mixers: expected a, w, l or c per layer, got ''");
  std::vector<Mixer> out;
  for (char ch : text) {
    const size_t i = kMixerLetters.find(ch);
    if (i == std::string_view::npos)
      fail("--mixers: expected a, w, l or c per layer, got '", std::string(1, ch), "'");
    out.push_back(static_cast<Mixer>(i));
  }
  return out;
}

Arch parse_train_arch(const std::string& text) {
  if (text == arch_name(Arch::Llama)) return Arch::Llama;
  if (text == arch_name(Arch::Based)) return Arch::Based;
  fail("--arch: expected llama or based, got '", text, "'");
}

std::vector<Mixer> default_mixers(Arch arch, int64_t n_layers) {
  const size_t n = static_cast<size_t>(std::max<int64_t>(n_layers, 0));
  if (arch != Arch::Based) return std::vector<Mixer>(n, Mixer::Attention);
  if (n == 2) return {Mixer::Conv, Mixer::Linear};
  return std::vector<Mixer>(n, Mixer::Linear);
}

void validate(const TrainConfig& c) {
  check(c.arch == Arch::Llama || c.arch == Arch::Based, "train: arch must be llama or based, got '",
        arch_name(c.arch), "'");
  check(c.vocab_size >= 2, "train: vocab_size ", c.vocab_size, " must be >= 2");
  check(c.d_model >= 2 && c.n_layers >= 1, "train: d_model and n_layers must be positive");
  check(static_cast<int64_t>(c.mixers.size()) == c.n_layers, "train: mixers '",
        mixers_text(c.mixers), "' must have one letter per layer (", c.n_layers, ")");
  check(c.hidden >= 0, "train: hidden must be >= 0");
  bool softmax = false;
  for (Mixer m : c.mixers) {
    softmax = softmax || m == Mixer::Attention || m == Mixer::Window;
    if (m == Mixer::Window) check(c.window >= 1, "train: sliding-window layers need window >= 1");
    if (m == Mixer::Linear)
      check(c.linear_heads >= 1 && c.d_model % c.linear_heads == 0 && c.feature_dim >= 1,
            "train: linear_heads ", c.linear_heads, " must divide d_model ", c.d_model,
            " and feature_dim must be positive");
  }
  if (softmax) {
    check(c.n_heads >= 1 && c.d_model % c.n_heads == 0 && (c.d_model / c.n_heads) % 2 == 0,
          "train: d_model ", c.d_model, " / n_heads ", c.n_heads, " must give an even head dim");
    check(c.n_kv_heads >= 1 && c.n_heads % c.n_kv_heads == 0, "train: n_kv_heads ", c.n_kv_heads,
          " must divide n_heads ", c.n_heads);
  }
  if (c.arch == Arch::Llama) {
    for (Mixer m : c.mixers)
      check(m == Mixer::Attention || m == Mixer::Window,
            "train: a llama model has only attention layers (a or w)");
    check(c.hidden >= 1, "train: a llama model needs an MLP (hidden >= 1)");
  }
}

template <typename T>
int64_t TrainModel<T>::add_param(const std::string& name, std::vector<int64_t> shape, bool decay) {
  ParamInfo p;
  p.name = name;
  p.shape = std::move(shape);
  p.numel = 1;
  for (int64_t d : p.shape) p.numel *= d;
  p.offset = params_.empty() ? 0 : params_.back().offset + params_.back().numel;
  p.decay = decay;
  params_.push_back(p);
  return p.offset;
}

template <typename T>
const ParamInfo& TrainModel<T>::param(const std::string& name) const {
  for (const ParamInfo& p : params_)
    if (p.name == name) return p;
  fail("train: the model has no parameter '", name, "'");
}

template <typename T>
TrainModel<T>::TrainModel(const TrainConfig& c, int64_t batch, int64_t seq, uint64_t seed,
                          const InitOptions& init)
    : cfg_(c), batch_(batch), seq_(seq) {
  validate(c);
  check(batch >= 1 && seq >= 1, "train: batch ", batch, " and seq ", seq, " must be positive");
  const int64_t d = c.d_model, N = batch * seq, h = c.hidden;
  const int64_t qd = c.d_model, kvd = c.n_kv_heads * c.head_dim();
  embd_ = add_param("token_embd", {c.vocab_size, d}, true);
  layers_.resize(static_cast<size_t>(c.n_layers));
  int64_t max_proj = 0, max_mix = 0;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    Layer& L = layers_[l];
    const std::string p = "blk." + std::to_string(l) + ".";
    L.mixer = c.mixers[l];
    L.attn_norm = add_param(p + "attn_norm", {d}, false);
    switch (L.mixer) {
      case Mixer::Attention:
      case Mixer::Window:
        L.proj_width = qd + 2 * kvd;
        L.mix_width = qd;
        L.proj = add_param(p + "attn_qkv", {L.proj_width, d}, true);
        L.out = add_param(p + "attn_output", {d, qd}, true);
        break;
      case Mixer::Linear:
        L.proj_width = 2 * c.linear_heads * c.feature_dim + d;
        L.mix_width = d;
        L.proj = add_param(p + "attn_qkv", {L.proj_width, d}, true);
        L.out = add_param(p + "attn_output", {d, d}, true);
        break;
      case Mixer::Conv:
        L.proj_width = 4 * d;
        L.mix_width = 2 * d;
        L.proj = add_param(p + "conv_in", {4 * d, d}, true);
        L.proj_bias = add_param(p + "conv_in.bias", {4 * d}, false);
        L.kernel = add_param(p + "conv_kernel", {2 * d, 3}, true);
        L.out = add_param(p + "attn_output", {d, 2 * d}, true);
        L.out_bias = add_param(p + "attn_output.bias", {d}, false);
    }
    if (h > 0) {
      L.ffn_norm = add_param(p + "ffn_norm", {d}, false);
      L.fc1 = add_param(p + "ffn_fc1", {2 * h, d}, true);
      L.fc2 = add_param(p + "ffn_down", {d, h}, true);
    }
    max_proj = std::max(max_proj, L.proj_width);
    max_mix = std::max(max_mix, L.mix_width);
    L.xin.resize(N * d);
    L.xn1.resize(N * d);
    L.r1.resize(N);
    L.projv.resize(N * L.proj_width);
    if (L.mixer == Mixer::Conv) L.conv.resize(N * 2 * d);
    L.mix.resize(N * L.mix_width);
    if (h > 0) {
      L.xmid.resize(N * d);
      L.xn2.resize(N * d);
      L.r2.resize(N);
      L.a.resize(N * 2 * h);
      L.m.resize(N * h);
    }
  }
  norm_f_ = add_param("output_norm", {d}, false);
  if (!c.tied) output_ = add_param("output", {c.vocab_size, d}, true);
  const int64_t total = params_.back().offset + params_.back().numel;
  w_.resize(total);
  g_.resize(total);
  init_weights(seed, init);
  tokens_.resize(N);
  xf_.resize(N * d);
  xnf_.resize(N * d);
  rf_.resize(N);
  logits_.resize(N * c.vocab_size);
  dlogits_.resize(N * c.vocab_size);
  dx_.resize(N * d);
  dxn_.resize(N * d);
  dtmp_.resize(N * std::max(d, h));
  dproj_.resize(N * max_proj);
  dmix_.resize(N * max_mix);
  if (h > 0) {
    da_.resize(N * 2 * h);
    dm_.resize(N * h);
  }
}

template <typename T>
void TrainModel<T>::init_weights(uint64_t seed, const InitOptions& init) {
  Rng rng(seed);
  const double out_std = init.std / std::sqrt(2.0 * static_cast<double>(cfg_.n_layers));
  for (const ParamInfo& p : params_) {
    T* w = w_.data() + p.offset;
    const bool is_norm = p.name.size() >= 4 && p.name.compare(p.name.size() - 4, 4, "norm") == 0;
    const bool is_bias = p.name.find(".bias") != std::string::npos;
    const bool is_kernel = p.name.find("conv_kernel") != std::string::npos;
    const bool is_out = p.name.find("attn_output") != std::string::npos ||
                        p.name.find("ffn_down") != std::string::npos;
    const double std = is_norm     ? init.norm_jitter
                       : is_bias   ? init.bias_std
                       : is_kernel ? init.conv_std
                       : is_out    ? out_std
                                   : init.std;
    for (int64_t i = 0; i < p.numel; ++i)
      w[i] = static_cast<T>((is_norm ? 1.0 : 0.0) + (std == 0.0 ? 0.0 : std * rng.normal()));
  }
}

template <typename T>
double TrainModel<T>::forward(ThreadPool& pool, const int* tokens, const int* labels) {
  const TrainConfig& c = cfg_;
  const int64_t d = c.d_model, N = batch_ * seq_, h = c.hidden, V = c.vocab_size;
  const int64_t qd = c.d_model, kvd = c.n_kv_heads * c.head_dim();
  T* W = w_.data();
  std::copy(tokens, tokens + N, tokens_.begin());
  T* x = xf_.data();  // the residual stream runs in xf_ and ends there
  embedding_forward(tokens, N, W + embd_, V, d, x);
  for (Layer& L : layers_) {
    std::copy(x, x + N * d, L.xin.data());
    rmsnorm_forward(pool, L.xin.data(), W + L.attn_norm, N, d, c.norm_eps, L.xn1.data(),
                    L.r1.data());
    T* P = L.projv.data();
    linear_forward(pool, L.xn1.data(), N, d, W + L.proj,
                   L.proj_bias >= 0 ? W + L.proj_bias : nullptr, L.proj_width, P);
    if (L.mixer == Mixer::Attention || L.mixer == Mixer::Window) {
      const int64_t window = L.mixer == Mixer::Window ? c.window : 0;
      AttnShape s{batch_, seq_, c.n_heads, c.n_kv_heads, c.head_dim(), window};
      if (c.rope) {
        rope_rotate_half(pool, P, L.proj_width, N, seq_, c.n_heads, c.head_dim(), c.rope_theta,
                         false);
        rope_rotate_half(pool, P + qd, L.proj_width, N, seq_, c.n_kv_heads, c.head_dim(),
                         c.rope_theta, false);
      }
      attention_forward(pool, s, P, P + qd, P + qd + kvd, L.proj_width, L.mix.data());
    } else if (L.mixer == Mixer::Linear) {
      const int64_t qk = c.linear_heads * c.feature_dim;
      TaylorShape s{batch_, seq_, c.linear_heads, c.feature_dim, d / c.linear_heads};
      taylor_forward(pool, s, P, P + qk, P + 2 * qk, L.proj_width, L.mix.data());
    } else {
      conv_gate_forward(pool, batch_, seq_, 2 * d, P, W + L.kernel, L.conv.data(), L.mix.data());
    }
    T* tmp = dtmp_.data();
    linear_forward(pool, L.mix.data(), N, L.mix_width, W + L.out,
                   L.out_bias >= 0 ? W + L.out_bias : nullptr, d, tmp);
    for (int64_t i = 0; i < N * d; ++i) x[i] = L.xin[i] + tmp[i];
    if (h > 0) {
      std::copy(x, x + N * d, L.xmid.data());
      rmsnorm_forward(pool, L.xmid.data(), W + L.ffn_norm, N, d, c.norm_eps, L.xn2.data(),
                      L.r2.data());
      linear_forward(pool, L.xn2.data(), N, d, W + L.fc1, static_cast<const T*>(nullptr), 2 * h,
                     L.a.data());
      swiglu_forward(pool, L.a.data(), N, h, L.m.data());
      linear_forward(pool, L.m.data(), N, h, W + L.fc2, static_cast<const T*>(nullptr), d, tmp);
      for (int64_t i = 0; i < N * d; ++i) x[i] = L.xmid[i] + tmp[i];
    }
  }
  rmsnorm_forward(pool, xf_.data(), W + norm_f_, N, d, c.norm_eps, xnf_.data(), rf_.data());
  linear_forward(pool, xnf_.data(), N, d, W + (c.tied ? embd_ : output_),
                 static_cast<const T*>(nullptr), V, logits_.data());
  have_labels_ = labels != nullptr;
  if (!labels) return 0.0;
  int64_t scored = 0;
  return cross_entropy(pool, logits_.data(), labels, N, V, dlogits_.data(), &scored);
}

template <typename T>
void TrainModel<T>::backward(ThreadPool& pool) {
  check(have_labels_, "train: backward() needs a forward() with labels");
  const TrainConfig& c = cfg_;
  const int64_t d = c.d_model, N = batch_ * seq_, h = c.hidden, V = c.vocab_size;
  const int64_t qd = c.d_model, kvd = c.n_kv_heads * c.head_dim();
  const T* W = w_.data();
  T* G = g_.data();
  std::fill(G, G + g_.size(), T(0));
  T* dx = dx_.data();
  T* dxn = dxn_.data();
  const int64_t head = c.tied ? embd_ : output_;
  linear_backward(pool, xnf_.data(), dlogits_.data(), N, d, W + head, V, dxn, G + head,
                  static_cast<T*>(nullptr), scratch_);
  std::fill(dx, dx + N * d, T(0));
  rmsnorm_backward(pool, xf_.data(), W + norm_f_, rf_.data(), dxn, N, d, dx, G + norm_f_);
  for (int64_t l = c.n_layers - 1; l >= 0; --l) {
    Layer& L = layers_[l];
    if (h > 0) {  // x = xmid + fc2(swiglu(fc1(norm2(xmid)))): dx flows to xmid unchanged
      linear_backward(pool, L.m.data(), dx, N, h, W + L.fc2, d, dm_.data(), G + L.fc2,
                      static_cast<T*>(nullptr), scratch_);
      swiglu_backward(pool, L.a.data(), dm_.data(), N, h, da_.data());
      linear_backward(pool, L.xn2.data(), da_.data(), N, d, W + L.fc1, 2 * h, dxn, G + L.fc1,
                      static_cast<T*>(nullptr), scratch_);
      rmsnorm_backward(pool, L.xmid.data(), W + L.ffn_norm, L.r2.data(), dxn, N, d, dx,
                       G + L.ffn_norm);
    }
    // xmid = xin + out(mixer(proj(norm1(xin))))
    linear_backward(pool, L.mix.data(), dx, N, L.mix_width, W + L.out, d, dmix_.data(), G + L.out,
                    L.out_bias >= 0 ? G + L.out_bias : nullptr, scratch_);
    const T* P = L.projv.data();
    T* dP = dproj_.data();
    const int64_t ld = L.proj_width;
    if (L.mixer == Mixer::Attention || L.mixer == Mixer::Window) {
      const int64_t window = L.mixer == Mixer::Window ? c.window : 0;
      AttnShape s{batch_, seq_, c.n_heads, c.n_kv_heads, c.head_dim(), window};
      attention_backward(pool, s, P, P + qd, P + qd + kvd, ld, L.mix.data(), dmix_.data(), dP,
                         dP + qd, dP + qd + kvd);
      if (c.rope) {  // back through the rotation: rotate the gradients by the negative angle
        rope_rotate_half(pool, dP, ld, N, seq_, c.n_heads, c.head_dim(), c.rope_theta, true);
        rope_rotate_half(pool, dP + qd, ld, N, seq_, c.n_kv_heads, c.head_dim(), c.rope_theta,
                         true);
      }
    } else if (L.mixer == Mixer::Linear) {
      const int64_t qk = c.linear_heads * c.feature_dim;
      TaylorShape s{batch_, seq_, c.linear_heads, c.feature_dim, d / c.linear_heads};
      taylor_backward(pool, s, P, P + qk, P + 2 * qk, ld, L.mix.data(), dmix_.data(), dP, dP + qk,
                      dP + 2 * qk);
    } else {
      conv_gate_backward(pool, batch_, seq_, 2 * d, P, W + L.kernel, L.conv.data(), dmix_.data(),
                         dP, G + L.kernel);
    }
    linear_backward(pool, L.xn1.data(), dP, N, d, W + L.proj, ld, dxn, G + L.proj,
                    L.proj_bias >= 0 ? G + L.proj_bias : nullptr, scratch_);
    rmsnorm_backward(pool, L.xin.data(), W + L.attn_norm, L.r1.data(), dxn, N, d, dx,
                     G + L.attn_norm);
  }
  embedding_backward(tokens_.data(), N, dx, d, G + embd_);
}

template class TrainModel<float>;
template class TrainModel<double>;

}  // namespace lc::train
