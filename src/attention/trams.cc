// `trams` (Yu et al. 2023, TRAMS; ../shared/specs/trams.md) on a RoPE/ALiBi KV cache. The query
// at i attends to itself and the R tokens before it (always), plus the best m - R of the older
// pool [i - M, i - R) by the per-(layer, kv head) TRAMS score of each cached token, all in one
// softmax. The paper processes a segment that attends the memory and itself causally; defining
// the memory per row (the M tokens before i) instead makes one-shot prefill and token-by-token
// decode identical, and a decode step is exactly the paper's segment of one token.
//
// Distances: true (i - j) by default; `compacted` gives the selected keys the distances they
// would have if the attended keys were contiguous (the official code's relative positions).
//
// Cache: a ring of M + block_tokens slots (the oldest row of a block still sees M keys before
// it) with a score per slot; memory O(M).
#include <algorithm>

#include "attention/policy.h"
#include "attention/policy_table.h"
#include "core/error.h"

namespace lc {

namespace {

class TramsPolicy final : public AttentionPolicy {
 public:
  TramsPolicy(const TramsSelect& sel, TramsScore score, int64_t block) {
    trams_ = sel;
    score_kind_ = score;
    geo_ = CacheGeometry{0, sel.pool + block, 0};
    geo_.slot_scores = true;
    max_block_ = block;
    label_ = "trams(M=" + std::to_string(sel.pool) + ",R=" + std::to_string(sel.recent) +
             ",m=" + std::to_string(sel.select) + "," + trams_score_name(score) +
             (sel.compacted ? ",compacted" : "") + ")";
  }
  RowPlan plan(int64_t i) const override {
    return RowPlan{std::max<int64_t>(0, i - trams_.recent), 0, i, false};
  }
};

}  // namespace

std::unique_ptr<AttentionPolicy> make_trams_policy(const TramsSelect& sel, TramsScore score,
                                                   int64_t block_tokens) {
  check(sel.pool >= 1, "--pool ", sel.pool, ": expected a pool size M >= 1");
  check(sel.recent >= 0, "--recent ", sel.recent, ": expected R >= 0");
  check(sel.recent <= sel.select, "--recent ", sel.recent, ": expected R <= --select m (",
        sel.select, ")");
  check(sel.select <= sel.pool, "--select ", sel.select, ": expected m <= --pool M (", sel.pool,
        ")");
  return std::make_unique<TramsPolicy>(sel, score, block_tokens);
}

std::unique_ptr<AttentionPolicy> resolve_trams(const AttentionConfig& c, const PolicyContext& pc) {
  // The official code's M = 400, R = 150, m = 200 (spec trams.md).
  TramsSelect sel;
  sel.pool = c.trams_pool < 0 ? 400 : c.trams_pool;
  sel.recent = c.trams_recent < 0 ? 150 : c.trams_recent;
  sel.select = c.trams_select < 0 ? 200 : c.trams_select;
  sel.compacted = c.trams_compacted;
  return make_trams_policy(sel, c.trams_score, pc.block_tokens);
}

}  // namespace lc
