#include "attention/block_attention.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/thread_pool.h"

namespace lc {

TramsWeights::TramsWeights(std::vector<ops::WeightView> wq, int64_t n_heads, int64_t head_dim)
    : wq_(std::move(wq)), n_heads_(n_heads), head_dim_(head_dim) {}

const TramsLayerWeights& TramsWeights::layer(int64_t l) const {
  std::call_once(*once_, [&] {
    for (const ops::WeightView& w : wq_)
      layers_->push_back(trams_layer_weights(w, n_heads_, head_dim_));
  });
  check(l >= 0 && l < static_cast<int64_t>(layers_->size()), "TRAMS: no weights for layer ", l);
  return (*layers_)[static_cast<size_t>(l)];
}

BlockAttention::BlockAttention(int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                               int64_t max_rows, int64_t cache_slots, const AttentionPolicy* policy,
                               int n_threads)
    : n_heads_(n_heads),
      n_kv_heads_(n_kv_heads),
      head_dim_(head_dim),
      max_rows_(max_rows),
      q_global_(static_cast<size_t>(max_rows * n_heads * head_dim)),
      q_middle_(q_global_.size()),
      k_raw_(static_cast<size_t>(max_rows * n_kv_heads * head_dim)),
      rope_cos_(static_cast<size_t>(max_rows * head_dim / 2)),
      rope_sin_(rope_cos_.size()),
      rope_cos_g_(rope_cos_.size()),
      rope_sin_g_(rope_cos_.size()),
      rope_cos_m_(static_cast<size_t>(head_dim / 2)),
      rope_sin_m_(rope_cos_m_.size()),
      tok_scores_(static_cast<size_t>(max_rows * n_kv_heads)) {
  const AttentionShape shape{n_heads, n_kv_heads, head_dim};
  int64_t floats = attention_scratch_floats(shape, cache_slots, n_threads), indices = 0;
  if (policy) {
    floats = std::max(floats, attention_scratch_floats(shape, *policy, n_threads));
    indices = attention_scratch_indices(shape, *policy, n_threads);
  }
  scores_ = AlignedBuffer<float>(static_cast<size_t>(floats));
  index_ = AlignedBuffer<int64_t>(static_cast<size_t>(indices));
  // Both sizes are n_threads times one thread's share (attention_scratch_*).
  scratch_threads_ = n_threads < 1 ? 1 : n_threads;
  thread_floats_ = floats / scratch_threads_;
  thread_indices_ = indices / scratch_threads_;
}

bool BlockAttention::fits(const AttentionPolicy& policy, int n_threads) const {
  const AttentionShape shape{n_heads_, n_kv_heads_, head_dim_};
  return static_cast<int64_t>(scores_.size()) >=
             attention_scratch_floats(shape, policy, n_threads) &&
         static_cast<int64_t>(index_.size()) >= attention_scratch_indices(shape, policy, n_threads);
}

size_t BlockAttention::bytes() const {
  return q_global_.bytes() + q_middle_.bytes() + k_raw_.bytes() + rope_cos_.bytes() +
         rope_sin_.bytes() + rope_cos_g_.bytes() + rope_sin_g_.bytes() + rope_cos_m_.bytes() +
         rope_sin_m_.bytes() + tok_scores_.bytes() + scores_.bytes() + index_.bytes();
}

void BlockAttention::begin(const AttentionShape& shape, const SeqRows* seqs, int64_t n_seqs) {
  check(shape.n_heads == n_heads_ && shape.n_kv_heads == n_kv_heads_ && shape.head_dim == head_dim_,
        "attention: the scratch was made for another head layout");
  shape_ = shape;
  seqs_ = seqs;
  n_seqs_ = n_seqs;
  const bool alibi = shape.alibi_slopes != nullptr;
  const int64_t half = head_dim_ / 2;
  bool middle_angles = false;
  for (int64_t s = 0; s < n_seqs; ++s) {
    const SeqRows& sq = seqs[s];
    check(sq.policy != nullptr && sq.row0 + sq.n <= max_rows_, "attention: bad block plan");
    const AttentionPolicy& P = *sq.policy;
    // ALiBi: nothing is rotated, the cached key is the unrotated key, and every distance
    // (global keys' included) is a bias inside the kernel.
    sq.cache->set_key_rotation(alibi ? nullptr : shape.rope, shape.rope_style);
    if (alibi) continue;
    const int64_t pos0 = sq.pos0 - sq.row0;  // position of row i: pos0 + i
    for (int64_t i = sq.row0; i < sq.row0 + sq.n; ++i) {
      shape.rope->angles(static_cast<double>(pos0 + i), rope_cos_.data() + i * half,
                         rope_sin_.data() + i * half);
      // The query's second rotation, to the position it takes for global keys (spec: the
      // distance ceiling <R(D) q, k>; StreamingLLM's in-cache position).
      if (P.needs_global_query())
        shape.rope->angles(static_cast<double>(P.plan(pos0 + i).global_pos),
                           rope_cos_g_.data() + i * half, rope_sin_g_.data() + i * half);
    }
    // LM-Infinite top-k: middle keys are scored with the query rotated to one fixed distance
    // (equal for every sequence of a forward: their policies agree).
    if (P.middle().k > 0 && !middle_angles) {
      shape.rope->angles(static_cast<double>(P.middle().distance), rope_cos_m_.data(),
                         rope_sin_m_.data());
      middle_angles = true;
    }
  }
}

void BlockAttention::store_and_rotate(const SeqRows& sq, int64_t l, float* q, float* k,
                                      const float* v, const TramsWeights& trams) {
  const ops::KernelTable& K = ops::kernels();
  const AttentionPolicy& P = *sq.policy;
  KvCache& cache = *sq.cache;
  const int64_t q_dim = n_heads_ * head_dim_, kv_dim = n_kv_heads_ * head_dim_,
                half = head_dim_ / 2;
  const bool alibi = shape_.alibi_slopes != nullptr;
  const bool global_q = P.needs_global_query() && !alibi;
  const bool middle_q = P.middle().active(l) && !alibi;
  const bool scored = P.scores_layer(l);
  const TramsLayerWeights* tw = scored ? &trams.layer(l) : nullptr;
  const int64_t pos0 = sq.pos0 - sq.row0, n_raw = cache.geometry().n_raw;
  const bool middle_layer = cache.middle().has_layer(l);
  for (int64_t i = sq.row0; i < sq.row0 + sq.n; ++i) {
    float* qi = q + i * q_dim;
    float* ki = k + i * kv_dim;
    const float* cs = rope_cos_.data() + i * half;
    const float* sn = rope_sin_.data() + i * half;
    if (global_q) {
      float* qg = q_global_.data() + i * q_dim;
      std::memcpy(qg, qi, sizeof(float) * q_dim);
      K.rope(qg, n_heads_, head_dim_, rope_cos_g_.data() + i * half, rope_sin_g_.data() + i * half,
             shape_.rope_style);
    }
    if (middle_q) {
      float* qm = q_middle_.data() + i * q_dim;
      std::memcpy(qm, qi, sizeof(float) * q_dim);
      K.rope(qm, n_heads_, head_dim_, rope_cos_m_.data(), rope_sin_m_.data(), shape_.rope_style);
    }
    // TRAMS scores from the unrotated key (spec trams.md), once, as the token enters the cache.
    float* si = scored ? tok_scores_.data() + i * n_kv_heads_ : nullptr;
    if (scored) trams_scores(*tw, P.score_kind(), n_kv_heads_, ki, si);
    const bool raw = pos0 + i < n_raw || middle_layer;
    if (alibi) {  // no rotation: the cached key is the unrotated key
      cache_store(cache, l, n_kv_heads_, pos0 + i, ki, raw ? ki : nullptr, v + i * kv_dim, si);
      continue;
    }
    if (raw) std::memcpy(k_raw_.data() + i * kv_dim, ki, sizeof(float) * kv_dim);
    K.rope(qi, n_heads_, head_dim_, cs, sn, shape_.rope_style);
    K.rope(ki, n_kv_heads_, head_dim_, cs, sn, shape_.rope_style);
    cache_store(cache, l, n_kv_heads_, pos0 + i, ki, raw ? k_raw_.data() + i * kv_dim : nullptr,
                v + i * kv_dim, si);
  }
}

void BlockAttention::attend(ThreadPool& pool, const SeqRows& sq, int64_t l, const float* q,
                            float* out, float* scratch, int64_t* scratch_idx) const {
  const int64_t qo = sq.row0 * n_heads_ * head_dim_;
  const AttentionPolicy& P = *sq.policy;
  const bool alibi = shape_.alibi_slopes != nullptr;
  if (P.plain_causal() && !alibi) {  // attend_full has no bias term
    attend_full(pool, *sq.cache, l, shape_, q + qo, sq.n, sq.pos0, out + qo, scratch);
    return;
  }
  const bool global_q = P.needs_global_query() && !alibi;
  const bool middle_q = P.middle().k > 0 && !alibi;
  attend_policy(pool, *sq.cache, l, shape_, P, q + qo, global_q ? q_global_.data() + qo : nullptr,
                sq.n, sq.pos0, out + qo, scratch, middle_q ? q_middle_.data() + qo : nullptr,
                scratch_idx);
}

void BlockAttention::layer(ThreadPool& pool, int64_t l, float* q, float* k, const float* v,
                           float* out, const TramsWeights& trams) {
  // RoPE and the cache stores of every sequence first: each sequence's attention reads only its
  // own rows and cache, so the sequences can then be attended in any order or at once.
  for (int64_t s = 0; s < n_seqs_; ++s) store_and_rotate(seqs_[s], l, q, k, v, trams);
  int64_t* idx = index_.size() ? index_.data() : nullptr;
  // A sequence with too few (row, head group) items to split evenly over the pool (a decode
  // row: n_kv_heads items), or too little work to split at all (run_sized keeps it on one
  // thread), is attended whole by one thread; such sequences are spread over the pool by their
  // work (rows x keys), each thread with its own share of the scratch. Larger ones (prefill
  // chunks) use the whole pool one after another. Either way every (row, head group) is computed
  // by the same code on one thread, so the output does not depend on the split.
  const int nt = std::min(pool.size(), scratch_threads_);
  auto work = [&](const SeqRows& sq) {
    return sq.n * std::min(sq.cache->capacity(), sq.pos0 + sq.n);
  };
  auto whole = [&](const SeqRows& sq) {
    return sq.n * n_kv_heads_ < 4 * nt ||
           2 * work(sq) * n_heads_ * head_dim_ < ThreadPool::kMinParallelWork;
  };
  int64_t n_whole = 0, total = 0;
  for (int64_t s = 0; s < n_seqs_; ++s)
    if (whole(seqs_[s])) {
      ++n_whole;
      total += work(seqs_[s]);
    }
  const bool spread = nt >= 2 && n_whole >= 2;
  for (int64_t s = 0; s < n_seqs_; ++s)
    if (!spread || !whole(seqs_[s])) attend(pool, seqs_[s], l, q, out, scores_.data(), idx);
  if (!spread) return;
  pool.run([&](int t, int) {
    if (t >= nt) return;
    ThreadPool inline_pool(1);  // runs inline; allocates nothing
    float* sc = scores_.data() + t * thread_floats_;
    int64_t* ix = idx ? idx + t * thread_indices_ : nullptr;
    // Thread t takes the sequences whose work midpoint lies in its 1/nt of the total.
    int64_t before = 0;
    for (int64_t s = 0; s < n_seqs_; ++s) {
      if (!whole(seqs_[s])) continue;
      const int64_t w = work(seqs_[s]);
      if ((2 * before + w) * nt / (2 * total) == t)  // < nt: 2 * before + w < 2 * total
        attend(inline_pool, seqs_[s], l, q, out, sc, ix);
      before += w;
    }
  });
}

}  // namespace lc
