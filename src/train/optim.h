// AdamW with decoupled weight decay (Loshchilov & Hutter), a cosine learning-rate schedule with
// linear warmup, and global-norm gradient clipping. The update is elementwise and split over the
// pool by a fixed partition; the gradient norm is summed in a fixed order, so a run is
// bit-identical for a given seed and thread count.
#pragma once
#include <cstdint>
#include <vector>

#include "core/aligned.h"
#include "train/model.h"

namespace lc {
class ThreadPool;
}

namespace lc::train {

struct AdamWConfig {
  double lr = 1e-3;           // peak learning rate
  double min_lr_ratio = 0.1;  // the cosine ends at lr * min_lr_ratio
  int64_t warmup_steps = 0;   // linear warmup from lr / warmup_steps to lr
  int64_t total_steps = 1;    // the cosine spans [warmup_steps, total_steps)
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double weight_decay = 0.1;  // decoupled: w -= lr * weight_decay * w (ParamInfo::decay only)
  double clip_norm = 1.0;     // <= 0: no clipping
};

// The learning rate of 0-based step `step`.
double lr_at(const AdamWConfig& c, int64_t step);

struct StepInfo {
  double lr = 0;
  double grad_norm = 0;  // global L2 norm before clipping
};

class AdamW {
 public:
  AdamW(const AdamWConfig& c, const std::vector<ParamInfo>& params);
  // Clips g to clip_norm (global norm), then updates w in place (g is scaled by the clipping).
  StepInfo step(ThreadPool& pool, float* w, float* g);
  int64_t steps_done() const { return t_; }

 private:
  AdamWConfig c_;
  std::vector<ParamInfo> params_;
  AlignedBuffer<float> m_, v_;
  int64_t t_ = 0;
};

}  // namespace lc::train
