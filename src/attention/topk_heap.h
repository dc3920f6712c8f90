// The heap of LM-Infinite's top-k middle tokens, shared by the row kernels (policy_attend.cc)
// and the tiled prefill (flash.cc), so both keep the same keys in the same order.
#pragma once
#include <cstdint>
#include <utility>

namespace lc {

// A min-heap of one query head's best middle keys, worst on top: by logit, ties by position
// (the newer wins), so that the choice does not depend on the order keys are visited.
struct TopK {
  float* logit;
  int64_t* ref;  // unbounded store: position - first; bounded: row of the pool
  int64_t size, cap;
  const int64_t* pos_of = nullptr;  // bounded: row -> position
  int64_t tie(int64_t r) const { return pos_of ? pos_of[r] : r; }
  bool worse(int64_t a, int64_t b) const {  // entry a worse than entry b
    return logit[a] < logit[b] || (logit[a] == logit[b] && tie(ref[a]) < tie(ref[b]));
  }
  void swap(int64_t a, int64_t b) {
    std::swap(logit[a], logit[b]);
    std::swap(ref[a], ref[b]);
  }
  void push(float x, int64_t r) {
    if (size < cap) {
      logit[size] = x;
      ref[size] = r;
      for (int64_t c = size++; c > 0 && worse(c, (c - 1) / 2); c = (c - 1) / 2)
        swap(c, (c - 1) / 2);
      return;
    }
    if (x < logit[0] || (x == logit[0] && tie(r) < tie(ref[0]))) return;
    logit[0] = x;
    ref[0] = r;
    for (int64_t c = 0;;) {
      int64_t w = c;
      for (int64_t ch : {2 * c + 1, 2 * c + 2})
        if (ch < size && worse(ch, w)) w = ch;
      if (w == c) return;
      swap(c, w);
      c = w;
    }
  }
};

}  // namespace lc
