// Training layers: forward AND backward passes for the pieces of a Llama-style or BASED-style
// model (../shared/specs/based.md, ../shared/specs/mqar.md). Every function is a template over
// the scalar type: float for training (matrix products through ops::kernels().gemm_f32), double
// for the finite-difference gradient checks in tests/train_layers_test.cc.
//
// Conventions (shared by every layer):
//  - activations are row-major [N, width] with N = batch * seq rows; sequence b owns rows
//    [b*seq, (b+1)*seq) and positions restart at 0 in every sequence;
//  - weights follow ops.h: a matrix W is [M, K] (M outputs, K inputs), y = x W^T;
//  - backward functions OVERWRITE input gradients (dX) unless a comment says "accumulate", and
//    always ACCUMULATE (+=) parameter gradients, so a tied weight can collect from two uses;
//  - work is split over a ThreadPool with a fixed partition and every reduction runs in a fixed
//    order, so results are bit-identical for a given thread count.
#pragma once
#include <cstdint>
#include <vector>

namespace lc {
class ThreadPool;
}

namespace lc::train {

inline constexpr int kIgnoreLabel = -100;  // a label that is not scored (as in PyTorch)

// How the float matrix products of the layers run (process-wide, set once before training, like
// torch.set_float32_matmul_precision):
//  - kHighest (the default): the f32 FMA kernels, ops::kernels().gemm_f32 and gemm_tn.
//  - kHigh: "bf16x3" on AMX tiles (ops/amx/amx.h): both operands split into two bf16 parts,
//    three tile passes, error <= ~3 * 2^-16 sum |a b| per output instead of f32's gamma_K.
//    Products whose contraction length is not a multiple of 32 (the forward and dX products
//    only; the weight gradient takes any length) and the attention stay on the f32 kernels.
enum class MatmulPrecision { kHighest, kHigh };
// Throws lc::Error when kHigh is asked for where AMX is not usable (ops::amx::enabled()).
void set_matmul_precision(MatmulPrecision p);
MatmulPrecision matmul_precision();

// C[N, M] = A[N, K] * B[M, K]^T (overwrites C).
template <typename T>
void gemm_nt(ThreadPool& pool, const T* A, int64_t N, int64_t K, const T* B, int64_t M, T* C);

// out[C, R] = in[R, C]^T.
template <typename T>
void transpose(const T* in, int64_t R, int64_t C, T* out);

// ---- Linear: Y[N, M] = X[N, K] W[M, K]^T + b ------------------------------------------------
template <typename T>
void linear_forward(ThreadPool& pool, const T* X, int64_t N, int64_t K, const T* W, const T* b,
                    int64_t M, T* Y);
// dX = dY W (skipped when dX is null); dW += dY^T X; db += column sums of dY (when db != null).
// scratch grows as needed (no allocation once it is large enough).
template <typename T>
void linear_backward(ThreadPool& pool, const T* X, const T* dY, int64_t N, int64_t K, const T* W,
                     int64_t M, T* dX, T* dW, T* db, std::vector<T>& scratch);

// ---- Token embedding: X[n] = E[tokens[n]] ---------------------------------------------------
// Throws lc::Error when a token is outside [0, V).
template <typename T>
void embedding_forward(const int* tokens, int64_t N, const T* E, int64_t V, int64_t d, T* X);
// dE[tokens[n]] += dX[n] (in row order: deterministic).
template <typename T>
void embedding_backward(const int* tokens, int64_t N, const T* dX, int64_t d, T* dE);

// ---- RMSNorm: Y = X / sqrt(mean(X^2) + eps) * w; rinv[n] = 1 / sqrt(mean(X[n]^2) + eps) -------
template <typename T>
void rmsnorm_forward(ThreadPool& pool, const T* X, const T* w, int64_t N, int64_t d, double eps,
                     T* Y, T* rinv);
// dX += (accumulate: X is a residual stream); dw += sum_n dY[n] * X[n] * rinv[n].
template <typename T>
void rmsnorm_backward(ThreadPool& pool, const T* X, const T* w, const T* rinv, const T* dY,
                      int64_t N, int64_t d, T* dX, T* dw);

// ---- RoPE, rotate-half (GPT-NeoX / Hugging Face) convention ----------------------------------
// Rotates (x[i], x[i + hd/2]) of every head by pos * theta^(-2i/hd), pos = row % seq. `inverse`
// rotates by the negative angle, which is the backward pass (a rotation's transpose).
template <typename T>
void rope_rotate_half(ThreadPool& pool, T* X, int64_t ld, int64_t N, int64_t seq, int64_t n_heads,
                      int64_t head_dim, double theta, bool inverse);

// ---- Causal softmax attention (multi-head, GQA; full or sliding window) ----------------------
struct AttnShape {
  int64_t batch = 1, seq = 1;
  int64_t n_heads = 1, n_kv_heads = 1, head_dim = 1;
  int64_t window = 0;  // > 0: query i attends keys i - window < j <= i; 0: every j <= i
};
// q: [N, n_heads*hd], k, v: [N, n_kv_heads*hd], rows at stride ld (so a fused [q | k | v]
// projection is read in place). out: [N, n_heads*hd] (row stride n_heads*hd). Scale 1/sqrt(hd).
template <typename T>
void attention_forward(ThreadPool& pool, const AttnShape& s, const T* q, const T* k, const T* v,
                       int64_t ld, T* out);
// Recomputes the probabilities (nothing stored but `out`); writes dq, dk, dv (same layout and
// stride ld as q, k, v).
template <typename T>
void attention_backward(ThreadPool& pool, const AttnShape& s, const T* q, const T* k, const T* v,
                        int64_t ld, const T* out, const T* dout, T* dq, T* dk, T* dv);
// The two paths behind attention_forward/backward: the reference, row by row with dot/axpy (the
// double instantiation, and float when seq > kAttnGemmMaxSeq), and for float the per-(sequence,
// head) matrix-kernel version (attention_gemm.cc), whose [seq, seq] scratch bounds its length.
inline constexpr int64_t kAttnGemmMaxSeq = 2048;
template <typename T>
void attention_forward_ref(ThreadPool& pool, const AttnShape& s, const T* q, const T* k, const T* v,
                           int64_t ld, T* out);
template <typename T>
void attention_backward_ref(ThreadPool& pool, const AttnShape& s, const T* q, const T* k,
                            const T* v, int64_t ld, const T* out, const T* dout, T* dq, T* dk,
                            T* dv);
void attention_forward_gemm(ThreadPool& pool, const AttnShape& s, const float* q, const float* k,
                            const float* v, int64_t ld, float* out);
void attention_backward_gemm(ThreadPool& pool, const AttnShape& s, const float* q, const float* k,
                             const float* v, int64_t ld, const float* out, const float* dout,
                             float* dq, float* dk, float* dv);

// ---- Taylor linear attention (BASED) -----------------------------------------------------------
// y_n = sum_{m<=n} a_nm v_m / (sum_{m<=n} a_nm + 1e-12), a = 1 + s + s^2/2, s = q_n.k_m/sqrt(f)
// (the quadratic form; fine for training lengths <= 1024).
struct TaylorShape {
  int64_t batch = 1, seq = 1;
  int64_t n_heads = 1, feature_dim = 1, head_dim = 1;  // head_dim: value width per head
};
inline constexpr double kTaylorEps = 1e-12;
// q, k: [N, n_heads*f], v: [N, n_heads*head_dim], rows at stride ld. out: [N, n_heads*head_dim].
template <typename T>
void taylor_forward(ThreadPool& pool, const TaylorShape& s, const T* q, const T* k, const T* v,
                    int64_t ld, T* out);
template <typename T>
void taylor_backward(ThreadPool& pool, const TaylorShape& s, const T* q, const T* k, const T* v,
                     int64_t ld, const T* out, const T* dout, T* dq, T* dk, T* dv);

// ---- BaseConv core: causal depthwise conv (kernel 3) and the silu gate -------------------------
// u: [N, 2*width] = [u1 | u2] (the in_proj output), kernel: [width][3],
// c[t] = k0 u1[t-2] + k1 u1[t-1] + k2 u1[t] (zero before the sequence start), g = silu(c) * u2.
template <typename T>
void conv_gate_forward(ThreadPool& pool, int64_t batch, int64_t seq, int64_t width, const T* u,
                       const T* kernel, T* c, T* g);
// du: [N, 2*width] (overwritten); dkernel += .
template <typename T>
void conv_gate_backward(ThreadPool& pool, int64_t batch, int64_t seq, int64_t width, const T* u,
                        const T* kernel, const T* c, const T* dg, T* du, T* dkernel);

// ---- SwiGLU gate: a = [value | gate] ([N, 2h], BASED's fc1 layout), m = value * silu(gate) -----
template <typename T>
void swiglu_forward(ThreadPool& pool, const T* a, int64_t N, int64_t h, T* m);
template <typename T>
void swiglu_backward(ThreadPool& pool, const T* a, const T* dm, int64_t N, int64_t h, T* da);

// ---- Cross-entropy over logits [N, V] with labels (kIgnoreLabel = not scored) -----------------
// Returns the mean loss over scored rows (0 when none) and their count in *n_scored; writes
// dlogits = d(mean loss)/d(logits) (zero rows for ignored labels) when dlogits != null.
// Throws when a label is outside [0, V) and not kIgnoreLabel.
template <typename T>
double cross_entropy(ThreadPool& pool, const T* logits, const int* labels, int64_t N, int64_t V,
                     T* dlogits, int64_t* n_scored);

}  // namespace lc::train
