// Block-quantized weights: every ISA's quantized product (ops/quant/kernels.h) against the plain
// reference -- dequantize (ops/quant/dequant.h), then the exact product in double -- for every
// type, over odd row counts, one block and many, row ranges, and extreme scales.
//
// Tolerance, from the maths of the kernels: each row of X is quantized per activation block b to
// q = round(x / d_b) (d_b = max|x in b| / 127; for 32-element blocks d_b is then rounded to fp16,
// relative error <= 2^-11), so each element moves by at most d_b (1/2 + 127 * 2^-11) < 0.57 d_b,
// and the integer block dots are exact. Hence
//   |got - exact| <= sum_b 0.57 d_b * sum_{k in b} |w_k|          (activation quantization)
//                  + 1e-5 * sum_k |x_k w_k| + 1e-30                (f32 scale products and sums)
// The reference dequantizers themselves are checked bit for bit against gguf.quants.dequantize
// in make parity (tests/parity/quant_parity.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/rng.h"
#include "ops/quant/dequant.h"
#include "ops/quant/kernels.h"
#include "ops/quant/validate.h"

namespace lc::ops::quant {
namespace {

const DType kTypes[] = {DType::Q4_0, DType::Q4_1,   DType::Q5_0, DType::Q5_1,
                        DType::Q8_0, DType::IQ4_NL, DType::Q2_K, DType::Q3_K,
                        DType::Q4_K, DType::Q5_K,   DType::Q6_K, DType::IQ4_XS};

std::vector<Isa> isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512})
    if (isa_supported(isa)) out.push_back(isa);
  return out;
}

enum class Scales { Normal, Zero, Subnormal, MaxF16 };

uint16_t pick_scale(Scales s, Rng& rng) {
  switch (s) {
    case Scales::Zero:
      return rng.uniform() < 0.5f ? 0x0000 : 0x8000;
    case Scales::Subnormal:
      return static_cast<uint16_t>(1 + (rng.next_u64() % 0x3ff)) |
             (rng.uniform() < 0.5f ? 0 : 0x8000);
    case Scales::MaxF16:
      return rng.uniform() < 0.5f ? 0x7bff : 0xfbff;
    case Scales::Normal:
      break;
  }
  return f32_to_f16((rng.uniform() - 0.3f) * 0.05f);
}

// rows x K weights of type t: random bits, then finite scales of the chosen kind.
std::vector<uint8_t> random_weights(DType t, int64_t rows, int64_t K, Scales s, Rng& rng) {
  const int64_t nb = rows * K / dtype_block(t), bb = dtype_block_bytes(t);
  std::vector<uint8_t> w(static_cast<size_t>(nb * bb));
  for (auto& b : w) b = static_cast<uint8_t>(rng.next_u64());
  const ScaleFields f = scale_fields(t);
  for (int64_t i = 0; i < nb; ++i)
    for (int off : {f.a, f.b})
      if (off >= 0) {
        const uint16_t v = pick_scale(s, rng);
        std::memcpy(w.data() + i * bb + off, &v, 2);
      }
  EXPECT_EQ(first_bad_scale(t, w.data(), nb), -1);
  return w;
}

struct Case {
  int64_t M, K, N, m0, m1;
};

// Checks one product against the bound, and that each X row alone (N = 1, decode) gives the same
// bits as within the product; the kernel's Y goes to *out and each entry's sum_k |x_k w_k| to
// *mags, for cross-ISA comparisons. W is read from w_offset (even) bytes past a 64-byte boundary.
void check_product(const QuantKernels& qk, DType t, const Case& c, Scales s, uint64_t seed,
                   std::vector<float>* out, std::vector<double>* mags, int w_offset = 0) {
  SCOPED_TRACE(testing::Message() << qk.name << " " << dtype_name(t) << " M=" << c.M << " K=" << c.K
                                  << " N=" << c.N << " rows [" << c.m0 << "," << c.m1 << ") scales "
                                  << static_cast<int>(s) << " W offset " << w_offset);
  Rng rng(seed);
  const std::vector<uint8_t> w_aligned = random_weights(t, c.M, c.K, s, rng);
  std::vector<uint8_t> w_store(w_aligned.size() + 128);
  uint8_t* w = w_store.data() + (64 - reinterpret_cast<uintptr_t>(w_store.data()) % 64) % 64;
  w += w_offset;
  std::memcpy(w, w_aligned.data(), w_aligned.size());
  std::vector<float> x(static_cast<size_t>(c.N * c.K));
  for (auto& v : x) v = rng.normal() * (rng.uniform() < 0.05f ? 20.0f : 1.0f);
  std::vector<float> wf(static_cast<size_t>(c.M * c.K));
  dequantize_row(t, w, wf.data(), c.M * c.K);
  std::vector<uint8_t> xq(static_cast<size_t>(c.N * x_row_bytes(t, c.K)));
  quantize_rows(qk, t, x.data(), c.K, c.N, c.K, xq.data());
  const float sentinel = -12345.0f;
  std::vector<float> y(static_cast<size_t>(c.N * c.M), sentinel);
  qk.gemm[static_cast<int>(t)](w, c.K, xq.data(), c.N, y.data(), c.M, c.m0, c.m1);
  const int64_t rb = x_row_bytes(t, c.K);
  for (int64_t n = 0; n < c.N && c.N > 1; ++n) {
    std::vector<float> one(static_cast<size_t>(c.M), sentinel);
    qk.gemm[static_cast<int>(t)](w, c.K, xq.data() + n * rb, 1, one.data(), c.M, c.m0, c.m1);
    for (int64_t m = c.m0; m < c.m1; ++m)
      ASSERT_EQ(one[m], y[n * c.M + m])
          << "decode differs from prefill: row " << m << " x row " << n;
  }
  const int64_t xb = uses_q8k(t) ? 256 : 32;
  mags->assign(y.size(), 0.0);
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t m = 0; m < c.M; ++m) {
      const float got = y[n * c.M + m];
      if (m < c.m0 || m >= c.m1) {
        ASSERT_EQ(got, sentinel) << "row " << m << " outside the range was written";
        continue;
      }
      double exact = 0, mag = 0, qerr = 0;
      for (int64_t b = 0; b < c.K / xb; ++b) {
        double amax = 0, wabs = 0;
        for (int64_t k = b * xb; k < (b + 1) * xb; ++k) {
          const double xv = x[n * c.K + k], wv = wf[m * c.K + k];
          exact += xv * wv;
          mag += std::fabs(xv * wv);
          amax = std::fmax(amax, std::fabs(xv));
          wabs += std::fabs(wv);
        }
        qerr += 0.57 * amax / 127.0 * wabs;
      }
      (*mags)[n * c.M + m] = mag;
      ASSERT_TRUE(std::isfinite(got)) << "row " << m << " x row " << n;
      ASSERT_NEAR(got, exact, qerr + 1e-5 * mag + 1e-30) << "row " << m << " x row " << n;
    }
  *out = y;
}

TEST(Quant, EveryTypeEveryIsaMatchesTheReference) {
  uint64_t seed = 1;
  for (DType t : kTypes) {
    const int64_t B = dtype_block(t);
    const Case cases[] = {
        {1, B, 1, 0, 1},         // one block, one row
        {7, 3 * B, 1, 0, 7},     // decode, odd rows, a few blocks
        {13, 9 * B, 5, 2, 11},   // prefill-shaped, a row range
        {5, 2 * B, 11, 0, 5},    // more activation rows than the driver's group
        {67, 17 * B, 3, 1, 66},  // many blocks (a K of 544 or 4352)
    };
    for (const Case& c : cases)
      for (Scales s : {Scales::Normal, Scales::Zero, Scales::Subnormal, Scales::MaxF16}) {
        std::vector<float> first;
        for (Isa isa : isas()) {
          std::vector<float> y;
          std::vector<double> mag;
          check_product(quant_kernels_for(isa), t, c, s, seed, &y, &mag);
          if (HasFatalFailure()) return;
          // Tables agree with each other far more closely than with the exact product: the same
          // integer dots, scaled and summed in another order. Each table's f32 sum of n terms
          // (n <= blocks + 8: blocks, then SIMD lanes) is off by at most n u sum|term|, u = 2^-24,
          // and sum|term| <= 2 sum|x w| (Q4_1 / Q5_1 add a d part and an m part per block).
          if (first.empty()) {
            first = y;
            continue;
          }
          const double n_terms = static_cast<double>(c.K / B + 8);
          for (size_t i = 0; i < y.size(); ++i)
            ASSERT_NEAR(y[i], first[i], 2 * n_terms * 0x1p-24 * 2 * mag[i] + 1e-30)
                << quant_kernels_for(isa).name << " " << dtype_name(t) << " i=" << i;
        }
        ++seed;
      }
  }
}

// The SIMD kernels' tiling edges: 8- and 16-row tiles with any remainder of rows, 1 to 17 X rows
// (groups of up to 8 and their remainders), one block, K = 4096 + 32, row ranges that start and
// end inside a tile, and weights 2 or 6 bytes past a 64-byte boundary (rows of 18- to 34-byte
// blocks are only 2-byte aligned; the blocks' fp16 fields need that much, as in a GGUF file).
TEST(Quant, TileEdgesMatchTheReference) {
  const Case cases[] = {{1, 32, 1, 0, 1},     {9, 32, 2, 0, 9},   {17, 64, 3, 0, 17},
                        {23, 96, 4, 3, 23},   {15, 32, 5, 1, 14}, {16, 128, 6, 0, 16},
                        {33, 64, 7, 5, 30},   {8, 32, 8, 0, 8},   {24, 96, 9, 0, 24},
                        {31, 160, 17, 2, 29}, {9, 4128, 1, 0, 9}, {17, 4128, 3, 0, 17},
                        {40, 32, 13, 0, 40},  {7, 64, 16, 0, 7},  {26, 4128, 10, 1, 25}};
  uint64_t seed = 500;
  for (DType t : kTypes) {
    if (dtype_block(t) != 32) continue;  // these shapes are for the 32-element kernels
    constexpr int kOffsets[] = {0, 2, 6};
    int i = 0;
    for (const Case& c : cases) {
      const int offset = kOffsets[i++ % 3];
      for (Isa isa : isas()) {
        std::vector<float> y;
        std::vector<double> mag;
        check_product(quant_kernels_for(isa), t, c, Scales::Normal, seed, &y, &mag, offset);
        if (HasFatalFailure()) return;
      }
      ++seed;
    }
  }
}

TEST(Quant, DecodeRowsEqualPrefillRowsBitForBit) {
  for (Isa isa : isas()) {
    const QuantKernels& qk = quant_kernels_for(isa);
    for (DType t : kTypes) {
      SCOPED_TRACE(testing::Message() << qk.name << " " << dtype_name(t));
      Rng rng(77);
      const int64_t M = 19, K = 4 * dtype_block(t), N = 10;
      const std::vector<uint8_t> w = random_weights(t, M, K, Scales::Normal, rng);
      std::vector<float> x(static_cast<size_t>(N * K));
      for (auto& v : x) v = rng.normal();
      const int64_t rb = x_row_bytes(t, K);
      std::vector<uint8_t> xq(static_cast<size_t>(N * rb));
      quantize_rows(qk, t, x.data(), K, N, K, xq.data());
      std::vector<float> all(static_cast<size_t>(N * M)), one(static_cast<size_t>(M));
      qk.gemm[static_cast<int>(t)](w.data(), K, xq.data(), N, all.data(), M, 0, M);
      for (int64_t n = 0; n < N; ++n) {
        qk.gemm[static_cast<int>(t)](w.data(), K, xq.data() + n * rb, 1, one.data(), M, 0, 7);
        qk.gemm[static_cast<int>(t)](w.data(), K, xq.data() + n * rb, 1, one.data(), M, 7, M);
        for (int64_t m = 0; m < M; ++m) ASSERT_EQ(one[m], all[n * M + m]) << n << "," << m;
      }
    }
  }
}

// The 256-element SIMD kernels tile weight rows (4 at a time in decode, 2 or 4 in prefill),
// activation rows (decode below 4 rows; prefill passes of 8 up to 8 rows, else of 8 or 16) and
// super-blocks (prefill chunks of 4): shapes on and around every edge, each checked against the
// reference and, bit for bit, against the same rows computed one activation row at a time over
// two row ranges. These kernels also round exactly as the generic ones (simd_k_common.h), so
// every table gives the same bits.
TEST(Quant, KQuantTilingEdges) {
  const DType kKTypes[] = {DType::Q2_K, DType::Q3_K, DType::Q4_K,
                           DType::Q5_K, DType::Q6_K, DType::IQ4_XS};
  const Case cases[] = {{5, 256, 1, 0, 5},        {9, 256, 2, 1, 9},         {6, 512, 3, 0, 6},
                        {7, 256, 4, 0, 7},        {5, 768, 5, 2, 5},         {3, 256, 6, 0, 3},
                        {6, 256, 7, 0, 6},        {4, 256, 8, 0, 4},         {5, 256, 9, 1, 4},
                        {3, 17 * 256, 17, 0, 3},  {2, 4096 + 256, 33, 0, 2}, {11, 2048, 16, 3, 10},
                        {13, 9 * 256, 24, 0, 13}, {1, 256, 1, 0, 1}};
  uint64_t seed = 1000;
  for (DType t : kKTypes)
    for (const Case& c : cases) {
      ++seed;
      std::vector<float> generic;
      for (Isa isa : isas()) {
        const QuantKernels& qk = quant_kernels_for(isa);
        std::vector<float> y;
        std::vector<double> mags;
        check_product(qk, t, c, Scales::Normal, seed, &y, &mags);
        if (HasFatalFailure()) return;
        if (generic.empty()) generic = y;
        for (size_t i = 0; i < y.size(); ++i)
          ASSERT_EQ(y[i], generic[i]) << qk.name << " " << dtype_name(t) << " M=" << c.M
                                      << " K=" << c.K << " N=" << c.N << " i=" << i;
        // The same weights and activations again, one activation row at a time.
        Rng rng(seed);
        const std::vector<uint8_t> w = random_weights(t, c.M, c.K, Scales::Normal, rng);
        std::vector<float> x(static_cast<size_t>(c.N * c.K));
        for (auto& v : x) v = rng.normal() * (rng.uniform() < 0.05f ? 20.0f : 1.0f);
        const int64_t rb = x_row_bytes(t, c.K);
        std::vector<uint8_t> xq(static_cast<size_t>(c.N * rb));
        quantize_rows(qk, t, x.data(), c.K, c.N, c.K, xq.data());
        const int64_t mid = (c.m0 + c.m1) / 2;
        std::vector<float> one(static_cast<size_t>(c.M));
        for (int64_t n = 0; n < c.N; ++n) {
          qk.gemm[static_cast<int>(t)](w.data(), c.K, xq.data() + n * rb, 1, one.data(), c.M, c.m0,
                                       mid);
          qk.gemm[static_cast<int>(t)](w.data(), c.K, xq.data() + n * rb, 1, one.data(), c.M, mid,
                                       c.m1);
          for (int64_t m = c.m0; m < c.m1; ++m)
            ASSERT_EQ(one[m], y[n * c.M + m])
                << qk.name << " " << dtype_name(t) << " M=" << c.M << " K=" << c.K << " N=" << c.N
                << " row " << m << " x row " << n;
        }
      }
    }
}

// The SIMD activation quantizers must give the generic bytes exactly (same d, same rounding of
// x / d, same sums), so that every table sees the same quantized activations. Blocks of many
// kinds: random, all zero, one nonzero value, exact ties at .5 (max 127, so x / d = x: round half
// to even), values near the float limit (d overflows fp16 to inf), a tiny block (d subnormal in
// f32, 1 / d still finite), negative maxima and -0.0; rows of 1 to 17 blocks at odd addresses.
TEST(Quant, ActivationQuantizersAreTheSameOnEveryIsa) {
  for (DType t : {DType::Q4_0, DType::Q4_K}) {
    const int64_t B = uses_q8k(t) ? 256 : 32;
    for (int64_t blocks : {1, 2, 3, 5, 17}) {
      const int64_t K = blocks * B;
      Rng rng(static_cast<uint64_t>(3 + K));
      std::vector<float> store(static_cast<size_t>(K + 1));
      float* x = store.data() + 1;  // not 32-byte aligned
      for (int64_t b = 0; b < blocks; ++b) {
        float* xb = x + b * B;
        const int kind = static_cast<int>((b + K / B) % 8);
        for (int64_t i = 0; i < B; ++i) {
          const float r = rng.normal();
          switch (kind) {
            case 0:
              xb[i] = r * 4.0f;
              break;
            case 1:
              xb[i] = 0.0f;
              break;
            case 2:
              xb[i] = i == 5 ? -3.0f : 0.0f;
              break;
            case 3:  // ties: max |x| = 127, every other value k + 0.5
              xb[i] = i == 0 ? 127.0f : static_cast<float>(static_cast<int>(r * 40.0f)) + 0.5f;
              break;
            case 4:
              xb[i] = r * 4e37f;  // |x| < FLT_MAX for |r| < 8; d rounds to fp16 inf
              break;
            case 5:
              xb[i] = r * 1e-36f;
              break;
            case 6:  // the largest magnitude negative, ties and -0.0 among the rest
              xb[i] = i == 1 ? -127.0f : i % 3 == 0 ? -0.0f : static_cast<float>(i % 7) - 3.5f;
              break;
            default:
              xb[i] = r * (rng.uniform() < 0.1f ? 1000.0f : 0.01f);
              break;
          }
        }
      }
      const int64_t rb = x_row_bytes(t, K);
      std::vector<uint8_t> ref(static_cast<size_t>(rb)), got(static_cast<size_t>(rb));
      quant_kernels_for(Isa::Generic).quantize_for(t)(x, K, ref.data());
      for (Isa isa : isas()) {
        std::fill(got.begin(), got.end(), uint8_t{0xAB});
        quant_kernels_for(isa).quantize_for(t)(x, K, got.data());
        for (size_t i = 0; i < ref.size(); ++i)
          ASSERT_EQ(ref[i], got[i])
              << quant_kernels_for(isa).name << " " << dtype_name(t) << " K=" << K << " byte " << i
              << " of block " << static_cast<int64_t>(i) / (rb / blocks);
      }
    }
  }
}

TEST(Quant, BlockSizesAndNames) {
  EXPECT_EQ(dtype_bytes(DType::Q4_0, 64), 36);
  EXPECT_EQ(dtype_bytes(DType::Q4_K, 512), 288);
  EXPECT_EQ(dtype_bytes(DType::IQ4_XS, 256), 136);
  for (DType t : kTypes) EXPECT_EQ(parse_dtype(dtype_name(t)), t);
  EXPECT_THROW(parse_dtype("q4_2"), Error);
}

TEST(Quant, NanAndInfScalesAreFound) {
  for (DType t : kTypes) {
    Rng rng(9);
    std::vector<uint8_t> w = random_weights(t, 1, 3 * dtype_block(t), Scales::Normal, rng);
    const ScaleFields f = scale_fields(t);
    for (uint16_t bad : {uint16_t{0x7c00}, uint16_t{0xfc00}, uint16_t{0x7e01}}) {
      std::vector<uint8_t> v = w;
      const int off = f.b >= 0 ? f.b : f.a;
      std::memcpy(v.data() + 2 * dtype_block_bytes(t) + off, &bad, 2);
      EXPECT_EQ(first_bad_scale(t, v.data(), 3), 2) << dtype_name(t);
    }
  }
}

}  // namespace
}  // namespace lc::ops::quant
