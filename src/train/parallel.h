// The trainer's one parallel loop: f(i) for i in [0, n), split over the pool in contiguous
// ranges. Each i is handled by exactly one thread, so results never depend on the partition.
#pragma once
#include <algorithm>
#include <cstdint>

#include "core/thread_pool.h"

namespace lc::train {

template <typename F>
void for_rows(ThreadPool& pool, int64_t n, int64_t work_per_row, F&& f) {
  pool.run_sized(n * std::max<int64_t>(1, work_per_row), [&](int t, int nt) {
    int64_t b, e;
    ThreadPool::split_range(n, 1, t, nt, &b, &e);
    for (int64_t i = b; i < e; ++i) f(i);
  });
}

}  // namespace lc::train
