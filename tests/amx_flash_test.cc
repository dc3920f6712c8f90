// The flash-attention tile on AMX (src/ops/amx/flash_amx.h) against a double-precision softmax
// over the same bf16 keys and values and the unrounded f32 queries, over seeded random shapes:
// head sizes 32-128, 16-64 query lanes, runs of tiles with 1-32 keys (odd counts, part-filled
// 16-key blocks), no bias, masks with -inf (lanes that see nothing in some tiles) and finite
// ALiBi-like biases. Bound per query lane (flash_amx.h, with f32 slack):
//   |o - o_exact| <= (e^(2 ds) - 1 + 2^-8 e^(2 ds)) max_j |v_j| + 1e-5 max_j |v_j|,
//   ds = (2^-8 + hd 2^-24) max_j sum_d |q_d k_jd|.
// Skips, saying why, where the CPU or the OS does not offer AMX.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/dtype.h"
#include "core/rng.h"
#include "ops/amx/amx.h"
#include "ops/amx/flash_amx.h"
#include "ops/ops.h"

namespace lc {
namespace {

#define SKIP_WITHOUT_AMX()                                                              \
  if (!ops::amx::enabled())                                                             \
  GTEST_SKIP() << "AMX-BF16 not usable here (cpuid, the OS permission, LONGCTX_ISA or " \
                  "LONGCTX_AMX=0): the attention tile on AMX is not tested on this machine"

enum class Bias { kNone, kMask, kAlibi };

struct Case {
  int64_t hd, ldm, tiles;
  Bias bias;
};

struct Result {
  double worst_ratio = 0;  // largest error / bound over the lanes
  double worst_err = 0;    // largest error relative to max |v|
};

Result run_case(const Case& c, uint64_t seed) {
  Rng rng(seed);
  const int64_t hd = c.hd, ldm = c.ldm;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  // Queries as the driver passes them: [hd][ldm], scaled; 3x N(0, 1) makes the softmax peaked.
  std::vector<float> qt(static_cast<size_t>(hd * ldm));
  for (auto& x : qt) x = 3.0f * rng.normal() * scale;
  std::vector<uint32_t> qp(static_cast<size_t>(ops::amx::flash_q_words(hd, ldm)));
  ops::amx::pack_flash_q(qt.data(), ldm, hd, qp.data());
  std::vector<float> mx(static_cast<size_t>(ldm), ops::kFlashStart), l(static_cast<size_t>(ldm));
  std::vector<float> ot(static_cast<size_t>(hd * ldm));
  std::vector<float> work(static_cast<size_t>(ops::flash_work_floats(hd)));
  // Every key, value and bias of the run, for the reference.
  std::vector<float> keys, vals, biases;  // [key][hd], [key][hd], [key][ldm]
  ops::amx::flash_begin();
  for (int64_t t = 0; t < c.tiles; ++t) {
    const int64_t nk = t == 0 ? ops::kFlashKeys : 1 + static_cast<int64_t>(rng.uniform() * 32);
    std::vector<uint16_t> k(static_cast<size_t>(nk * hd)), v(k.size());
    for (auto& x : k) x = f32_to_bf16(rng.normal());
    for (auto& x : v) x = f32_to_bf16(rng.normal());
    std::vector<float> bias(static_cast<size_t>(ops::kFlashKeys * ldm), 0.0f);
    for (int64_t j = 0; j < nk; ++j)
      for (int64_t q = 0; q < ldm; ++q) {
        float& b = bias[static_cast<size_t>(j * ldm + q)];
        if (c.bias == Bias::kMask && t > 0 && (rng.uniform() < 0.3 || q % 7 == t % 7))
          b = -std::numeric_limits<float>::infinity();  // some lanes see none of a tile
        if (c.bias == Bias::kAlibi) b = -0.05f * static_cast<float>((q % 5 + 1) * (nk - j));
      }
    const ops::FlashTile tile{
        qt.data(),   ldm,         hd,
        nk,          k.data(),    v.data(),
        DType::BF16, DType::BF16, c.bias == Bias::kNone ? nullptr : bias.data(),
        mx.data(),   l.data(),    ot.data(),
        work.data()};
    ops::amx::flash_tile_bf16(tile, qp.data());
    for (int64_t j = 0; j < nk; ++j) {
      for (int64_t d = 0; d < hd; ++d) {
        keys.push_back(bf16_to_f32(k[static_cast<size_t>(j * hd + d)]));
        vals.push_back(bf16_to_f32(v[static_cast<size_t>(j * hd + d)]));
      }
      for (int64_t q = 0; q < ldm; ++q)
        biases.push_back(c.bias == Bias::kNone ? 0.0f : bias[static_cast<size_t>(j * ldm + q)]);
    }
  }
  ops::amx::flash_end();
  const int64_t n = static_cast<int64_t>(keys.size()) / hd;
  Result res;
  for (int64_t q = 0; q < ldm; ++q) {
    std::vector<double> s(static_cast<size_t>(n));
    double smax = -INFINITY, dots = 0, vmax = 0;
    for (int64_t j = 0; j < n; ++j) {
      double dot = 0, absdot = 0;
      for (int64_t d = 0; d < hd; ++d) {
        const double x = static_cast<double>(qt[static_cast<size_t>(d * ldm + q)]) *
                         keys[static_cast<size_t>(j * hd + d)];
        dot += x;
        absdot += std::fabs(x);
        vmax =
            std::max(vmax, std::fabs(static_cast<double>(vals[static_cast<size_t>(j * hd + d)])));
      }
      s[static_cast<size_t>(j)] = dot + biases[static_cast<size_t>(j * ldm + q)];
      smax = std::max(smax, s[static_cast<size_t>(j)]);
      dots = std::max(dots, absdot);
    }
    double den = 0;
    std::vector<double> o(static_cast<size_t>(hd), 0.0);
    for (int64_t j = 0; j < n; ++j) {
      const double p = std::exp(s[static_cast<size_t>(j)] - smax);
      den += p;
      for (int64_t d = 0; d < hd; ++d)
        o[static_cast<size_t>(d)] += p * vals[static_cast<size_t>(j * hd + d)];
    }
    const double ds = (std::ldexp(1.0, -8) + hd * std::ldexp(1.0, -24)) * dots;
    const double grow = std::exp(2 * ds);
    const double bound = (grow - 1 + std::ldexp(1.0, -8) * grow) * vmax + 1e-5 * vmax;
    for (int64_t d = 0; d < hd; ++d) {
      const double got =
          static_cast<double>(ot[static_cast<size_t>(d * ldm + q)]) / l[static_cast<size_t>(q)];
      const double err = std::fabs(got - o[static_cast<size_t>(d)] / den);
      if (!(err <= res.worst_ratio * bound))
        res.worst_ratio = std::isnan(err) ? INFINITY : err / bound;
      res.worst_err = std::max(res.worst_err, err / vmax);
    }
  }
  return res;
}

TEST(AmxFlash, TilesWithinTheBf16BoundOfADoubleSoftmax) {
  SKIP_WITHOUT_AMX();
  uint64_t seed = 100;
  double worst = 0;
  for (int64_t hd : {32, 64, 96, 128})
    for (int64_t ldm : {16, 32, 48, 64})
      for (Bias b : {Bias::kNone, Bias::kMask, Bias::kAlibi}) {
        const Case c{hd, ldm, 5, b};
        SCOPED_TRACE("hd " + std::to_string(hd) + " ldm " + std::to_string(ldm) + " bias " +
                     std::to_string(static_cast<int>(b)));
        const Result r = run_case(c, ++seed);
        EXPECT_LE(r.worst_ratio, 1.0);
        worst = std::max(worst, r.worst_err);
      }
  // The bound is not vacuous: errors of a wrong key or weight are O(1) of max |v|, the bound's
  // share here is a few percent at most, and bf16 rounding shows (the errors are not f32's).
  EXPECT_GT(worst, 1e-4);
  EXPECT_LT(worst, 0.05);
}

}  // namespace
}  // namespace lc
