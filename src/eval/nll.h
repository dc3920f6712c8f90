// Negative log-likelihood bookkeeping for perplexity evaluations (../shared/specs/evals.md):
// NLL per position bin summed over documents, perplexity of prefixes at landmark lengths, and
// the overall perplexity. Sums only: memory grows with the number of bins, never with tokens
// held, so a 10^6-token stream needs a few kilobytes here.
//
// Position convention: a sequence is t[0] = BOS, t[1], ..., t[n-1]; the prediction of t[p]
// (from t[0..p-1]) is at position p, 1 <= p < n. Bin b holds positions [b*bin, (b+1)*bin), so
// bin 0 has bin-1 predictions. The landmark perplexity at length L is exp(mean NLL over
// positions 1..L-1): the perplexity of the sequence cut to its first L tokens.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lc {

// -log softmax(logits)[target], accumulated in double (max-shifted log-sum-exp).
double token_nll(const float* logits, int64_t vocab, int target);

// 512, 1024, 2048, ... up to and including `max_len` (empty when max_len < 512).
std::vector<int64_t> default_landmarks(int64_t max_len);

class NllStats {
 public:
  NllStats(int64_t bin, std::vector<int64_t> landmarks);

  void add(int64_t position, double nll);
  // Marks the end of one sequence of n tokens (for the document count and the shortest length).
  void end_sequence(int64_t n_tokens);

  int64_t bin() const { return bin_; }
  size_t n_bins() const { return bin_sum_.size(); }
  int64_t bin_count(size_t b) const { return bin_count_[b]; }
  double bin_mean(size_t b) const;  // NaN for an empty bin
  int64_t count() const { return count_; }
  double mean_nll() const;    // over every position; NaN when empty
  double perplexity() const;  // exp(mean_nll())
  int64_t n_sequences() const { return n_sequences_; }
  int64_t shortest() const { return shortest_; }  // 0 when no sequence ended

  // Landmarks that every sequence reached (L <= shortest()), with exp(mean NLL of positions
  // < L) pooled over sequences.
  struct Landmark {
    int64_t length;
    double mean_nll, perplexity;
    int64_t count;
  };
  std::vector<Landmark> landmarks() const;

 private:
  int64_t bin_;
  std::vector<double> bin_sum_;
  std::vector<int64_t> bin_count_;
  // seg_sum_[k]: sum over positions in [landmarks_[k-1], landmarks_[k]) (landmark -1 = 0).
  std::vector<int64_t> landmarks_;
  std::vector<double> seg_sum_;
  std::vector<int64_t> seg_count_;
  double sum_ = 0;
  int64_t count_ = 0, n_sequences_ = 0, shortest_ = 0;
};

}  // namespace lc
