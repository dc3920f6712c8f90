// Which tokens a query attends to and at what distance: the attention + KV-cache policy of a
// session (semantics: ../shared/specs/lm-infinite.md). One config applies to every layer.
#pragma once
#include <cstdint>
#include <string>

#include "core/dtype.h"

namespace lc {

enum class AttnPolicy : uint8_t {
  Full,       // every j <= i, true distance
  Window,     // the last `window` tokens, true distance
  Streaming,  // `sinks` first tokens + the last `window` cached, positions re-assigned in cache
  Lambda,     // LM-Infinite: `sinks` global tokens at distance `ceiling` + last `window` tokens
  Trams,      // TRAMS: the `recent` last tokens + the best of an older pool by a query-free score
};

// The query-independent TRAMS score of a cached key (../shared/specs/trams.md).
enum class TramsScore : uint8_t {
  Paper,  // cos<K', 1> * |K'| = sum(K') / sqrt(d_model)
  Code,   // |K'| * |sum(K')|, the official code
};

const char* policy_name(AttnPolicy p);
// "" for an f32 cache, else "+kv(q8_0)" (both) or "+kv(k=q8_0,v=f16)": the suffix of policy and
// config labels, so that results and server slots of different cache types never mix.
std::string kv_types_label(DType k, DType v);
const char* trams_score_name(TramsScore s);

struct AttentionConfig {
  AttnPolicy policy = AttnPolicy::Full;
  // W for window/streaming, L for lambda; 0 = the model's trained context.
  int64_t window = 0;
  // S for streaming, G for lambda; -1 = the default (streaming 4, lambda 10).
  int64_t sinks = -1;
  // Distance ceiling D. For lambda: -1 = L (L_pre unless L is set), kNoCeiling = global
  // tokens at their true distance (the "Λ-mask without ceiling" ablation). For full: -1 = none;
  // a value clips every distance above it to it (the "ceiling without Λ-mask" ablation).
  int64_t ceiling = -1;
  static constexpr int64_t kNoCeiling = INT64_MAX;
  // LM-Infinite top-k middle tokens (0 = off), in layers >= topk_from_layer.
  int64_t topk = 0;
  int64_t topk_from_layer = 4;
  // Lambda with top-k: keep at most this many middle tokens per layer and kv head, evicting the
  // lowest TRAMS score (0 = keep every middle token, O(n) memory).
  int64_t middle_pool = 0;
  // TRAMS: pool M, always-attended recent R, attended memory m (R <= m <= M); -1 = the paper's
  // 400, 150, 200. `compacted`: selected tokens at distances as if contiguous (official code).
  int64_t trams_pool = -1;
  int64_t trams_recent = -1;
  int64_t trams_select = -1;
  bool trams_compacted = false;
  // The score ranking TRAMS pools and bounded middle pools.
  TramsScore trams_score = TramsScore::Paper;
  // Full only: a model trained with a sliding window (Mistral's `sliding_window`) attends within
  // that window, as it was trained, unless the user asked for full attention explicitly (false).
  bool model_window = true;
  // Element types of the cached keys and values (attention/kv_types.h).
  DType k_type = DType::F32;
  DType v_type = DType::F32;

  // A short label such as "lambda(G=10,L=512,D=512)" for tables, plots and JSON.
  std::string label() const;
};

}  // namespace lc
