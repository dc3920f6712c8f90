// The spec's oracle 1 (../shared/specs/lm-infinite.md, "Test oracles"): a dense reference that
// builds the explicit n x n logit matrix from the policy table, softmax, times V. Written from
// the spec alone, independently of src/attention: every logit is <R(d) q_i, k_j> / sqrt(head_dim)
// with q and k *unrotated* and d the distance the table assigns to (i, j) -- for a local key
// that equals the usual <R(i) q, R(j) k>, for a global key it is LM-Infinite's <R(D) q, k_j>.
// ALiBi instead adds -m_h * d to the unrotated dot product. Double precision throughout.
//
// Also, from the specs alone: LM-Infinite's top-k middle tokens (lm-infinite.md, "Optional: top-k
// middle tokens": per head the k middle tokens G <= j <= i - L with the largest logits at the
// fixed distance, optionally only among the P middle tokens with the best score -- trams.md's
// bounded middle pool) and TRAMS (trams.md: itself, the R before it, and the best m - R of the
// M - R older by score; true or compacted distances). Scores are given per token and kv head.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "attention/config.h"
#include "ops/ops.h"

namespace lc::test {

struct DensePolicy {
  AttnPolicy policy = AttnPolicy::Full;
  int64_t sinks = 0;                              // S (streaming) or G (lambda)
  int64_t window = 0;                             // W (window, streaming) or L (lambda)
  int64_t ceiling = AttentionConfig::kNoCeiling;  // D (lambda, full); kNoCeiling = none
  // Lambda top-k middle tokens (0 = off), scored at topk_distance; middle_pool > 0: candidates
  // are only the middle_pool best middle tokens by score. topk_from_layer: for whole-model
  // references (layers below it use no top-k).
  int64_t topk = 0, topk_distance = 0, middle_pool = 0, topk_from_layer = 0;
  // TRAMS: pool M, recent R, select m.
  int64_t trams_pool = 0, trams_recent = 0, trams_select = 0;
  bool trams_compacted = false;
  // [n][n_kv_heads] token scores (TRAMS, bounded middle pool). Whole-model references compute
  // them from W_Q (score_code: the official code's variant, else the paper's).
  const std::vector<std::vector<double>>* scores = nullptr;
  bool score_code = false;
};

// The distance at which the token at position pos[i] sees the one at pos[j] (positions strictly
// increasing), or -1 when it is not attended.
inline int64_t dense_distance(const DensePolicy& p, const std::vector<int64_t>& pos, int64_t i,
                              int64_t j) {
  if (j > i) return -1;
  const int64_t d = pos[i] - pos[j];
  const bool none = p.ceiling == AttentionConfig::kNoCeiling;
  switch (p.policy) {
    case AttnPolicy::Full:
      return none ? d : std::min(d, p.ceiling);
    case AttnPolicy::Window:
      return d < p.window ? d : -1;
    case AttnPolicy::Streaming: {
      // The cache after token i holds the first S tokens and the last W of the others; it is read
      // as a contiguous sequence, so a token's position is its rank among what is cached.
      auto cached = [&](int64_t x) { return x < p.sinks || x > i - p.window; };
      if (!cached(j)) return -1;
      int64_t rank_i = 0, rank_j = 0;
      for (int64_t x = 0; x < i; ++x) rank_i += cached(x);
      for (int64_t x = 0; x < j; ++x) rank_j += cached(x);
      return rank_i - rank_j;
    }
    case AttnPolicy::Lambda:
      if (d < p.window) return d;                         // local (also for a starting token)
      if (pos[j] < p.sinks) return none ? d : p.ceiling;  // global
      return -1;
    case AttnPolicy::Trams:
      return d <= p.trams_recent ? d : -1;  // itself and the R before it; selection below
  }
  return -1;
}

// Whether token a ranks above token b by score (kv head g), ties to the later position.
inline bool dense_score_above(const DensePolicy& p, const std::vector<int64_t>& pos, int64_t g,
                              int64_t a, int64_t b) {
  const double sa = (*p.scores)[a][g], sb = (*p.scores)[b][g];
  return sa > sb || (sa == sb && pos[a] > pos[b]);
}

// The `count` best of `cand` by score for kv head g (all of them when count >= size).
inline std::vector<int64_t> dense_best(const DensePolicy& p, const std::vector<int64_t>& pos,
                                       int64_t g, std::vector<int64_t> cand, int64_t count) {
  std::sort(cand.begin(), cand.end(),
            [&](int64_t a, int64_t b) { return dense_score_above(p, pos, g, a, b); });
  if (static_cast<int64_t>(cand.size()) > count) cand.resize(static_cast<size_t>(count));
  std::sort(cand.begin(), cand.end());
  return cand;
}

// Rotates x (head_dim values, one head) by RoPE position `p`, in double; pair c turns by
// p * inv_freq[c] when inv_freq is given (a scaled model), else by p * theta^(-2c/head_dim).
inline void rope_rotate(std::vector<double>& x, double p, double theta, ops::RopeStyle style,
                        const std::vector<double>* inv_freq = nullptr) {
  const int64_t hd = static_cast<int64_t>(x.size());
  for (int64_t c = 0; c < hd / 2; ++c) {
    const double ang =
        p * (inv_freq ? (*inv_freq)[static_cast<size_t>(c)]
                      : std::pow(theta, -2.0 * static_cast<double>(c) / static_cast<double>(hd)));
    const bool adj = style == ops::RopeStyle::AdjacentPairs;
    const int64_t a = adj ? 2 * c : c, b = adj ? 2 * c + 1 : c + hd / 2;
    const double x0 = x[a], x1 = x[b];
    x[a] = x0 * std::cos(ang) - x1 * std::sin(ang);
    x[b] = x0 * std::sin(ang) + x1 * std::cos(ang);
  }
}

struct DenseShape {
  int64_t n_heads, n_kv_heads, head_dim;
  double rope_theta = 10000.0;
  ops::RopeStyle rope_style = ops::RopeStyle::AdjacentPairs;
  const std::vector<double>* alibi_slopes = nullptr;  // [n_heads]; then no RoPE
  const std::vector<double>* inv_freq = nullptr;      // scaled RoPE frequencies [head_dim/2]
  double logit_scale = 1.0;                           // YaRN: attention_factor^2
};

// q: [n][n_heads*head_dim], k, v: [n][n_kv_heads*head_dim], all unrotated; pos: positions of
// the n tokens. Returns the attention output [n][n_heads*head_dim].
inline std::vector<std::vector<double>> dense_attention(const DensePolicy& p, const DenseShape& s,
                                                        const std::vector<int64_t>& pos,
                                                        const std::vector<std::vector<double>>& q,
                                                        const std::vector<std::vector<double>>& k,
                                                        const std::vector<std::vector<double>>& v) {
  const int64_t n = static_cast<int64_t>(q.size()), hd = s.head_dim;
  const int64_t group = s.n_heads / s.n_kv_heads;
  std::vector<std::vector<double>> out(n, std::vector<double>(s.n_heads * hd, 0.0));
  for (int64_t h = 0; h < s.n_heads; ++h) {
    const int64_t g = h / group;
    // The explicit logit matrix of this head; -inf where not attended.
    std::vector<std::vector<double>> logit(n, std::vector<double>(n, -INFINITY));
    auto logit_at = [&](int64_t i, int64_t j, int64_t d) {
      std::vector<double> qi(q[i].begin() + h * hd, q[i].begin() + (h + 1) * hd);
      if (!s.alibi_slopes)
        rope_rotate(qi, static_cast<double>(d), s.rope_theta, s.rope_style, s.inv_freq);
      double dot = 0;
      for (int64_t c = 0; c < hd; ++c) dot += qi[c] * k[j][g * hd + c];
      double x = s.logit_scale * dot / std::sqrt(static_cast<double>(hd));
      if (s.alibi_slopes) x -= (*s.alibi_slopes)[h] * static_cast<double>(d);
      return x;
    };
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j <= i; ++j) {
        const int64_t d = dense_distance(p, pos, i, j);
        if (d >= 0) logit[i][j] = logit_at(i, j, d);
      }
      if (p.policy == AttnPolicy::Trams) {
        std::vector<int64_t> cand;  // the older pool: pos[i] - M <= pos[j] < pos[i] - R
        for (int64_t j = 0; j < i; ++j)
          if (pos[i] - pos[j] <= p.trams_pool && pos[i] - pos[j] > p.trams_recent)
            cand.push_back(j);
        auto sel = dense_best(p, pos, g, cand, p.trams_select - p.trams_recent);
        const int64_t n_sel = static_cast<int64_t>(sel.size());
        int64_t n_recent = 0;
        for (int64_t j = 0; j < i; ++j) n_recent += pos[i] - pos[j] <= p.trams_recent;
        for (int64_t e = 0; e < n_sel; ++e) {
          const int64_t j = sel[e];
          logit[i][j] = logit_at(i, j, p.trams_compacted ? n_recent + n_sel - e : pos[i] - pos[j]);
        }
      }
      if (p.policy == AttnPolicy::Lambda && p.topk > 0) {
        std::vector<int64_t> mid;  // G <= j <= i - L
        for (int64_t j = 0; j <= i; ++j)
          if (pos[j] >= p.sinks && pos[i] - pos[j] >= p.window) mid.push_back(j);
        if (p.middle_pool > 0) mid = dense_best(p, pos, g, mid, p.middle_pool);
        std::vector<std::pair<double, int64_t>> by_logit;
        for (int64_t j : mid) by_logit.push_back({logit_at(i, j, p.topk_distance), pos[j]});
        std::sort(by_logit.rbegin(), by_logit.rend());  // largest logit first, ties: later
        for (size_t e = 0; e < by_logit.size() && static_cast<int64_t>(e) < p.topk; ++e) {
          const int64_t j = std::find(pos.begin(), pos.end(), by_logit[e].second) - pos.begin();
          logit[i][j] = by_logit[e].first;
        }
      }
    }
    for (int64_t i = 0; i < n; ++i) {
      double mx = -INFINITY, sum = 0;
      for (int64_t j = 0; j <= i; ++j) mx = std::max(mx, logit[i][j]);
      for (int64_t j = 0; j <= i; ++j) sum += std::exp(logit[i][j] - mx);
      for (int64_t j = 0; j <= i; ++j) {
        const double w = std::exp(logit[i][j] - mx) / sum;
        for (int64_t c = 0; c < hd; ++c) out[i][h * hd + c] += w * v[j][g * hd + c];
      }
    }
  }
  return out;
}

}  // namespace lc::test
