#include "attention/middle_store.h"

#include <cstring>
#include <utility>

#include "attention/kv_types.h"
#include "core/error.h"

namespace lc {

MiddleStore::MiddleStore(int64_t n_layers, int64_t from_layer, int64_t n_kv_heads, int64_t head_dim,
                         int64_t first, int64_t capacity, DType k_type, DType v_type)
    : n_layers_(n_layers),
      from_layer_(from_layer),
      n_kv_heads_(n_kv_heads),
      head_dim_(head_dim),
      first_(first),
      capacity_(capacity),
      k_type_(k_type),
      v_type_(v_type),
      k_row_(kv_row_bytes(k_type, head_dim)),
      v_row_(kv_row_bytes(v_type, head_dim)) {
  check(from_layer >= 0 && first >= 0 && capacity >= 0, "middle store: bad geometry");
  check(k_type != DType::Q4_1, "middle store: q4 keys are not supported (kivi.h groups them)");
  if (!enabled()) return;
  const int64_t n = (n_layers - from_layer) * n_kv_heads;
  held_.assign(static_cast<size_t>(n), 0);
  last_pos_.assign(static_cast<size_t>(n_layers - from_layer), -1);
  if (capacity_ > 0) {
    k_.resize(static_cast<size_t>(n * capacity_ * k_row_));
    v_.resize(static_cast<size_t>(n * capacity_ * v_row_));
    score_.resize(static_cast<size_t>(n * capacity_));
    pos_.resize(static_cast<size_t>(n * capacity_));
    heap_.resize(static_cast<size_t>(n * capacity_));
  }
}

void MiddleStore::add_chunk() {
  const size_t rows = static_cast<size_t>((n_layers_ - from_layer_) * n_kv_heads_ * kChunk);
  k_chunks_.emplace_back(rows * static_cast<size_t>(k_row_));
  v_chunks_.emplace_back(rows * static_cast<size_t>(v_row_));
}

void MiddleStore::reserve(int64_t n_positions) {
  if (!enabled() || bounded() || n_positions <= first_) return;
  const int64_t chunks = (n_positions - first_ + kChunk - 1) / kChunk;
  k_chunks_.reserve(static_cast<size_t>(chunks));
  v_chunks_.reserve(static_cast<size_t>(chunks));
  while (n_chunks() < chunks) add_chunk();
}

void MiddleStore::store(int64_t layer, int64_t pos, const float* k_raw, const float* v,
                        const float* scores) {
  const int64_t hd = head_dim_, row = pos - first_;
  if (!bounded()) {
    const int64_t c = row / kChunk, r = row % kChunk;
    while (n_chunks() <= c) add_chunk();  // amortised: once per kChunk positions
    for (int64_t g = 0; g < n_kv_heads_; ++g) {
      const int64_t at = chunk_row(layer, g) + r;
      kv_encode(k_type_, k_raw + g * hd, k_chunks_[c].data() + at * k_row_, hd);
      kv_encode(v_type_, v + g * hd, v_chunks_[c].data() + at * v_row_, hd);
    }
    return;
  }
  check(scores != nullptr, "middle store: a bounded pool needs token scores");
  int64_t& last = last_pos_[layer - from_layer_];
  if (pos <= last)
    for (int64_t g = 0; g < n_kv_heads_; ++g) held_[index(layer, g)] = 0;
  last = pos;
  for (int64_t g = 0; g < n_kv_heads_; ++g) {
    const int64_t idx = index(layer, g);
    float* sc = score_.data() + idx * capacity_;
    int64_t* ps = pos_.data() + idx * capacity_;
    int64_t* heap = heap_.data() + idx * capacity_;  // rows, worst (score, position) on top
    auto below = [&](int64_t a, int64_t b) {         // row a ranks below row b
      return sc[a] < sc[b] || (sc[a] == sc[b] && ps[a] < ps[b]);
    };
    int64_t& n = held_[idx];
    int64_t row;
    if (n < capacity_) {
      row = n;
      sc[row] = scores[g];
      ps[row] = pos;
      int64_t c = n++;
      heap[c] = row;
      for (; c > 0 && below(heap[c], heap[(c - 1) / 2]); c = (c - 1) / 2)
        std::swap(heap[c], heap[(c - 1) / 2]);
    } else {
      // Full: the new token replaces the worst held row if it beats it; the new position is
      // the largest, so it wins a tie in score. O(log C).
      row = heap[0];
      if (!(scores[g] >= sc[row])) continue;
      sc[row] = scores[g];
      ps[row] = pos;
      for (int64_t c = 0;;) {
        int64_t w = c;
        for (int64_t ch : {2 * c + 1, 2 * c + 2})
          if (ch < n && below(heap[ch], heap[w])) w = ch;
        if (w == c) break;
        std::swap(heap[c], heap[w]);
        c = w;
      }
    }
    kv_encode(k_type_, k_raw + g * hd, k_.data() + (row0(layer, g) + row) * k_row_, hd);
    kv_encode(v_type_, v + g * hd, v_.data() + (row0(layer, g) + row) * v_row_, hd);
  }
}

size_t MiddleStore::bytes() const {
  size_t b = k_.bytes() + v_.bytes() + score_.bytes() + pos_.bytes() + heap_.bytes();
  for (const auto& c : k_chunks_) b += c.bytes();
  for (const auto& c : v_chunks_) b += c.bytes();
  return b;
}

}  // namespace lc
