#include "eval/nll.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace lc {

double token_nll(const float* logits, int64_t vocab, int target) {
  check(target >= 0 && target < vocab, "token_nll: target ", target, " outside [0, ", vocab, ")");
  double mx = logits[0];
  for (int64_t i = 1; i < vocab; ++i) mx = std::max(mx, static_cast<double>(logits[i]));
  double s = 0;
  for (int64_t i = 0; i < vocab; ++i) s += std::exp(static_cast<double>(logits[i]) - mx);
  return mx + std::log(s) - static_cast<double>(logits[target]);
}

std::vector<int64_t> default_landmarks(int64_t max_len) {
  std::vector<int64_t> out;
  for (int64_t l = 512; l <= max_len && l <= (int64_t{1} << 40); l *= 2) out.push_back(l);
  return out;
}

NllStats::NllStats(int64_t bin, std::vector<int64_t> landmarks)
    : bin_(bin), landmarks_(std::move(landmarks)) {
  check(bin_ >= 1, "NLL bin size must be >= 1, got ", bin_);
  std::sort(landmarks_.begin(), landmarks_.end());
  landmarks_.erase(std::unique(landmarks_.begin(), landmarks_.end()), landmarks_.end());
  seg_sum_.assign(landmarks_.size(), 0.0);
  seg_count_.assign(landmarks_.size(), 0);
}

void NllStats::add(int64_t position, double nll) {
  check(position >= 1, "NLL position must be >= 1, got ", position);
  size_t b = static_cast<size_t>(position / bin_);
  if (b >= bin_sum_.size()) {
    bin_sum_.resize(b + 1, 0.0);
    bin_count_.resize(b + 1, 0);
  }
  bin_sum_[b] += nll;
  ++bin_count_[b];
  sum_ += nll;
  ++count_;
  // The first landmark L with position < L owns this position's segment.
  auto it = std::upper_bound(landmarks_.begin(), landmarks_.end(), position);
  if (it != landmarks_.end()) {
    size_t k = static_cast<size_t>(it - landmarks_.begin());
    seg_sum_[k] += nll;
    ++seg_count_[k];
  }
}

void NllStats::end_sequence(int64_t n_tokens) {
  shortest_ = n_sequences_ == 0 ? n_tokens : std::min(shortest_, n_tokens);
  ++n_sequences_;
}

double NllStats::bin_mean(size_t b) const {
  return bin_count_[b] ? bin_sum_[b] / static_cast<double>(bin_count_[b]) : NAN;
}

double NllStats::mean_nll() const { return count_ ? sum_ / static_cast<double>(count_) : NAN; }

double NllStats::perplexity() const { return std::exp(mean_nll()); }

std::vector<NllStats::Landmark> NllStats::landmarks() const {
  std::vector<Landmark> out;
  double s = 0;
  int64_t c = 0;
  for (size_t k = 0; k < landmarks_.size(); ++k) {
    s += seg_sum_[k];
    c += seg_count_[k];
    if (landmarks_[k] > shortest_ || c == 0) break;
    double m = s / static_cast<double>(c);
    out.push_back({landmarks_[k], m, std::exp(m), c});
  }
  return out;
}

}  // namespace lc
