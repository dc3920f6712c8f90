#include "train/layers.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <type_traits>

#include "core/aligned.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "ops/amx/amx.h"
#include "ops/ops.h"
#include "train/layers_util.h"

namespace lc::train {

namespace {

std::atomic<MatmulPrecision> g_precision{MatmulPrecision::kHighest};

// Per-thread packed operands of the AMX products (grown once, then reused every step).
uint32_t* amx_scratch(int slot, int64_t bytes) {
  thread_local AlignedBuffer<uint32_t> bufs[2];
  AlignedBuffer<uint32_t>& b = bufs[slot];
  const auto words = static_cast<size_t>((bytes + 3) / 4);
  if (b.size() < words) b.resize(words);
  return b.data();
}

// Rows of A packed per AMX call of gemm_nt (their hi + lo, 2 * kAmxRows * K * 2 bytes, stay in L2),
// and rows n of a weight gradient per packed block of X.
constexpr int64_t kAmxRows = 256;
constexpr int64_t kAmxTnRows = 512;

// gemm_nt on tiles: threads own rows n (whole groups of 16); each packs its rows of A in chunks
// and runs them against all of B, split per 16 rows of B inside the kernel.
void gemm_nt_amx(ThreadPool& pool, const float* A, int64_t N, int64_t K, const float* B, int64_t M,
                 float* C) {
  pool.run_sized(N * M * K, [&](int t, int nt) {
    int64_t n0, n1;
    ThreadPool::split_range(N, 16, t, nt, &n0, &n1);
    const int64_t part = ops::amx::packed_x_bytes(kAmxRows, K);
    uint32_t* xp = amx_scratch(0, 2 * part);
    for (int64_t c = n0; c < n1; c += kAmxRows) {
      const int64_t n = std::min(kAmxRows, n1 - c);
      ops::amx::pack_x_split(A + c * K, K, n, K, xp, xp + part / 4);
      ops::amx::gemm_f32_split(B, K, K, xp, xp + part / 4, n, C + c * M, M, 0, M);
    }
  });
}

}  // namespace

void set_matmul_precision(MatmulPrecision p) {
  check(p == MatmulPrecision::kHighest || ops::amx::enabled(),
        "matmul precision high: needs AMX-BF16 tiles, which this CPU or OS does not grant (or "
        "LONGCTX_AMX=0 turned them off); use highest");
  g_precision.store(p, std::memory_order_relaxed);
}

MatmulPrecision matmul_precision() { return g_precision.load(std::memory_order_relaxed); }

template <typename T>
void gemm_nt(ThreadPool& pool, const T* A, int64_t N, int64_t K, const T* B, int64_t M, T* C) {
  if (N <= 0 || M <= 0) return;
  if constexpr (std::is_same_v<T, float>) {
    if (matmul_precision() == MatmulPrecision::kHigh && ops::amx::takes(K))
      return gemm_nt_amx(pool, A, N, K, B, M, C);
    const ops::GemmFn fn = ops::kernels().gemm_f32;
    pool.run_sized(N * M * K, [&](int t, int nt) {
      int64_t m0, m1;
      ThreadPool::split_range(M, 16, t, nt, &m0, &m1);
      if (m0 < m1) fn(B, K, A, K, N, C, M, m0, m1);
    });
  } else {
    for_rows(pool, N, M * K, [&](int64_t i) {
      const T* a = A + i * K;
      for (int64_t j = 0; j < M; ++j) {
        const T* b = B + j * K;
        T acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += a[k] * b[k];
        C[i * M + j] = acc;
      }
    });
  }
}

template <typename T>
void transpose(const T* in, int64_t R, int64_t C, T* out) {
  constexpr int64_t kTile = 32;
  for (int64_t r0 = 0; r0 < R; r0 += kTile)
    for (int64_t c0 = 0; c0 < C; c0 += kTile)
      for (int64_t r = r0; r < std::min(R, r0 + kTile); ++r)
        for (int64_t c = c0; c < std::min(C, c0 + kTile); ++c) out[c * R + r] = in[r * C + c];
}

namespace {

// transpose() with the tiles of 32 output rows split over the pool. Inside a 32 x 32 tile the
// writes run along the output rows: with R a multiple of 1024 (N = batch * seq), writing down an
// output column touched 32 lines 4 KiB apart (one L1 set) per input row and thrashed.
template <typename T>
void transpose_par(ThreadPool& pool, const T* in, int64_t R, int64_t C, T* out) {
  constexpr int64_t kTile = 32;
  for_rows(pool, (C + kTile - 1) / kTile, kTile * R, [&](int64_t tc) {
    const int64_t c0 = tc * kTile, c1 = std::min(C, c0 + kTile);
    for (int64_t r0 = 0; r0 < R; r0 += kTile) {
      const int64_t r1 = std::min(R, r0 + kTile);
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t r = r0; r < r1; ++r) out[c * R + r] = in[r * C + c];
    }
  });
}

}  // namespace

template <typename T>
void linear_forward(ThreadPool& pool, const T* X, int64_t N, int64_t K, const T* W, const T* b,
                    int64_t M, T* Y) {
  gemm_nt(pool, X, N, K, W, M, Y);
  if (b)
    for_rows(pool, N, M, [&](int64_t n) {
      for (int64_t m = 0; m < M; ++m) Y[n * M + m] += b[m];
    });
}

namespace {

// dW[M, K] += dY[N, M]^T X[N, K] in float through gemm_tn (neither operand transposed). Threads own
// ranges of output rows m, so every dW entry has one writer, and gemm_tn's order of additions does
// not depend on the split.
void dweight_f32(ThreadPool& pool, const float* X, const float* dY, int64_t N, int64_t K, int64_t M,
                 float* dW) {
  if (matmul_precision() == MatmulPrecision::kHigh) {
    // Threads own rows m (whole tiles of 16); each packs every block of X itself (a repeat of
    // N * K words per thread, against N * M * K / threads products) and adds the blocks in order.
    pool.run_sized(N * M * K, [&](int t, int nt) {
      int64_t m0, m1;
      ThreadPool::split_range(M, 16, t, nt, &m0, &m1);
      if (m0 >= m1) return;
      const int64_t part = ops::amx::tn_b_bytes(kAmxTnRows, K);
      uint32_t* bh = amx_scratch(1, 2 * part);
      for (int64_t n0 = 0; n0 < N; n0 += kAmxTnRows) {
        const int64_t n = std::min(kAmxTnRows, N - n0);
        ops::amx::pack_tn_b(X + n0 * K, K, n, K, bh, bh + part / 4);
        ops::amx::gemm_tn_split(dY + n0 * M, M, n, bh, bh + part / 4, K, dW, K, m0, m1);
      }
    });
    return;
  }
  const ops::GemmTnFn gemm_tn = ops::kernels().gemm_tn;
  pool.run_sized(N * M * K, [&](int t, int nt) {
    int64_t m0, m1;
    ThreadPool::split_range(M, 12, t, nt, &m0, &m1);  // whole groups of kTnRows (4 or 6)
    if (m0 < m1) gemm_tn(dY, M, X, K, N, K, dW, K, m0, m1);
  });
}

}  // namespace

template <typename T>
void linear_backward(ThreadPool& pool, const T* X, const T* dY, int64_t N, int64_t K, const T* W,
                     int64_t M, T* dX, T* dW, T* db, std::vector<T>& scratch) {
  if constexpr (std::is_same_v<T, float>) {
    // scratch: [K, M] W^T.
    const size_t need = static_cast<size_t>(K * M);
    if (scratch.size() < need) scratch.resize(need);
    float* wt = scratch.data();
    if (dX) {
      transpose_par(pool, W, M, K, wt);
      gemm_nt(pool, dY, N, M, wt, K, dX);  // dX[N, K] = dY[N, M] (W^T)[K, M]^T
    }
    dweight_f32(pool, X, dY, N, K, M, dW);
    if (db) {  // column sums of dY, each over n in ascending order; threads own column chunks
      constexpr int64_t kCols = 32;
      for_rows(pool, (M + kCols - 1) / kCols, kCols * N, [&](int64_t chunk) {
        const int64_t c0 = chunk * kCols, c1 = std::min(M, c0 + kCols);
        float acc[kCols] = {};
        for (int64_t n = 0; n < N; ++n)
          for (int64_t m = c0; m < c1; ++m) acc[m - c0] += dY[n * M + m];
        for (int64_t m = c0; m < c1; ++m) db[m] += acc[m - c0];
      });
    }
    return;
  }
  // The reference (and the double path): transpose, then gemm_nt.
  // scratch: [K, M] W^T | [M, N] dY^T | [K, N] X^T | [M, K] dW of this call.
  const size_t need = static_cast<size_t>(K * M + M * N + K * N + M * K);
  if (scratch.size() < need) scratch.resize(need);
  T* wt = scratch.data();
  T* dyt = wt + K * M;
  T* xt = dyt + M * N;
  T* dw = xt + K * N;
  if (dX) {
    transpose_par(pool, W, M, K, wt);
    gemm_nt(pool, dY, N, M, wt, K, dX);  // dX[N, K] = dY[N, M] (W^T)[K, M]^T
  }
  transpose_par(pool, dY, N, M, dyt);
  transpose_par(pool, X, N, K, xt);
  gemm_nt(pool, dyt, M, N, xt, K, dw);  // dW[M, K] = (dY^T)[M, N] (X^T)[K, N]^T
  for_rows(pool, M, K, [&](int64_t m) {
    for (int64_t k = 0; k < K; ++k) dW[m * K + k] += dw[m * K + k];
  });
  if (db)
    for_rows(pool, M, N, [&](int64_t m) {
      T acc = 0;
      for (int64_t n = 0; n < N; ++n) acc += dyt[m * N + n];
      db[m] += acc;
    });
}

template <typename T>
void embedding_forward(const int* tokens, int64_t N, const T* E, int64_t V, int64_t d, T* X) {
  for (int64_t n = 0; n < N; ++n) {
    check(tokens[n] >= 0 && tokens[n] < V, "embedding: token ", tokens[n], " at row ", n,
          " is outside the vocabulary [0, ", V, ")");
    std::copy(E + tokens[n] * d, E + (tokens[n] + 1) * d, X + n * d);
  }
}

template <typename T>
void embedding_backward(const int* tokens, int64_t N, const T* dX, int64_t d, T* dE) {
  for (int64_t n = 0; n < N; ++n) {
    T* row = dE + static_cast<int64_t>(tokens[n]) * d;
    for (int64_t i = 0; i < d; ++i) row[i] += dX[n * d + i];
  }
}

template <typename T>
void rmsnorm_forward(ThreadPool& pool, const T* X, const T* w, int64_t N, int64_t d, double eps,
                     T* Y, T* rinv) {
  for_rows(pool, N, d, [&](int64_t n) {
    const T* x = X + n * d;
    T ss = 0;
    for (int64_t i = 0; i < d; ++i) ss += x[i] * x[i];
    const T r = T(1) / std::sqrt(ss / T(d) + T(eps));
    rinv[n] = r;
    for (int64_t i = 0; i < d; ++i) Y[n * d + i] = x[i] * r * w[i];
  });
}

template <typename T>
void rmsnorm_backward(ThreadPool& pool, const T* X, const T* w, const T* rinv, const T* dY,
                      int64_t N, int64_t d, T* dX, T* dw) {
  // y_i = x_i r w_i, r = (mean(x^2) + eps)^(-1/2): dx_i = r w_i dy_i - r^3/d x_i sum_j w_j dy_j
  // x_j.
  for_rows(pool, N, d, [&](int64_t n) {
    const T* x = X + n * d;
    const T* dy = dY + n * d;
    const T r = rinv[n];
    T dot = 0;
    for (int64_t i = 0; i < d; ++i) dot += w[i] * dy[i] * x[i];
    const T c = r * r * r * dot / T(d);
    for (int64_t i = 0; i < d; ++i) dX[n * d + i] += r * w[i] * dy[i] - c * x[i];
  });
  // dw: each column summed over n in ascending order (as a plain loop would), but a thread owns a
  // chunk of kCols columns and walks the rows, so the reads are contiguous.
  constexpr int64_t kCols = 32;
  for_rows(pool, (d + kCols - 1) / kCols, kCols * N, [&](int64_t chunk) {
    const int64_t i0 = chunk * kCols, i1 = std::min(d, i0 + kCols);
    T acc[kCols] = {};
    for (int64_t n = 0; n < N; ++n) {
      const T r = rinv[n];
      for (int64_t i = i0; i < i1; ++i) acc[i - i0] += dY[n * d + i] * X[n * d + i] * r;
    }
    for (int64_t i = i0; i < i1; ++i) dw[i] += acc[i - i0];
  });
}

#define LC_TRAIN_INSTANTIATE(T)                                                                   \
  template void gemm_nt<T>(ThreadPool&, const T*, int64_t, int64_t, const T*, int64_t, T*);       \
  template void transpose<T>(const T*, int64_t, int64_t, T*);                                     \
  template void linear_forward<T>(ThreadPool&, const T*, int64_t, int64_t, const T*, const T*,    \
                                  int64_t, T*);                                                   \
  template void linear_backward<T>(ThreadPool&, const T*, const T*, int64_t, int64_t, const T*,   \
                                   int64_t, T*, T*, T*, std::vector<T>&);                         \
  template void embedding_forward<T>(const int*, int64_t, const T*, int64_t, int64_t, T*);        \
  template void embedding_backward<T>(const int*, int64_t, const T*, int64_t, T*);                \
  template void rmsnorm_forward<T>(ThreadPool&, const T*, const T*, int64_t, int64_t, double, T*, \
                                   T*);                                                           \
  template void rmsnorm_backward<T>(ThreadPool&, const T*, const T*, const T*, const T*, int64_t, \
                                    int64_t, T*, T*);

LC_TRAIN_INSTANTIATE(float)
LC_TRAIN_INSTANTIATE(double)
#undef LC_TRAIN_INSTANTIATE

}  // namespace lc::train
