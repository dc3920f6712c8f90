// The training layers that mix tokens (RoPE, softmax attention, Taylor linear attention, the
// gated short convolution), the SwiGLU MLP gate and the cross-entropy loss; the linear,
// embedding and norm layers are in layers.cc. Conventions: layers.h.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "core/error.h"
#include "core/thread_pool.h"
#include "ops/ops.h"
#include "train/layers.h"
#include "train/layers_util.h"

namespace lc::train {

using detail::sigmoid;
using detail::vaxpy;
using detail::vdot;

template <typename T>
void rope_rotate_half(ThreadPool& pool, T* X, int64_t ld, int64_t N, int64_t seq, int64_t n_heads,
                      int64_t head_dim, double theta, bool inverse) {
  const int64_t half = head_dim / 2, n_pos = std::min(N, seq);
  // cos/sin of every (position, i) once per call: [n_pos, half] each, in double as before.
  // The calling thread's buffer (kept: no allocation per call once large enough), reached from
  // the workers through `cs`, never by name (a thread_local names each thread's own copy).
  thread_local std::vector<T> table;
  table.resize(static_cast<size_t>(2 * n_pos * half));
  T* cs = table.data();
  for_rows(pool, n_pos, 40 * half, [&](int64_t p) {
    for (int64_t i = 0; i < half; ++i) {
      const double ang =
          static_cast<double>(p) * std::pow(theta, -2.0 * static_cast<double>(i) / head_dim);
      cs[2 * (p * half + i)] = static_cast<T>(std::cos(ang));
      cs[2 * (p * half + i) + 1] = static_cast<T>(inverse ? -std::sin(ang) : std::sin(ang));
    }
  });
  for_rows(pool, N, n_heads * head_dim, [&](int64_t n) {
    const int64_t p = n % seq;
    for (int64_t i = 0; i < half; ++i) {
      const T c = cs[2 * (p * half + i)], s = cs[2 * (p * half + i) + 1];
      for (int64_t h = 0; h < n_heads; ++h) {
        T* x = X + n * ld + h * head_dim;
        const T a = x[i], b = x[i + half];
        x[i] = a * c - b * s;
        x[i + half] = a * s + b * c;
      }
    }
  });
}

template <typename T>
void attention_forward(ThreadPool& pool, const AttnShape& s, const T* q, const T* k, const T* v,
                       int64_t ld, T* out) {
  if constexpr (std::is_same_v<T, float>) {
    if (s.seq <= kAttnGemmMaxSeq) return attention_forward_gemm(pool, s, q, k, v, ld, out);
  }
  attention_forward_ref(pool, s, q, k, v, ld, out);
}

template <typename T>
void attention_backward(ThreadPool& pool, const AttnShape& s, const T* q, const T* k, const T* v,
                        int64_t ld, const T* out, const T* dout, T* dq, T* dk, T* dv) {
  if constexpr (std::is_same_v<T, float>) {
    if (s.seq <= kAttnGemmMaxSeq)
      return attention_backward_gemm(pool, s, q, k, v, ld, out, dout, dq, dk, dv);
  }
  attention_backward_ref(pool, s, q, k, v, ld, out, dout, dq, dk, dv);
}

namespace {

// One query row of the reference attention: p[j] = exp(q.k_j / sqrt(hd) - max) for the keys
// j in [lo, i] (k: the sequence's first key of this head, rows at stride ld); returns sum_j p[j].
template <typename T>
T softmax_row_ref(const AttnShape& s, const T* qi, const T* k, int64_t ld, int64_t lo, int64_t i,
                  T* p) {
  const T scale = T(1) / std::sqrt(T(s.head_dim));
  T mx = -INFINITY;
  for (int64_t j = lo; j <= i; ++j) {
    p[j] = vdot(qi, k + j * ld, s.head_dim) * scale;
    mx = std::max(mx, p[j]);
  }
  T sum = 0;
  for (int64_t j = lo; j <= i; ++j) sum += (p[j] = std::exp(p[j] - mx));
  return sum;
}

}  // namespace

template <typename T>
void attention_forward_ref(ThreadPool& pool, const AttnShape& s, const T* q, const T* k, const T* v,
                           int64_t ld, T* out) {
  const int64_t hd = s.head_dim, group = s.n_heads / s.n_kv_heads, ldo = s.n_heads * hd;
  for_rows(pool, s.batch * s.n_heads, s.seq * s.seq * hd, [&](int64_t unit) {
    const int64_t b = unit / s.n_heads, h = unit % s.n_heads, kh = h / group;
    std::vector<T> p(static_cast<size_t>(s.seq));
    for (int64_t i = 0; i < s.seq; ++i) {
      const int64_t lo = s.window > 0 ? std::max<int64_t>(0, i - s.window + 1) : 0;
      const T sum = softmax_row_ref(s, q + (b * s.seq + i) * ld + h * hd,
                                    k + b * s.seq * ld + kh * hd, ld, lo, i, p.data());
      T* o = out + (b * s.seq + i) * ldo + h * hd;
      std::fill(o, o + hd, T(0));
      for (int64_t j = lo; j <= i; ++j) {
        vaxpy(p[j] / sum, v + (b * s.seq + j) * ld + kh * hd, o, hd);
      }
    }
  });
}

template <typename T>
void attention_backward_ref(ThreadPool& pool, const AttnShape& s, const T* q, const T* k,
                            const T* v, int64_t ld, const T* out, const T* dout, T* dq, T* dk,
                            T* dv) {
  const int64_t hd = s.head_dim, group = s.n_heads / s.n_kv_heads, ldo = s.n_heads * hd;
  const T scale = T(1) / std::sqrt(T(hd));
  // One unit per (sequence, kv head): it owns dk/dv of that head, so no two threads write the
  // same memory and every sum runs in a fixed order.
  for_rows(pool, s.batch * s.n_kv_heads, 2 * group * s.seq * s.seq * hd, [&](int64_t unit) {
    const int64_t b = unit / s.n_kv_heads, kh = unit % s.n_kv_heads;
    std::vector<T> p(static_cast<size_t>(s.seq));
    for (int64_t j = 0; j < s.seq; ++j) {
      std::fill(dk + (b * s.seq + j) * ld + kh * hd, dk + (b * s.seq + j) * ld + (kh + 1) * hd,
                T(0));
      std::fill(dv + (b * s.seq + j) * ld + kh * hd, dv + (b * s.seq + j) * ld + (kh + 1) * hd,
                T(0));
    }
    for (int64_t h = kh * group; h < (kh + 1) * group; ++h) {
      for (int64_t i = 0; i < s.seq; ++i) {
        const int64_t lo = s.window > 0 ? std::max<int64_t>(0, i - s.window + 1) : 0;
        const T* qi = q + (b * s.seq + i) * ld + h * hd;
        const T sum = softmax_row_ref(s, qi, k + b * s.seq * ld + kh * hd, ld, lo, i, p.data());
        const T* doi = dout + (b * s.seq + i) * ldo + h * hd;
        const T* oi = out + (b * s.seq + i) * ldo + h * hd;
        T D = 0;  // sum_j p_j (do . v_j) = do . o
        for (int64_t x = 0; x < hd; ++x) D += doi[x] * oi[x];
        T* dqi = dq + (b * s.seq + i) * ld + h * hd;
        std::fill(dqi, dqi + hd, T(0));
        for (int64_t j = lo; j <= i; ++j) {
          const T pj = p[j] / sum;
          const T* vj = v + (b * s.seq + j) * ld + kh * hd;
          const T* kj = k + (b * s.seq + j) * ld + kh * hd;
          T* dvj = dv + (b * s.seq + j) * ld + kh * hd;
          T* dkj = dk + (b * s.seq + j) * ld + kh * hd;
          const T ds = pj * (vdot(doi, vj, hd) - D) * scale;
          vaxpy(pj, doi, dvj, hd);
          vaxpy(ds, kj, dqi, hd);
          vaxpy(ds, qi, dkj, hd);
        }
      }
    }
  });
}

template <typename T>
void taylor_forward(ThreadPool& pool, const TaylorShape& s, const T* q, const T* k, const T* v,
                    int64_t ld, T* out) {
  const int64_t f = s.feature_dim, dv = s.head_dim, ldo = s.n_heads * dv;
  const T rs = T(1) / std::sqrt(T(f));
  for_rows(pool, s.batch * s.n_heads, s.seq * s.seq * (f + dv), [&](int64_t unit) {
    const int64_t b = unit / s.n_heads, h = unit % s.n_heads;
    for (int64_t n = 0; n < s.seq; ++n) {
      const T* qn = q + (b * s.seq + n) * ld + h * f;
      T* o = out + (b * s.seq + n) * ldo + h * dv;
      std::fill(o, o + dv, T(0));
      T z = 0;
      for (int64_t m = 0; m <= n; ++m) {
        const T sc = vdot(qn, k + (b * s.seq + m) * ld + h * f, f) * rs;
        const T a = T(1) + sc + sc * sc / T(2);
        z += a;
        vaxpy(a, v + (b * s.seq + m) * ld + h * dv, o, dv);
      }
      const T inv = T(1) / (z + T(kTaylorEps));
      for (int64_t x = 0; x < dv; ++x) o[x] *= inv;
    }
  });
}

template <typename T>
void taylor_backward(ThreadPool& pool, const TaylorShape& s, const T* q, const T* k, const T* v,
                     int64_t ld, const T* out, const T* dout, T* dq, T* dk, T* dv) {
  const int64_t f = s.feature_dim, hv = s.head_dim, ldo = s.n_heads * hv;
  const T rs = T(1) / std::sqrt(T(f));
  // y_n = sum_m a_nm v_m / Z_n: dv_m += a_nm/Z_n dy_n; da_nm = dy_n.(v_m - y_n)/Z_n;
  // ds_nm = da_nm (1 + s_nm); dq_n += ds_nm k_m / sqrt(f); dk_m += ds_nm q_n / sqrt(f).
  for_rows(pool, s.batch * s.n_heads, 2 * s.seq * s.seq * (f + hv), [&](int64_t unit) {
    const int64_t b = unit / s.n_heads, h = unit % s.n_heads;
    for (int64_t m = 0; m < s.seq; ++m) {
      std::fill(dk + (b * s.seq + m) * ld + h * f, dk + (b * s.seq + m) * ld + (h + 1) * f, T(0));
      std::fill(dv + (b * s.seq + m) * ld + h * hv, dv + (b * s.seq + m) * ld + (h + 1) * hv, T(0));
    }
    for (int64_t n = 0; n < s.seq; ++n) {
      const T* qn = q + (b * s.seq + n) * ld + h * f;
      const T* yn = out + (b * s.seq + n) * ldo + h * hv;
      const T* dyn = dout + (b * s.seq + n) * ldo + h * hv;
      // Z_n again (recomputed rather than stored).
      T z = 0;
      for (int64_t m = 0; m <= n; ++m) {
        const T* km = k + (b * s.seq + m) * ld + h * f;
        T dot = 0;
        for (int64_t x = 0; x < f; ++x) dot += qn[x] * km[x];
        const T sc = dot * rs;
        z += T(1) + sc + sc * sc / T(2);
      }
      const T inv = T(1) / (z + T(kTaylorEps));
      T dyy = 0;
      for (int64_t x = 0; x < hv; ++x) dyy += dyn[x] * yn[x];
      T* dqn = dq + (b * s.seq + n) * ld + h * f;
      std::fill(dqn, dqn + f, T(0));
      for (int64_t m = 0; m <= n; ++m) {
        const T* km = k + (b * s.seq + m) * ld + h * f;
        const T* vm = v + (b * s.seq + m) * ld + h * hv;
        T* dkm = dk + (b * s.seq + m) * ld + h * f;
        T* dvm = dv + (b * s.seq + m) * ld + h * hv;
        T dot = 0;
        for (int64_t x = 0; x < f; ++x) dot += qn[x] * km[x];
        const T sc = dot * rs;
        const T a = T(1) + sc + sc * sc / T(2);
        const T ds = (vdot(dyn, vm, hv) - dyy) * inv * (T(1) + sc) * rs;
        vaxpy(a * inv, dyn, dvm, hv);
        vaxpy(ds, km, dqn, f);
        vaxpy(ds, qn, dkm, f);
      }
    }
  });
}

template <typename T>
void conv_gate_forward(ThreadPool& pool, int64_t batch, int64_t seq, int64_t width, const T* u,
                       const T* kernel, T* c, T* g) {
  const int64_t ldu = 2 * width;
  for_rows(pool, batch * seq, 4 * width, [&](int64_t n) {
    const int64_t t = n % seq;
    for (int64_t i = 0; i < width; ++i) {
      const T* w = kernel + i * 3;
      T acc = w[2] * u[n * ldu + i];
      if (t >= 1) acc += w[1] * u[(n - 1) * ldu + i];
      if (t >= 2) acc += w[0] * u[(n - 2) * ldu + i];
      c[n * width + i] = acc;
      g[n * width + i] = acc * sigmoid(acc) * u[n * ldu + width + i];
    }
  });
}

template <typename T>
void conv_gate_backward(ThreadPool& pool, int64_t batch, int64_t seq, int64_t width, const T* u,
                        const T* kernel, const T* c, const T* dg, T* du, T* dkernel) {
  const int64_t ldu = 2 * width, N = batch * seq;
  // dc (kept in the u1 half of du until the conv's transpose below reads it) and du2.
  std::vector<T> dc(static_cast<size_t>(N * width));
  for_rows(pool, N, 4 * width, [&](int64_t n) {
    for (int64_t i = 0; i < width; ++i) {
      const T ci = c[n * width + i], sg = sigmoid(ci);
      const T d = dg[n * width + i];
      du[n * ldu + width + i] = d * ci * sg;
      dc[n * width + i] = d * u[n * ldu + width + i] * sg * (T(1) + ci * (T(1) - sg));
    }
  });
  // du1[t] = k2 dc[t] + k1 dc[t+1] + k0 dc[t+2] (within the sequence).
  for_rows(pool, N, 3 * width, [&](int64_t n) {
    const int64_t t = n % seq;
    for (int64_t i = 0; i < width; ++i) {
      const T* w = kernel + i * 3;
      T acc = w[2] * dc[n * width + i];
      if (t + 1 < seq) acc += w[1] * dc[(n + 1) * width + i];
      if (t + 2 < seq) acc += w[0] * dc[(n + 2) * width + i];
      du[n * ldu + i] = acc;
    }
  });
  for_rows(pool, width, 3 * N, [&](int64_t i) {
    T a0 = 0, a1 = 0, a2 = 0;
    for (int64_t n = 0; n < N; ++n) {
      const int64_t t = n % seq;
      const T d = dc[n * width + i];
      a2 += d * u[n * ldu + i];
      if (t >= 1) a1 += d * u[(n - 1) * ldu + i];
      if (t >= 2) a0 += d * u[(n - 2) * ldu + i];
    }
    dkernel[i * 3 + 0] += a0;
    dkernel[i * 3 + 1] += a1;
    dkernel[i * 3 + 2] += a2;
  });
}

template <typename T>
void swiglu_forward(ThreadPool& pool, const T* a, int64_t N, int64_t h, T* m) {
  if constexpr (std::is_same_v<T, float>) {  // the engine's SIMD silu_mul (as its MLP uses)
    const auto silu_mul = ops::kernels().silu_mul;
    for_rows(pool, N, 4 * h, [&](int64_t n) {
      std::copy(a + n * 2 * h + h, a + (n + 1) * 2 * h, m + n * h);  // gate
      silu_mul(m + n * h, a + n * 2 * h, h);                         // silu(gate) * value
    });
    return;
  }
  for_rows(pool, N, 4 * h, [&](int64_t n) {
    for (int64_t i = 0; i < h; ++i) {
      const T val = a[n * 2 * h + i], gate = a[n * 2 * h + h + i];
      m[n * h + i] = val * gate * sigmoid(gate);
    }
  });
}

template <typename T>
void swiglu_backward(ThreadPool& pool, const T* a, const T* dm, int64_t N, int64_t h, T* da) {
  // d/dval = silu(gate), d/dgate = val * (sg + silu(gate) (1 - sg)), sg = sigmoid(gate).
  if constexpr (std::is_same_v<T, float>) {
    // silu(gate) by the SIMD silu_mul kernel (times ones), sg = silu(gate) / gate; near 0, where
    // that division loses digits, sg = 1/2 + gate/4 (the next term, gate^3/48, is < 3e-11).
    const auto silu_mul = ops::kernels().silu_mul;
    for_rows(pool, N, 6 * h, [&](int64_t n) {
      thread_local std::vector<float> silu, ones;  // [h] each; grown once per thread
      if (static_cast<int64_t>(ones.size()) < h) {
        silu.resize(h);
        ones.assign(h, 1.0f);
      }
      const float* val = a + n * 2 * h;
      const float* gate = val + h;
      std::copy(gate, gate + h, silu.data());
      silu_mul(silu.data(), ones.data(), h);
      const float* d = dm + n * h;
      float* dval = da + n * 2 * h;
      float* dgate = dval + h;
      for (int64_t i = 0; i < h; ++i) {
        const float g = gate[i], si = silu[i];
        const float sg = std::abs(g) < 1e-3f ? 0.5f + 0.25f * g : si / g;
        dval[i] = d[i] * si;
        dgate[i] = d[i] * val[i] * (sg + si * (1.0f - sg));
      }
    });
    return;
  }
  for_rows(pool, N, 6 * h, [&](int64_t n) {
    for (int64_t i = 0; i < h; ++i) {
      const T val = a[n * 2 * h + i], gate = a[n * 2 * h + h + i], sg = sigmoid(gate);
      const T d = dm[n * h + i];
      da[n * 2 * h + i] = d * gate * sg;
      da[n * 2 * h + h + i] = d * val * sg * (T(1) + gate * (T(1) - sg));
    }
  });
}

template <typename T>
double cross_entropy(ThreadPool& pool, const T* logits, const int* labels, int64_t N, int64_t V,
                     T* dlogits, int64_t* n_scored) {
  int64_t count = 0;
  for (int64_t n = 0; n < N; ++n) {
    if (labels[n] == kIgnoreLabel) continue;
    check(labels[n] >= 0 && labels[n] < V, "cross_entropy: label ", labels[n], " at row ", n,
          " is outside [0, ", V, ") and not ", kIgnoreLabel);
    ++count;
  }
  *n_scored = count;
  std::vector<double> row_loss(static_cast<size_t>(N), 0.0);
  const T inv_count = count > 0 ? T(1) / T(count) : T(0);
  for_rows(pool, N, 3 * V, [&](int64_t n) {
    const T* z = logits + n * V;
    T* dz = dlogits ? dlogits + n * V : nullptr;
    if (labels[n] == kIgnoreLabel) {
      if (dz) std::fill(dz, dz + V, T(0));
      return;
    }
    T mx = z[0];
    for (int64_t i = 1; i < V; ++i) mx = std::max(mx, z[i]);
    double sum = 0;
    if (dz) {  // one exp per logit: kept in dz, then normalised
      for (int64_t i = 0; i < V; ++i) {
        const double e = std::exp(static_cast<double>(z[i] - mx));
        dz[i] = static_cast<T>(e);
        sum += e;
      }
      const double inv_sum = 1.0 / sum;
      for (int64_t i = 0; i < V; ++i)
        dz[i] = static_cast<T>(static_cast<double>(dz[i]) * inv_sum) * inv_count;
      dz[labels[n]] -= inv_count;
    } else {
      for (int64_t i = 0; i < V; ++i) sum += std::exp(static_cast<double>(z[i] - mx));
    }
    row_loss[n] = std::log(sum) - static_cast<double>(z[labels[n]] - mx);
  });
  double total = 0;
  for (int64_t n = 0; n < N; ++n) total += row_loss[n];
  return count > 0 ? total / static_cast<double>(count) : 0.0;
}

#define LC_TRAIN_INSTANTIATE(T)                                                                    \
  template void rope_rotate_half<T>(ThreadPool&, T*, int64_t, int64_t, int64_t, int64_t, int64_t,  \
                                    double, bool);                                                 \
  template void attention_forward<T>(ThreadPool&, const AttnShape&, const T*, const T*, const T*,  \
                                     int64_t, T*);                                                 \
  template void attention_backward<T>(ThreadPool&, const AttnShape&, const T*, const T*, const T*, \
                                      int64_t, const T*, const T*, T*, T*, T*);                    \
  template void attention_forward_ref<T>(ThreadPool&, const AttnShape&, const T*, const T*,        \
                                         const T*, int64_t, T*);                                   \
  template void attention_backward_ref<T>(ThreadPool&, const AttnShape&, const T*, const T*,       \
                                          const T*, int64_t, const T*, const T*, T*, T*, T*);      \
  template void taylor_forward<T>(ThreadPool&, const TaylorShape&, const T*, const T*, const T*,   \
                                  int64_t, T*);                                                    \
  template void taylor_backward<T>(ThreadPool&, const TaylorShape&, const T*, const T*, const T*,  \
                                   int64_t, const T*, const T*, T*, T*, T*);                       \
  template void conv_gate_forward<T>(ThreadPool&, int64_t, int64_t, int64_t, const T*, const T*,   \
                                     T*, T*);                                                      \
  template void conv_gate_backward<T>(ThreadPool&, int64_t, int64_t, int64_t, const T*, const T*,  \
                                      const T*, const T*, T*, T*);                                 \
  template void swiglu_forward<T>(ThreadPool&, const T*, int64_t, int64_t, T*);                    \
  template void swiglu_backward<T>(ThreadPool&, const T*, const T*, int64_t, int64_t, T*);         \
  template double cross_entropy<T>(ThreadPool&, const T*, const int*, int64_t, int64_t, T*,        \
                                   int64_t*);

LC_TRAIN_INSTANTIATE(float)
LC_TRAIN_INSTANTIATE(double)
#undef LC_TRAIN_INSTANTIATE

}  // namespace lc::train
