// TRAMS (spec trams.md) at the kernel level: the fast path (scores per ring slot, per-row
// selection, one gathered run in the shared softmax) against the dense reference over seeded
// shapes -- true and compacted distances, both RoPE conventions and ALiBi, GQA/MQA/MHA, blocks
// that do and do not divide the pool, ring wrap -- plus the spec's oracles 1 (select everything
// == the whole pool) and 2 (select nothing == a window of R), chunked decode == one shot, and
// the configuration errors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "attention_stream_harness.h"
#include "core/error.h"

namespace lc {
namespace {

using test::StreamCase;

AttentionConfig trams_config(int64_t M, int64_t R, int64_t m, bool compacted = false,
                             TramsScore score = TramsScore::Paper) {
  AttentionConfig c;
  c.policy = AttnPolicy::Trams;
  c.trams_pool = M;
  c.trams_recent = R;
  c.trams_select = m;
  c.trams_compacted = compacted;
  c.trams_score = score;
  return c;
}

AttentionConfig window_config(int64_t W) {
  AttentionConfig c;
  c.policy = AttnPolicy::Window;
  c.window = W;
  return c;
}

constexpr double kTol = 2e-5;  // as attention_policy_test.cc

std::vector<std::vector<float>> rows_of(const StreamCase& c, int64_t n, uint64_t seed) {
  std::vector<std::vector<float>> rows;
  test::run_policy_stream(c, n, seed, {}, &rows);
  return rows;
}

double max_diff(const std::vector<std::vector<float>>& a,
                const std::vector<std::vector<float>>& b) {
  double err = 0;
  for (size_t r = 0; r < a.size(); ++r)
    for (size_t i = 0; i < a[r].size(); ++i)
      err = std::max(err, static_cast<double>(std::fabs(a[r][i] - b[r][i])));
  return err;
}

TEST(AttentionTrams, MatchesDenseReference) {
  const std::vector<AttentionConfig> cfgs = {
      trams_config(20, 6, 10),      trams_config(20, 6, 10, true), trams_config(13, 0, 4),
      trams_config(9, 3, 3),        trams_config(11, 2, 11, true), trams_config(1, 0, 1),
      trams_config(16, 4, 7, true),
  };
  test::expect_dense_over_head_shapes(cfgs, 500, kTol);
}

// Oracle 1: selecting everything (m = M) attends the whole pool [i - M, i], i.e. a window of
// M + 1 at true distances -- also with compacted distances, which are then the true ones.
// Oracle 2: selecting nothing (m = R) is a window of R + 1 (the R before i and i itself).
TEST(AttentionTrams, SelectAllIsThePoolAndSelectNoneIsAWindow) {
  for (int scheme = 0; scheme < 3; ++scheme) {
    const auto style = scheme == 1 ? ops::RopeStyle::RotateHalf : ops::RopeStyle::AdjacentPairs;
    const bool alibi = scheme == 2;
    auto run = [&](const AttentionConfig& cfg) {
      return rows_of(StreamCase{cfg, 6, 2, 8, 5, 2, style, alibi, 1}, 48, 31 + scheme);
    };
    for (bool compacted : {false, true}) {
      EXPECT_LT(max_diff(run(trams_config(12, 4, 12, compacted)), run(window_config(13))), 1e-6)
          << "select all, scheme " << scheme << " compacted " << compacted;
      EXPECT_LT(max_diff(run(trams_config(12, 4, 4, compacted)), run(window_config(5))), 1e-6)
          << "select none, scheme " << scheme << " compacted " << compacted;
    }
    // And a real selection is neither.
    auto sel = run(trams_config(12, 4, 7));
    EXPECT_GT(max_diff(sel, run(window_config(13))), 1e-3);
    EXPECT_GT(max_diff(sel, run(window_config(5))), 1e-3);
    EXPECT_GT(max_diff(sel, run(trams_config(12, 4, 7, true))), 1e-3) << "compacted matters";
  }
}

TEST(AttentionTrams, DecodeAfterPrefillEqualsOneShot) {
  for (bool compacted : {false, true}) {
    StreamCase c{trams_config(14, 3, 8, compacted), 6,     3, 8, 16, 2,
                 ops::RopeStyle::RotateHalf,        false, 0};
    std::vector<std::vector<float>> one, chunked;
    test::run_policy_stream(c, 60, 5, {}, &one);
    std::vector<int64_t> chunks = {15};
    for (int i = 0; i < 45; ++i) chunks.push_back(i % 7 == 0 ? 4 : 1);
    EXPECT_LT(test::run_policy_stream(c, 60, 5, chunks, &chunked), kTol);
    EXPECT_LT(max_diff(one, chunked), 1e-6) << "compacted " << compacted;
  }
}

TEST(AttentionTrams, DefaultsGeometryAndErrors) {
  PolicyContext pc{512, 2048, 64};
  AttentionConfig c;
  c.policy = AttnPolicy::Trams;
  auto p = make_policy(c, pc);
  EXPECT_EQ(p->label(), "trams(M=400,R=150,m=200,paper)");
  EXPECT_EQ(p->geometry().slots(), 400 + 64);  // O(M)
  EXPECT_TRUE(p->geometry().slot_scores);
  EXPECT_TRUE(p->bounded());
  auto msg = [&](const AttentionConfig& bad) {
    try {
      make_policy(bad, pc);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg(trams_config(400, 250, 200)).find("--recent 250"), std::string::npos)
      << msg(trams_config(400, 250, 200));
  EXPECT_NE(msg(trams_config(100, 50, 200)).find("--select 200"), std::string::npos)
      << msg(trams_config(100, 50, 200));
  AttentionConfig topk = c;
  topk.topk = 5;
  EXPECT_NE(msg(topk).find("--topk"), std::string::npos) << msg(topk);
}

}  // namespace
}  // namespace lc
