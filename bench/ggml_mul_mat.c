// The llama.cpp yardstick of docs/perf/quant_q32.md: one-thread CPU time of ggml's mul_mat
// (W[M, K] of a 32-element quantized type times X[N, K] f32, X quantized inside, as in
// llama.cpp) for the shapes of ops_bench's qgemm cases. Not part of the build: compile it
// against a ggml build (its include/ and static libraries), e.g.
//   cmake -S ggml -B ggml/build -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DGGML_LLAMAFILE=ON \
//         -DBUILD_SHARED_LIBS=OFF -DGGML_OPENMP=OFF && cmake --build ggml/build --target ggml
//   cc -O2 -Iggml/include bench/ggml_mul_mat.c ggml/build/src/libggml.a \
//      ggml/build/src/libggml-cpu.a ggml/build/src/libggml-base.a -lstdc++ -lm -lpthread
//   taskset -c 1 ./a.out [type index 0..5]
// "cold" cycles through copies of W totalling 256 MiB, as qgemm's /cold cases do.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ggml-cpu.h"
#include "ggml.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

static void run(enum ggml_type type, int M, int K, int N, int cold) {
  size_t wbytes = ggml_row_size(type, K) * M;
  int copies = cold ? (int)((256u << 20) / wbytes + 1) : 1;
  size_t mem = copies * (wbytes + 1024) + (size_t)N * K * 4 + (size_t)N * M * 4 * copies +
               copies * 4096 + (64 << 20);
  struct ggml_init_params ip = {mem, NULL, false};
  struct ggml_context* ctx = ggml_init(ip);
  float* src = malloc(sizeof(float) * K * M);
  srand(1);
  for (int i = 0; i < K * M; ++i) src[i] = (rand() / (float)RAND_MAX - 0.5f);
  struct ggml_tensor* X = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, K, N);
  for (int i = 0; i < K * N; ++i) ((float*)X->data)[i] = (rand() / (float)RAND_MAX - 0.5f);
  struct ggml_cgraph** g = malloc(sizeof(*g) * copies);
  void* w0 = NULL;
  for (int c = 0; c < copies; ++c) {
    struct ggml_tensor* W = ggml_new_tensor_2d(ctx, type, K, M);
    if (c == 0)
      ggml_quantize_chunk(type, src, W->data, 0, M, K, NULL);
    else
      memcpy(W->data, w0, wbytes);
    if (c == 0) w0 = W->data;
    struct ggml_tensor* Y = ggml_mul_mat(ctx, W, X);
    g[c] = ggml_new_graph(ctx);
    ggml_build_forward_expand(g[c], Y);
  }
  struct ggml_threadpool_params tpp = ggml_threadpool_params_default(1);
  struct ggml_threadpool* tp = ggml_threadpool_new(&tpp);
  struct ggml_cplan plan = ggml_graph_plan(g[0], 1, tp);
  plan.work_data = malloc(plan.work_size + 64);
  for (int i = 0; i < 3; ++i) ggml_graph_compute(g[0], &plan);
  int iters = 0;
  double t0 = now(), t = 0;
  do {
    ggml_graph_compute(g[iters % copies], &plan);
    ++iters;
    t = now() - t0;
  } while (t < 0.3);
  double us = t / iters * 1e6;
  printf("ggml %-7s %dx%d N=%-3d %-5s %9.1f us  %6.2f GB/s\n", ggml_type_name(type), M, K, N,
         cold ? "cold" : "hot", us, wbytes / (us * 1e3));
  ggml_threadpool_free(tp);
  ggml_free(ctx);
  free(src);
  free(g);
}

int main(int argc, char** argv) {
  enum ggml_type types[] = {GGML_TYPE_Q4_0, GGML_TYPE_Q4_1, GGML_TYPE_Q5_0,
                            GGML_TYPE_Q5_1, GGML_TYPE_Q8_0, GGML_TYPE_IQ4_NL};
  int only = argc > 1 ? atoi(argv[1]) : -1;
  for (int i = 0; i < 6; ++i) {
    if (only >= 0 && only != i) continue;
    for (int s = 0; s < 2; ++s) {
      int M = s ? 1536 : 576, K = s ? 576 : 1536;
      run(types[i], M, K, 1, 0);
      run(types[i], M, K, 1, 1);
      run(types[i], M, K, 64, 0);
    }
  }
  return 0;
}
