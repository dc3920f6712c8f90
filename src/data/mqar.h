// MQAR, multi-query associative recall (../shared/specs/mqar.md): the BASED paper's synthetic
// recall task. A context of key-value pairs, then each key queried once at a gap that favours
// short distances, in a sea of random tokens; the model must predict the key's value at the
// position where the key reappears.
#pragma once
#include <cstdint>
#include <vector>

#include "core/rng.h"

namespace lc {

struct MqarSpec {
  int64_t vocab = 8192;
  int64_t seq_len = 64;   // even
  int64_t pairs = 4;      // 4 * pairs <= seq_len
  double power_a = 0.01;  // gap g drawn with probability proportional to a (g+1)^(a-1)
};

inline constexpr int kMqarIgnore = -100;  // label of an unscored position

struct MqarExample {
  std::vector<int> tokens;  // [seq_len]
  std::vector<int> labels;  // [seq_len]: the value at each query position, else kMqarIgnore
};

// Throws lc::Error naming the setting when the spec is impossible (odd seq_len, too many pairs,
// a vocabulary too small for distinct keys and values).
void check_mqar_spec(const MqarSpec& s);

// One example drawn from rng (spec steps 1-5, in that order of draws).
MqarExample mqar_example(const MqarSpec& s, Rng& rng);

// n examples from a fresh generator seeded with `seed`: the same list for the same arguments.
std::vector<MqarExample> mqar_dataset(const MqarSpec& s, int64_t n, uint64_t seed);

// Fraction of labelled positions whose argmax over logits [seq_len, vocab] equals the label.
double mqar_accuracy(const MqarExample& e, const float* logits, int64_t vocab);

// Probability of gap g in [0, space) under the spec's power law (for tests and reports).
double mqar_gap_probability(int64_t g, int64_t space, double power_a);

}  // namespace lc
