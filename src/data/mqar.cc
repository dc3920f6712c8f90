#include "data/mqar.h"

#include <cmath>
#include <numeric>

#include "core/error.h"

namespace lc {

namespace {

// Uniform integer in [0, n), n >= 1, without modulo bias (rejection on the top range).
uint64_t below(Rng& rng, uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  for (;;) {
    const uint64_t x = rng.next_u64();
    if (x < limit) return x % n;
  }
}

// Uniform double in [0, 1) with 53 random bits.
double unit(Rng& rng) { return static_cast<double>(rng.next_u64() >> 11) * 0x1.0p-53; }

// `count` distinct integers from [lo, hi), in draw order (partial Fisher-Yates).
std::vector<int> distinct(Rng& rng, int64_t lo, int64_t hi, int64_t count) {
  std::vector<int> pool(static_cast<size_t>(hi - lo));
  std::iota(pool.begin(), pool.end(), static_cast<int>(lo));
  for (int64_t i = 0; i < count; ++i) {
    const int64_t j = i + static_cast<int64_t>(below(rng, static_cast<uint64_t>(hi - lo - i)));
    std::swap(pool[i], pool[j]);
  }
  pool.resize(static_cast<size_t>(count));
  return pool;
}

}  // namespace

double mqar_gap_probability(int64_t g, int64_t space, double a) {
  double total = 0;
  for (int64_t i = 0; i < space; ++i) total += a * std::pow(static_cast<double>(i + 1), a - 1);
  return a * std::pow(static_cast<double>(g + 1), a - 1) / total;
}

void check_mqar_spec(const MqarSpec& s) {
  check(s.seq_len >= 4 && s.seq_len % 2 == 0, "mqar: seq_len ", s.seq_len,
        " must be even and >= 4");
  check(s.pairs >= 1 && 4 * s.pairs <= s.seq_len, "mqar: num_kv_pairs ", s.pairs,
        " must be in [1, seq_len/4 = ", s.seq_len / 4, "]");
  check(s.vocab >= 4 && s.vocab <= INT32_MAX, "mqar: vocab ", s.vocab, " out of range");
  check(s.pairs <= s.vocab / 2 - 1 && s.pairs <= s.vocab - s.vocab / 2, "mqar: vocab ", s.vocab,
        " is too small for ", s.pairs,
        " distinct keys in [1, vocab/2) and values in [vocab/2, vocab)");
  check(s.power_a > 0 && s.power_a <= 1, "mqar: power_a ", s.power_a, " must be in (0, 1]");
}

MqarExample mqar_example(const MqarSpec& s, Rng& rng) {
  check_mqar_spec(s);
  const int64_t P = s.pairs, half = s.vocab / 2;
  // 1. keys from [1, vocab/2), values from [vocab/2, vocab), each distinct.
  const std::vector<int> keys = distinct(rng, 1, half, P);
  const std::vector<int> values = distinct(rng, half, s.vocab, P);
  MqarExample e;
  e.tokens.assign(static_cast<size_t>(s.seq_len), -1);
  e.labels.assign(static_cast<size_t>(s.seq_len), kMqarIgnore);
  // 2. context k1 v1 k2 v2 ...
  for (int64_t i = 0; i < P; ++i) {
    e.tokens[2 * i] = keys[i];
    e.tokens[2 * i + 1] = values[i];
  }
  // 3. distinct gaps by the power law, drawn one at a time without replacement; key i goes to
  //    position 2P + 2 g_i.  4. its label there is its value.
  const int64_t space = (s.seq_len - 2 * P) / 2;
  std::vector<double> w(static_cast<size_t>(space));
  for (int64_t g = 0; g < space; ++g)
    w[g] = s.power_a * std::pow(static_cast<double>(g + 1), s.power_a - 1);
  for (int64_t i = 0; i < P; ++i) {
    double total = 0;
    for (double x : w) total += x;
    double u = unit(rng) * total;
    int64_t g = -1;  // the gap u lands in, or the last available one if rounding runs past
    for (int64_t j = 0; j < space; ++j) {
      if (w[j] == 0) continue;
      g = j;
      if ((u -= w[j]) < 0) break;
    }
    w[g] = 0;
    const int64_t pos = 2 * P + 2 * g;
    e.tokens[pos] = keys[i];
    e.labels[pos] = values[i];
  }
  // 5. every other position: a uniform random token.
  for (int& t : e.tokens)
    if (t < 0) t = static_cast<int>(below(rng, static_cast<uint64_t>(s.vocab)));
  return e;
}

std::vector<MqarExample> mqar_dataset(const MqarSpec& s, int64_t n, uint64_t seed) {
  check(n >= 0, "mqar: example count ", n, " must be >= 0");
  Rng rng(seed);
  std::vector<MqarExample> out;
  out.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out.push_back(mqar_example(s, rng));
  return out;
}

double mqar_accuracy(const MqarExample& e, const float* logits, int64_t vocab) {
  int64_t scored = 0, right = 0;
  for (size_t p = 0; p < e.labels.size(); ++p) {
    if (e.labels[p] == kMqarIgnore) continue;
    const float* row = logits + static_cast<int64_t>(p) * vocab;
    int64_t best = 0;
    for (int64_t v = 1; v < vocab; ++v)
      if (row[v] > row[best]) best = v;
    ++scored;
    right += best == e.labels[p];
  }
  return scored ? static_cast<double>(right) / static_cast<double>(scored) : 0.0;
}

}  // namespace lc
