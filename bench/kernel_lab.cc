// The kernel lab (issue 19): the prefill kernels next to a slow reference and to the machine's
// measured FMA peak, in one run. Every variant is first checked against the reference (max
// |error| over the whole output, a failed check ends the run with exit 1), then all variants and
// the peak loop are timed round by round in turn (interleaved, so that a noisy neighbour hits them
// alike); the report gives each one's median and min-max GFLOP/s and its share of the AVX-512
// peak measured in the same rounds. One thread throughout: the kernels, not the thread pool.
//
// Problems (SmolLM2-135M's shapes, the default bf16 KV cache and f32):
//  attention/<kv>/n:<keys>  one kv head, 3 query heads, 16 query rows (48 query vectors) against
//      n keys and values of type kv, every key visible (the inside of a long prefill);
//      FLOPs = 4 * head_dim * n * 48 (scores and value sums). Reference: a dense softmax in
//      double. Variants: v1 rows = the row kernels (scores by the table's gemm, softmax, weighted
//      sum: the path before the tiled kernel, still used by decode), v2 flash = the tiled kernel
//      (KernelTable::flash_tile) driven over 32-key tiles as attention/flash.cc does, in blocks of
//      flash_max_m query vectors; bf16 where the CPU grants AMX: v3 amx = the same blocks through
//      amx::pack_flash_q + amx::flash_tile_bf16 (ops/amx/flash_amx.h; queries and probabilities
//      rounded to bf16, so its error is bf16's, not f32's; FLOPs counted as for the others).
//  gemm/<w>/<M>x<K>/N:<N>  Y = X W^T for W of type w (SmolLM2's MLP up projection at a 64-row
//      prefill block); FLOPs = 2 M K N; reference ops::ref::gemm; v1 = the table's gemm_<w> (dot
//      products along K, 4 x 6 micro-tiles, a horizontal sum per output), v2 = pack_xt + the
//      table's gemm_xt_<w> (X transposed, outer products; kernels_gemm_xt.h), as matmul runs them;
//      bf16 where the CPU grants AMX: v3 amx = amx::pack_x + amx::gemm_bf16 (ops/amx/amx.h).
//  qgemm/<w>/<M>x<K>/N:<N>  the same product with W quantized (Q4_1: SmolLM2's file, Q8_0): X
//      quantized per row (timed) and the quant table's integer kernel (ops/quant/kernels.h); the
//      reference dequantizes W, so X's 8-bit rounding is part of the error. Its "% of peak" is
//      still against the f32 FMA peak (the int8 units' peak is higher; the figure compares the
//      products' speed, not each unit's use).
// Each variant runs on every ISA the CPU has (generic, avx2, avx512).
//
// Usage: kernel_lab [--rounds R] [--keys N] [--filter TEXT] [--json FILE]
// --filter keeps the variants whose "problem variant isa" contains TEXT (e.g. "flash avx512").
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/aligned.h"
#include "core/cpu.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "fma_peak.h"
#include "ops/amx/amx.h"
#include "ops/amx/flash_amx.h"
#include "ops/ops.h"
#include "ops/quant/dequant.h"
#include "ops/quant/kernels.h"
#include "ops/quant/quantize.h"
#include "ops/reference.h"

namespace {

using lc::DType;
using lc::Isa;
namespace ops = lc::ops;
using lc::bench::now_s;

constexpr int64_t kHd = 64, kGroup = 3, kRows = 16, kQ = kRows * kGroup;

struct Variant {
  std::string problem, name, isa;
  double flops = 0;    // per call
  double max_err = 0;  // against the reference
  std::function<void()> run;
  std::vector<double> gflops;  // one per round
};

float value(DType t, const void* p, int64_t i) {
  if (t == DType::F32) return static_cast<const float*>(p)[i];
  return lc::bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
}

// n uniform values in [-1, 1) as type t (f32 or bf16).
lc::AlignedBuffer<uint8_t> random_rows(DType t, int64_t n, uint64_t seed) {
  lc::AlignedBuffer<uint8_t> b(static_cast<size_t>(n) * lc::dtype_size(t));
  lc::Rng rng(seed);
  for (int64_t i = 0; i < n; ++i) {
    const float v = rng.uniform() * 2.0f - 1.0f;
    if (t == DType::F32)
      reinterpret_cast<float*>(b.data())[i] = v;
    else
      reinterpret_cast<uint16_t*>(b.data())[i] = lc::f32_to_bf16(v);
  }
  return b;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

// ---- attention ---------------------------------------------------------------------------
struct AttentionProblem {
  DType kv;
  int64_t n;
  std::vector<float> q;  // [kQ][kHd], already scaled by 1/sqrt(hd); vector i = row i/3, head i%3
  lc::AlignedBuffer<uint8_t> k, v;  // [n][kHd]
  std::vector<double> expected;     // [kQ][kHd]
};

void reference_attention(AttentionProblem& p) {
  p.expected.assign(kQ * kHd, 0.0);
  std::vector<double> s(p.n);
  for (int64_t i = 0; i < kQ; ++i) {
    double mx = -1e300, sum = 0;
    for (int64_t j = 0; j < p.n; ++j) {
      double d = 0;
      for (int64_t c = 0; c < kHd; ++c)
        d += double(p.q[i * kHd + c]) * value(p.kv, p.k.data(), j * kHd + c);
      s[j] = d;
      mx = std::max(mx, d);
    }
    for (int64_t j = 0; j < p.n; ++j) sum += (s[j] = std::exp(s[j] - mx));
    for (int64_t j = 0; j < p.n; ++j)
      for (int64_t c = 0; c < kHd; ++c)
        p.expected[i * kHd + c] += s[j] / sum * value(p.kv, p.v.data(), j * kHd + c);
  }
}

// v1: per row, the group's scores by the gemm, a softmax per head, the weighted sum.
struct RowsRunner {
  const ops::KernelTable* K;
  const AttentionProblem* p;
  std::vector<float> scores, out;
  void operator()() {
    const auto gemm = ops::gemm_for(*K, p->kv);
    const auto wsum = p->kv == DType::F32 ? K->weighted_sum : K->weighted_sum_bf16;
    for (int64_t r = 0; r < kRows; ++r) {
      const float* q = p->q.data() + r * kGroup * kHd;
      gemm(p->k.data(), kHd, q, kHd, kGroup, scores.data(), p->n, 0, p->n);
      for (int64_t h = 0; h < kGroup; ++h) K->softmax(scores.data() + h * p->n, p->n);
      wsum(scores.data(), p->n, kGroup, p->v.data(), kHd, p->n, kHd, out.data() + r * kGroup * kHd,
           kHd);
    }
  }
};

// v2: blocks of flash_max_m query vectors (whole rows), tiles of kFlashKeys keys.
struct FlashRunner {
  const ops::KernelTable* K;
  const AttentionProblem* p;
  lc::AlignedBuffer<float> qt, mx, l, ot, work;
  std::vector<float> out;
  bool amx = false;  // v3: the AMX tile
  std::vector<uint32_t> qp;
  void operator()() {
    const int64_t lanes = K->flash_lanes;
    const int64_t per_block = K->flash_max_m / kGroup * kGroup;
    const size_t kb = lc::dtype_size(p->kv) * kHd;
    for (int64_t i0 = 0; i0 < kQ; i0 += per_block) {
      const int64_t m = std::min(per_block, kQ - i0);
      const int64_t ldm = (m + lanes - 1) / lanes * lanes;
      for (int64_t c = 0; c < kHd; ++c)
        for (int64_t i = 0; i < ldm; ++i) qt[c * ldm + i] = i < m ? p->q[(i0 + i) * kHd + c] : 0.0f;
      for (int64_t i = 0; i < ldm; ++i) {
        mx[i] = ops::kFlashStart;
        l[i] = 0;
      }
      std::fill(ot.data(), ot.data() + kHd * ldm, 0.0f);
      if (amx) {
        ops::amx::pack_flash_q(qt.data(), ldm, kHd, qp.data());
        ops::amx::flash_begin();
      }
      for (int64_t j = 0; j < p->n; j += ops::kFlashKeys) {
        ops::FlashTile t{qt.data(),
                         ldm,
                         kHd,
                         std::min(ops::kFlashKeys, p->n - j),
                         p->k.data() + j * kb,
                         p->v.data() + j * kb,
                         p->kv,
                         p->kv,
                         nullptr,
                         mx.data(),
                         l.data(),
                         ot.data(),
                         work.data()};
        if (amx)
          ops::amx::flash_tile_bf16(t, qp.data());
        else
          K->flash_tile(t);
      }
      if (amx) ops::amx::flash_end();
      for (int64_t i = 0; i < m; ++i)
        for (int64_t c = 0; c < kHd; ++c) out[(i0 + i) * kHd + c] = ot[c * ldm + i] / l[i];
    }
  }
};

void add_attention(std::vector<Variant>& vs, std::vector<AttentionProblem>& store, DType kv,
                   int64_t n, const std::vector<Isa>& isas) {
  AttentionProblem& p = store.emplace_back();
  p.kv = kv;
  p.n = n;
  lc::Rng rng(7);
  p.q.resize(kQ * kHd);
  // Scores of a few units, as in a trained model (a spread-out softmax would hide errors).
  for (float& x : p.q) x = (rng.uniform() * 2.0f - 1.0f) * 3.0f / std::sqrt(float(kHd));
  p.k = random_rows(kv, n * kHd, 11);
  p.v = random_rows(kv, n * kHd, 13);
  reference_attention(p);
  const std::string name =
      std::string("attention/") + lc::dtype_name(kv) + "/n:" + std::to_string(n);
  const double flops = 4.0 * kHd * n * kQ;
  for (Isa isa : isas) {
    const ops::KernelTable& K = ops::kernels_for(isa);
    auto rows = std::make_shared<RowsRunner>(
        RowsRunner{&K, &p, std::vector<float>(kGroup * n), std::vector<float>(kQ * kHd)});
    (*rows)();
    vs.push_back({name,
                  "v1 rows",
                  lc::isa_name(isa),
                  flops,
                  max_abs_diff(rows->out, p.expected),
                  [rows] { (*rows)(); },
                  {}});
    // v2 and (bf16 where the CPU grants AMX) v3: one runner each, sized and checked alike.
    auto add_flash = [&](const char* variant, bool amx) {
      auto fl = std::make_shared<FlashRunner>();
      fl->K = &K;
      fl->p = &p;
      fl->amx = amx;
      fl->qt.resize(kHd * ops::kFlashMaxM);
      fl->mx.resize(ops::kFlashMaxM);
      fl->l.resize(ops::kFlashMaxM);
      fl->ot.resize(kHd * ops::kFlashMaxM);
      fl->work.resize(ops::flash_work_floats(kHd));
      if (amx) fl->qp.resize(ops::amx::flash_q_words(kHd, ops::kFlashMaxM));
      fl->out.resize(kQ * kHd);
      (*fl)();
      vs.push_back({name,
                    variant,
                    lc::isa_name(isa),
                    flops,
                    max_abs_diff(fl->out, p.expected),
                    [fl] { (*fl)(); },
                    {}});
    };
    add_flash("v2 flash", false);
    if (isa == Isa::Avx512 && kv == DType::BF16 && ops::amx::flash_enabled())
      add_flash("v3 amx", true);
  }
}

// ---- gemm --------------------------------------------------------------------------------
struct GemmProblem {
  DType w;
  int64_t M, K, N;
  lc::AlignedBuffer<uint8_t> W;
  std::vector<float> X;
  std::vector<double> expected;
};

void add_gemm(std::vector<Variant>& vs, std::vector<GemmProblem>& store, DType w, int64_t M,
              int64_t K, int64_t N, const std::vector<Isa>& isas) {
  GemmProblem& p = store.emplace_back();
  p.w = w;
  p.M = M;
  p.K = K;
  p.N = N;
  p.W = random_rows(w, M * K, 17);
  p.X.resize(N * K);
  lc::Rng rng(19);
  for (float& x : p.X) x = rng.uniform() * 2.0f - 1.0f;
  std::vector<float> y(N * M);
  ops::ref::gemm(p.W.data(), w, K, p.X.data(), K, N, y.data(), M, 0, M);
  p.expected.assign(y.begin(), y.end());
  const std::string name = std::string("gemm/") + lc::dtype_name(w) + "/" + std::to_string(M) +
                           "x" + std::to_string(K) + "/N:" + std::to_string(N);
  for (Isa isa : isas) {
    const ops::GemmFn g = ops::gemm_for(ops::kernels_for(isa), w);
    auto out = std::make_shared<std::vector<float>>(N * M);
    auto run = [g, &p, out] { g(p.W.data(), p.K, p.X.data(), p.K, p.N, out->data(), p.M, 0, p.M); };
    run();
    vs.push_back({name,
                  "v1 table",
                  lc::isa_name(isa),
                  2.0 * M * K * N,
                  max_abs_diff(*out, p.expected),
                  run,
                  {}});
    if (isa == Isa::Avx512 && w == DType::BF16 && ops::amx::enabled()) {
      // v3: AMX tiles (ops/amx/amx.h): X rounded to bf16 and packed (timed with the product), as
      // matmul runs a bf16 W where the CPU grants AMX.
      auto xp = std::make_shared<lc::AlignedBuffer<uint32_t>>(
          static_cast<size_t>(ops::amx::packed_x_bytes(N, K) / 4));
      auto out3 = std::make_shared<std::vector<float>>(N * M);
      auto run3 = [&p, xp, out3] {
        ops::amx::pack_x(p.X.data(), p.K, p.N, p.K, xp->data());
        ops::amx::gemm_bf16(static_cast<const uint16_t*>(static_cast<const void*>(p.W.data())), p.K,
                            xp->data(), p.N, out3->data(), p.M, 0, p.M);
      };
      run3();
      vs.push_back(
          {name, "v3 amx", "amx", 2.0 * M * K * N, max_abs_diff(*out3, p.expected), run3, {}});
    }
    const ops::KernelTable& kt = ops::kernels_for(isa);
    const ops::GemmXtFn xf = ops::gemm_xt_for(kt, w);
    if (!xf) continue;
    // v2: X transposed (pack_xt, timed with the product), then the outer-product kernel.
    const int64_t block = kt.xt_block;
    auto xt = std::make_shared<lc::AlignedBuffer<float>>(
        static_cast<size_t>((N + block - 1) / block * block * K));
    auto out2 = std::make_shared<std::vector<float>>(N * M);
    auto run2 = [xf, &p, xt, out2, block] {
      ops::pack_xt(p.X.data(), p.K, p.N, p.K, block, xt->data());
      xf(p.W.data(), p.K, xt->data(), p.N, out2->data(), p.M, 0, p.M);
    };
    run2();
    vs.push_back({name,
                  "v2 xt",
                  lc::isa_name(isa),
                  2.0 * M * K * N,
                  max_abs_diff(*out2, p.expected),
                  run2,
                  {}});
  }
}

// ---- quantized gemm ------------------------------------------------------------------------
// W quantized to type w (longctx's quantizer), X quantized per row for it and the table's integer
// product, as matmul runs them; the reference is the f32 product with W dequantized, so the error
// includes the activations' 8-bit rounding (hence the looser check below).
struct QGemmProblem {
  DType w;
  int64_t M, K, N;
  std::vector<uint8_t> W;
  std::vector<float> X;
  std::vector<double> expected;
};

void add_qgemm(std::vector<Variant>& vs, std::vector<QGemmProblem>& store, DType w, int64_t M,
               int64_t K, int64_t N, const std::vector<Isa>& isas) {
  QGemmProblem& p = store.emplace_back();
  p.w = w;
  p.M = M;
  p.K = K;
  p.N = N;
  const int64_t rb = lc::dtype_bytes(w, K);
  p.W.resize(static_cast<size_t>(M * rb));
  lc::Rng rng(23);
  std::vector<float> row(K), deq(M * K);
  for (int64_t m = 0; m < M; ++m) {
    for (float& x : row) x = rng.uniform() * 2.0f - 1.0f;
    ops::quant::quantize_row(w, row.data(), p.W.data() + m * rb, K);
    ops::quant::dequantize_row(w, p.W.data() + m * rb, deq.data() + m * K, K);
  }
  p.X.resize(N * K);
  for (float& x : p.X) x = rng.uniform() * 2.0f - 1.0f;
  std::vector<float> y(N * M);
  ops::ref::gemm(deq.data(), DType::F32, K, p.X.data(), K, N, y.data(), M, 0, M);
  p.expected.assign(y.begin(), y.end());
  const std::string name = std::string("qgemm/") + lc::dtype_name(w) + "/" + std::to_string(M) +
                           "x" + std::to_string(K) + "/N:" + std::to_string(N);
  for (Isa isa : isas) {
    const ops::quant::QuantKernels& qk = ops::quant::quant_kernels_for(isa);
    const ops::quant::QGemmFn g = qk.gemm[static_cast<int>(w)];
    if (!g) continue;
    auto xq = std::make_shared<std::vector<uint8_t>>(N * ops::quant::x_row_bytes(w, K));
    auto out = std::make_shared<std::vector<float>>(N * M);
    auto run = [&qk, g, &p, xq, out] {
      ops::quant::quantize_rows(qk, p.w, p.X.data(), p.K, p.N, p.K, xq->data());
      g(p.W.data(), p.K, xq->data(), p.N, out->data(), p.M, 0, p.M);
    };
    run();
    vs.push_back(
        {name, "v1 int8", qk.name, 2.0 * M * K * N, max_abs_diff(*out, p.expected), run, {}});
  }
}

double median(std::vector<double> x) {
  std::sort(x.begin(), x.end());
  const size_t n = x.size();
  return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

int usage(const char* why) {
  std::fprintf(stderr,
               "kernel_lab: %s\nusage: kernel_lab [--rounds R (1-1000)] [--keys N (32-1048576)] "
               "[--json FILE]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 9;
  int64_t keys = 4096;
  std::string json_path, filter;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage(("missing the value of " + a).c_str());
    char* end = nullptr;
    if (a == "--rounds") {
      rounds = static_cast<int>(std::strtol(argv[++i], &end, 10));
      if (*end || rounds < 1 || rounds > 1000) return usage("--rounds wants an integer 1-1000");
    } else if (a == "--keys") {
      keys = std::strtoll(argv[++i], &end, 10);
      if (*end || keys < 32 || keys > 1048576) return usage("--keys wants an integer 32-1048576");
    } else if (a == "--filter") {
      filter = argv[++i];
    } else if (a == "--json") {
      json_path = argv[++i];
    } else {
      return usage(("unknown flag " + a).c_str());
    }
  }
  std::vector<Isa> isas;
  for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512})
    if (lc::isa_supported(isa)) isas.push_back(isa);

  std::vector<Variant> vs;
  std::vector<AttentionProblem> att;
  std::vector<GemmProblem> gem;
  att.reserve(2);
  gem.reserve(5);
  for (DType kv : {DType::BF16, DType::F32}) add_attention(vs, att, kv, keys, isas);
  for (DType w : {DType::F32, DType::BF16}) add_gemm(vs, gem, w, 1536, 576, 64, isas);
  for (auto [m, k] : {std::pair<int64_t, int64_t>{192, 576}, {576, 576}, {576, 1536}})
    add_gemm(vs, gem, DType::F32, m, k, 64, isas);
  std::vector<QGemmProblem> qgem;
  qgem.reserve(2);
  for (DType w : {DType::Q4_1, DType::Q8_0}) add_qgemm(vs, qgem, w, 1536, 576, 64, isas);

  if (!filter.empty()) {
    std::erase_if(vs, [&](const Variant& v) {
      return (v.problem + " " + v.name + " " + v.isa).find(filter) == std::string::npos;
    });
    if (vs.empty()) return usage(("no variant matches --filter " + filter).c_str());
  }
  // The checks: relative to the output's scale (|values| < 1 here), f32 accumulation.
  bool ok = true;
  for (const Variant& v : vs) {
    // f32 products: rounding only; int8 products: X's 8-bit steps (1/254 of a row's max) too;
    // AMX: X rounded to bf16's 8 significant bits, a step of the same order.
    // AMX attention: queries and probabilities rounded to bf16 (ops/amx/flash_amx.h's bound is
    // ~1% of the values' scale for these scores).
    const bool attention = v.problem.rfind("attention", 0) == 0;
    const double tol = attention && v.name == "v3 amx" ? 0.02
                       : v.problem.rfind("qgemm", 0) == 0 || v.name == "v3 amx"
                           ? 0.02 * std::sqrt(576.0)
                       : v.problem.rfind("gemm", 0) == 0 ? 1e-4 * std::sqrt(576.0)
                                                         : 1e-4;
    if (!(v.max_err <= tol)) {
      std::fprintf(stderr, "kernel_lab: CHECK FAILED %s %s %s: max |error| %.3g > %.3g\n",
                   v.problem.c_str(), v.name.c_str(), v.isa.c_str(), v.max_err, tol);
      ok = false;
    }
  }
  if (!ok) return 1;

  // The peaks join the rounds as variants of their own.
  std::vector<double> peak512, peak256;
  const bool has512 = lc::isa_supported(Isa::Avx512), has256 = lc::isa_supported(Isa::Avx2);
  for (int r = 0; r < rounds; ++r) {
    // About 100 ms each (a 7 ms sample read ~10% low: the FMA units' clock settles slowly).
    if (has512) peak512.push_back(lc::bench::fma512_gflops(30000000));
    if (has256) peak256.push_back(lc::bench::fma256_gflops(30000000));
    for (Variant& v : vs) {
      // About 50 ms per sample: enough calls to swamp the timer.
      const double t0 = now_s();
      v.run();
      const double one = std::max(now_s() - t0, 1e-6);
      const int calls = std::max(1, static_cast<int>(0.05 / one));
      const double t1 = now_s();
      for (int c = 0; c < calls; ++c) v.run();
      v.gflops.push_back(v.flops * calls / (now_s() - t1) / 1e9);
    }
    std::fprintf(stderr, "\rkernel_lab: round %d of %d", r + 1, rounds);
  }
  std::fprintf(stderr, "\n");
  const double peak = has512 ? median(peak512) : has256 ? median(peak256) : 0.0;

  nlohmann::json out;
  out["cpu"] = cpu_model();
  out["isa"] = lc::isa_name(lc::detect_isa());
  out["rounds"] = rounds;
  out["threads"] = 1;
  out["peak_gflops"] = {{"avx512_fma", peak512}, {"avx2_fma", peak256}};
  std::printf("f32 FMA peak, 1 thread, median of %d rounds: avx512 %.1f GFLOP/s, avx2 %.1f\n",
              rounds, has512 ? median(peak512) : 0.0, has256 ? median(peak256) : 0.0);
  std::printf("%-28s %-9s %-10s %10s %10s %10s %7s\n", "problem", "variant", "isa", "max|err|",
              "GFLOP/s", "min-max", "% peak");
  for (const Variant& v : vs) {
    const auto [lo, hi] = std::minmax_element(v.gflops.begin(), v.gflops.end());
    const double med = median(v.gflops);
    std::printf("%-28s %-9s %-10s %10.2e %10.1f %4.0f-%-5.0f %6.1f%%\n", v.problem.c_str(),
                v.name.c_str(), v.isa.c_str(), v.max_err, med, *lo, *hi,
                peak > 0 ? 100.0 * med / peak : 0.0);
    out["variants"].push_back({{"problem", v.problem},
                               {"variant", v.name},
                               {"isa", v.isa},
                               {"max_abs_err", v.max_err},
                               {"gflops", v.gflops},
                               {"median_gflops", med},
                               {"pct_of_avx512_peak", peak > 0 ? 100.0 * med / peak : 0.0}});
  }
  if (!json_path.empty()) {
    const std::string tmp = json_path + ".tmp";
    std::ofstream f(tmp);
    f << out.dump(1) << "\n";
    f.close();
    if (!f || std::rename(tmp.c_str(), json_path.c_str()) != 0) {
      std::fprintf(stderr, "kernel_lab: cannot write %s\n", json_path.c_str());
      std::remove(tmp.c_str());
      return 1;
    }
  }
  return 0;
}
