// Prefill (several activation rows at once) for the K-quant types, and gemm_k, the table entry.
//
// Lanes are activation rows. A pass of P::kLanes activation rows (8 on 256-bit registers, 16 on
// 512-bit ones) is transposed once per super-block into 4-byte words, xt[t] lane n = word t of
// row n; each weight super-block is unpacked once per pass into natural-order levels
// (simd_k_common.h Unpacked), and each 4-byte word of levels, broadcast, is vpdpbusd-ed with
// xt[t], so lane n accumulates (weight row, activation row n) with no horizontal sums. Group by
// group the lane sums (started at -offset * the group's bsums) are multiplied by the group's
// scale (vpmulld) and added: the exact Sd of every pair; Sm comes from the bsums (vpmaddwd); then
// the float step of simd_k_common.h, lane-wise. Several weight rows share each activation load.
// On the 256-bit vpmaddubsw path (the AVX2 table, and every table up to 8 activation rows) the
// int16 pair sums are added in int16 as far as the levels allow and scaled by one vpmaddwd
// instead, with the level offset removed through the bsums.
#pragma once
#include <type_traits>

#include "ops/quant/simd_k_common.h"

namespace lc::ops::quant {
namespace {

// Whether the primitive has a 512-bit form (vpdpbusd zmm: twice the multiply-adds per
// instruction of the 256-bit form at the same rate on the cores this was tuned on).
template <class D>
struct HasWide {
  static constexpr bool value = false;
};
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
template <>
struct HasWide<VnniDot> {
  static constexpr bool value = true;
};
#endif

// The prefill vectors: kLanes activation rows, kRows weight rows per step.
template <class D, bool kWide = HasWide<D>::value>
struct PVec {
  using I = __m256i;
  using F = __m256;
  using Ops = Ops256;
  static constexpr int kLanes = 8;
  static constexpr int kRows = 2;
  static I load(const void* p) { return _mm256_load_si256(static_cast<const __m256i*>(p)); }
  static I bcast(const uint8_t* p) { return _mm256_set1_epi32(static_cast<int>(load_u32(p))); }
  static I set1(int32_t v) { return _mm256_set1_epi32(v); }
  static I zero() { return _mm256_setzero_si256(); }
  static I add(I a, I b) { return _mm256_add_epi32(a, b); }
  static I mullo(I a, I b) { return _mm256_mullo_epi32(a, b); }
  static I madd16(I a, I b) { return _mm256_madd_epi16(a, b); }
  static F cvt(I a) { return _mm256_cvtepi32_ps(a); }
  static F fset1(float v) { return _mm256_set1_ps(v); }
  static F fload(const float* p) { return _mm256_load_ps(p); }
  static void fstore(float* p, F v) { _mm256_store_ps(p, v); }
  template <class T>
  static I mac(I acc, I w, I x) {
    return T::template mac<D>(acc, w, x);
  }
};
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
template <class D>
struct PVec<D, true> {
  using I = __m512i;
  using F = __m512;
  using Ops = Ops512;
  static constexpr int kLanes = 16;
  static constexpr int kRows = 4;
  static I load(const void* p) { return _mm512_load_si512(p); }
  static I bcast(const uint8_t* p) { return _mm512_set1_epi32(static_cast<int>(load_u32(p))); }
  static I set1(int32_t v) { return _mm512_set1_epi32(v); }
  static I zero() { return _mm512_setzero_si512(); }
  static I add(I a, I b) { return _mm512_add_epi32(a, b); }
  static I mullo(I a, I b) { return _mm512_mullo_epi32(a, b); }
  static I madd16(I a, I b) { return _mm512_madd_epi16(a, b); }
  static F cvt(I a) { return _mm512_maskz_cvtepi32_ps(0xFFFF, a); }  // GCC 12: no undefined src
  static F fset1(float v) { return _mm512_set1_ps(v); }
  static F fload(const float* p) { return _mm512_load_ps(p); }
  static void fstore(float* p, F v) { _mm512_store_ps(p, v); }
  // Every type's levels are unsigned for vpdpbusd (KIq4Xs::signed_levels).
  template <class T>
  static I mac(I acc, I w, I x) {
    return _mm512_dpbusd_epi32(acc, w, x);
  }
};
#endif

// One super-block of a pass of L activation rows, lane n = row n (zero for absent rows).
template <int L>
struct alignas(64) XPrep {
  int32_t q[64][L];      // 4-byte word t of each row's 256 q
  int32_t init[16][L];   // per scale group: -offset * the group's sum of q
  int32_t bsum_t[8][L];  // bsums 2p, 2p + 1 as an int16 pair
  float d[L];
};

template <class T, class D, int L>
void prep_x(const BlockQ8K* const* rows, int count, XPrep<L>* xp) {
  constexpr int kOffset = T::template offset<D>();
  constexpr int kBsumsPerGroup = T::kGroupDwords / 4;  // a bsum covers 4 words
  for (int n = 0; n < L; ++n) {
    const BlockQ8K* b = n < count ? rows[n] : nullptr;
    for (int t = 0; t < 64; ++t)
      xp->q[t][n] = b ? static_cast<int32_t>(load_u32(b->qs + 4 * t)) : 0;
    for (int g = 0; g < 64 / T::kGroupDwords; ++g) {
      int32_t s = 0;
      for (int j = 0; b && j < kBsumsPerGroup; ++j) s += b->bsums[g * kBsumsPerGroup + j];
      xp->init[g][n] = -kOffset * s;
    }
    for (int p = 0; p < 8; ++p)
      xp->bsum_t[p][n] =
          b ? static_cast<int32_t>(static_cast<uint16_t>(b->bsums[2 * p]) |
                                   static_cast<uint32_t>(static_cast<uint16_t>(b->bsums[2 * p + 1]))
                                       << 16)
            : 0;
    xp->d[n] = b ? b->d : 0.0f;
  }
}

// RP weight rows' unpacked super-blocks against one prepared super-block: acc[r] lane n is the
// running sum of (weight row r, activation row n).
template <class T, class D, class P, int RP>
inline void prefill_block(const Unpacked* u, const XPrep<P::kLanes>& xp, typename P::F* acc) {
  using I = typename P::I;
  constexpr int kDw = T::kGroupDwords;
  I s[RP];
  for (int r = 0; r < RP; ++r) s[r] = P::zero();
  if constexpr (std::is_same_v<D, Avx2Dot>) {
    static_assert(P::kLanes == 8);
    // vpmaddubsw's int16 pair sums are added in int16 over T::kI16Words words (as many as stay
    // below 32768 for the type's largest level), then scaled and widened by one vpmaddwd: no
    // vpmulld, half the vpmaddwd of the emulated vpdpbusd. The level offset is removed after,
    // through the bsums: - offset * sum_g scale_g * bsum_g.
    constexpr int kW = T::kI16Words;
    static_assert(kDw % kW == 0);
    for (int g = 0; g < 64 / kDw; ++g)
      for (int t0 = g * kDw; t0 < (g + 1) * kDw; t0 += kW) {
        I a[RP];
        for (int j = 0; j < kW; ++j) {
          const I xt = P::load(xp.q[t0 + j]);
          for (int r = 0; r < RP; ++r) {
            const I p = T::maddubs(P::bcast(u[r].q + 4 * (t0 + j)), xt);
            a[r] = j == 0 ? p : _mm256_add_epi16(a[r], p);
          }
        }
        for (int r = 0; r < RP; ++r)
          s[r] = P::add(s[r], P::madd16(a[r], _mm256_set1_epi16(static_cast<int16_t>(u[r].sc[g]))));
      }
    constexpr int kOffset = T::template offset<D>();
    if constexpr (kOffset != 0) {
      constexpr int kBsumsPerGroup = kDw / 4;
      for (int r = 0; r < RP; ++r) {
        I o = P::zero();
        for (int p = 0; p < 8; ++p) {
          const int lo = kOffset * u[r].sc[2 * p / kBsumsPerGroup];
          const int hi = kOffset * u[r].sc[(2 * p + 1) / kBsumsPerGroup];
          const int pair = static_cast<int>(static_cast<uint16_t>(lo) |
                                            static_cast<uint32_t>(static_cast<uint16_t>(hi)) << 16);
          o = P::add(o, P::madd16(P::load(xp.bsum_t[p]), P::set1(pair)));
        }
        s[r] = _mm256_sub_epi32(s[r], o);
      }
    }
  } else {
    for (int g = 0; g < 64 / kDw; ++g) {
      I h[RP];
      const I init = P::load(xp.init[g]);
      for (int r = 0; r < RP; ++r) h[r] = init;
      for (int t = g * kDw; t < (g + 1) * kDw; ++t) {
        const I xt = P::load(xp.q[t]);
        for (int r = 0; r < RP; ++r) h[r] = P::template mac<T>(h[r], P::bcast(u[r].q + 4 * t), xt);
      }
      for (int r = 0; r < RP; ++r) s[r] = P::add(s[r], P::mullo(h[r], P::set1(u[r].sc[g])));
    }
  }
  for (int r = 0; r < RP; ++r) {
    const typename P::F sd = P::cvt(s[r]);
    typename P::F sm = sd;
    if constexpr (T::kHasMin) {
      I m = P::madd16(P::load(xp.bsum_t[0]), P::set1(u[r].mp[0]));
      for (int p = 1; p < 8; ++p)
        m = P::add(m, P::madd16(P::load(xp.bsum_t[p]), P::set1(u[r].mp[p])));
      sm = P::cvt(m);
    }
    acc[r] = float_step<T::kHasMin>(acc[r], P::fload(xp.d), P::fset1(u[r].d), sd,
                                    P::fset1(u[r].dmin), sm, typename P::Ops{});
  }
}

// Super-blocks per activation chunk: 4 prepared super-blocks (4 x 5.7 KB with 16 lanes) stay in
// L1 while every weight row of the range goes past them.
constexpr int kChunkBlocks = 4;

// Weight rows [m, m + RP) against one chunk of one pass: acc[r][n] holds the running sum of
// (weight row m + r, activation row n).
template <class T, class D, class P, int RP>
void prefill_rows(const uint8_t* w, int64_t w_row, int64_t k0, int kc, const XPrep<P::kLanes>* xp,
                  int64_t m, float (*acc)[P::kLanes]) {
  constexpr int64_t kBB = sizeof(typename T::Block);
  Unpacked u[kChunkBlocks][RP];
  for (int i = 0; i < kc; ++i)
    for (int r = 0; r < RP; ++r)
      T::template unpack<D>(w + (m + r) * w_row + (k0 + i) * kBB, &u[i][r]);
  typename P::F a[RP];
  for (int r = 0; r < RP; ++r) a[r] = P::fload(acc[r]);
  for (int i = 0; i < kc; ++i) prefill_block<T, D, P, RP>(u[i], xp[i], a);
  for (int r = 0; r < RP; ++r) P::fstore(acc[r], a[r]);
}

// Weight rows per block of running sums: Y holds them between chunks, and is read and written a
// block at a time along its rows (touching the activation rows' Y rows lane by lane would hit
// one cache set per lane whenever ldy is a multiple of 1 KiB).
constexpr int kRowBlock = 32;

template <class T, class D, class P>
void gemm_prefill(const uint8_t* w, int64_t w_row, int64_t nb, const BlockQ8K* x, int64_t N,
                  float* Y, int64_t ldy, int64_t m0, int64_t m1) {
  constexpr int L = P::kLanes;
  XPrep<L> xp[kChunkBlocks];
  alignas(64) float acc[kRowBlock][L];
  for (int64_t n0 = 0; n0 < N; n0 += L) {
    const int count = static_cast<int>(N - n0 < L ? N - n0 : L);
    for (int64_t k0 = 0; k0 < nb; k0 += kChunkBlocks) {
      const int kc = static_cast<int>(nb - k0 < kChunkBlocks ? nb - k0 : kChunkBlocks);
      for (int i = 0; i < kc; ++i) {
        const BlockQ8K* rows[L];
        for (int n = 0; n < count; ++n) rows[n] = x + (n0 + n) * nb + k0 + i;
        prep_x<T, D, L>(rows, count, &xp[i]);
      }
      for (int64_t mb = m0; mb < m1; mb += kRowBlock) {
        const int nr = static_cast<int>(m1 - mb < kRowBlock ? m1 - mb : kRowBlock);
        for (int j = 0; j < nr; ++j)
          for (int n = count; n < L; ++n) acc[j][n] = 0.0f;
        for (int n = 0; n < count; ++n)
          for (int j = 0; j < nr; ++j) acc[j][n] = k0 == 0 ? 0.0f : Y[(n0 + n) * ldy + mb + j];
        int j = 0;
        for (; j + P::kRows <= nr; j += P::kRows)
          prefill_rows<T, D, P, P::kRows>(w, w_row, k0, kc, xp, mb + j, acc + j);
        for (; j < nr; ++j) prefill_rows<T, D, P, 1>(w, w_row, k0, kc, xp, mb + j, acc + j);
        for (int n = 0; n < count; ++n)
          for (int jj = 0; jj < nr; ++jj) Y[(n0 + n) * ldy + mb + jj] = acc[jj][n];
      }
    }
  }
}

// Below this many activation rows the fused decode kernel (weights unpacked in registers per
// activation row) beats unpacking them for a pass (measured on Q4_K, both tables).
constexpr int64_t kPrefillMinRows = 4;

template <class T, class D>
void gemm_k(const void* W, int64_t K, const void* xq, int64_t N, float* Y, int64_t ldy, int64_t m0,
            int64_t m1) {
  const int64_t nb = K / kQKK;
  const int64_t w_row = nb * static_cast<int64_t>(sizeof(typename T::Block));
  const auto* w = static_cast<const uint8_t*>(W);
  const auto* x = static_cast<const BlockQ8K*>(xq);
  if (N >= kPrefillMinRows) {
    // Up to 8 rows, one 8-lane pass on the int16 vpmaddubsw path beats a half-empty 16-lane
    // vpdpbusd pass (every table has AVX2; the integers, hence the results, are the same).
    if (N <= 8) return gemm_prefill<T, Avx2Dot, PVec<Avx2Dot>>(w, w_row, nb, x, N, Y, ldy, m0, m1);
    return gemm_prefill<T, D, PVec<D>>(w, w_row, nb, x, N, Y, ldy, m0, m1);
  }
  int64_t m = m0;
  for (; m + 4 <= m1; m += 4)
    for (int64_t n = 0; n < N; ++n)
      decode_rows<T, D, 4>(w + m * w_row, w_row, nb, x + n * nb, Y + n * ldy + m);
  for (; m < m1; ++m)
    for (int64_t n = 0; n < N; ++n)
      decode_rows<T, D, 1>(w + m * w_row, w_row, nb, x + n * nb, Y + n * ldy + m);
}

}  // namespace
}  // namespace lc::ops::quant
