#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>

namespace lc {

Sampler::Sampler(int64_t vocab_size, const SamplerOptions& opt)
    : opt_(opt), rng_(opt.seed), cand_(static_cast<size_t>(vocab_size)) {}

int Sampler::argmax(const float* logits, int64_t n) {
  // Eight independent running maxima (a single one waits on each comparison's result and runs
  // at ~3 ns per logit: 0.15 ms for a 49K vocabulary), then the best of the eight; ties go to
  // the lowest index, so the result is the first maximum, as a plain scan finds it.
  constexpr int kLanes = 8;
  if (n < 2 * kLanes) {
    int best = 0;
    for (int64_t i = 1; i < n; ++i)
      if (logits[i] > logits[best]) best = static_cast<int>(i);
    return best;
  }
  float val[kLanes];
  int64_t idx[kLanes];
  for (int j = 0; j < kLanes; ++j) {
    val[j] = logits[j];
    idx[j] = j;
  }
  int64_t i = kLanes;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j)
      if (logits[i + j] > val[j]) {
        val[j] = logits[i + j];
        idx[j] = i + j;
      }
  for (; i < n; ++i)
    if (logits[i] > val[i % kLanes]) {
      val[i % kLanes] = logits[i];
      idx[i % kLanes] = i;
    }
  int best = 0;
  for (int j = 1; j < kLanes; ++j)
    if (val[j] > val[best] || (val[j] == val[best] && idx[j] < idx[best])) best = j;
  // A NaN in the first lanes' seeds is never replaced; a plain scan would return 0 only for a
  // NaN at 0: keep that case identical.
  if (logits[0] != logits[0]) return 0;
  return static_cast<int>(idx[best]);
}

int Sampler::sample(const float* logits, int64_t n) {
  if (opt_.temperature <= 0.0f || n == 1) return argmax(logits, n);
  float mx = logits[argmax(logits, n)];
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    float p = std::exp((logits[i] - mx) / opt_.temperature);
    cand_[i] = {p, static_cast<int>(i)};
    sum += p;
  }
  int64_t m = n;
  auto by_prob = [](const std::pair<float, int>& a, const std::pair<float, int>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  if (opt_.top_k > 0 && opt_.top_k < m) {
    std::partial_sort(cand_.begin(), cand_.begin() + opt_.top_k, cand_.begin() + m, by_prob);
    m = opt_.top_k;
    sum = 0.0;
    for (int64_t i = 0; i < m; ++i) sum += cand_[i].first;
  }
  if (opt_.top_p < 1.0f) {
    // The smallest best-first prefix whose mass reaches top_p. Sorting the whole vocabulary
    // costs milliseconds per token; the prefix is usually a few dozen tokens, so sort a growing
    // best-first prefix (partial_sort yields exactly the full sort's first k entries: the order
    // is total) until its mass reaches the target. Without top-k the candidates are first split
    // at p >= kCut (the best has p = 1): every one above comes before every one below in the
    // best-first order, so the prefix is sorted within the few above and reaches the rest only
    // if their mass falls short -- the same prefix as one sort of everything.
    constexpr float kCut = 1e-4f;
    const double target = opt_.top_p * sum;
    double acc = 0.0;
    int64_t keep = 0, sorted = m == n ? 0 : m;  // top-k already sorted its m
    int64_t split = sorted;
    if (sorted == 0)
      split = std::partition(cand_.begin(), cand_.begin() + m,
                             [](const std::pair<float, int>& c) { return c.first >= kCut; }) -
              cand_.begin();
    while (true) {
      if (keep == sorted && sorted < m) {
        const int64_t end = sorted < split ? split : m;
        const int64_t k = std::min(end, std::max<int64_t>(sorted + 64, sorted * 8));
        std::partial_sort(cand_.begin() + sorted, cand_.begin() + k, cand_.begin() + end, by_prob);
        sorted = k;
      }
      if (keep == m) break;
      acc += cand_[keep++].first;
      if (acc >= target) break;
    }
    m = keep;
    sum = acc;
  }
  double r = rng_.uniform() * sum, acc = 0.0;
  for (int64_t i = 0; i < m; ++i) {
    acc += cand_[i].first;
    if (r < acc) return cand_[i].second;
  }
  return cand_[m - 1].second;
}

}  // namespace lc
