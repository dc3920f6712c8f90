#include "core/thread_pool.h"

#include <immintrin.h>

namespace lc {

namespace {
// Spin iterations (each a pause instruction) before a worker falls asleep.
constexpr int kSpinIterations = 1 << 16;
}  // namespace

ThreadPool::ThreadPool(int n_threads)
    : n_threads_(n_threads < 1 ? 1 : n_threads),
      // A one-thread pool runs everything inline and allocates nothing (callers build them on
      // the fly inside parallel sections of the decode loop).
      claimed_(static_cast<size_t>(n_threads_ > 1 ? n_threads_ : 0)) {
  for (auto& c : claimed_) c.store(1);
  for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::split_range(int64_t n, int64_t grain, int t, int nt, int64_t* b, int64_t* e) {
  if (grain < 1) grain = 1;
  int64_t chunks = (n + grain - 1) / grain;
  int64_t c0 = chunks * t / nt, c1 = chunks * (t + 1) / nt;
  *b = c0 * grain < n ? c0 * grain : n;
  *e = c1 * grain < n ? c1 * grain : n;
}

void ThreadPool::run_task(TaskRef fn) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  job_ = &fn;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  // Between jobs every share is claimed, so a worker that wakes late cannot take a share of a
  // finished job; opening the shares (release) publishes job_ to whoever claims one.
  for (int i = 1; i < n_threads_; ++i) claimed_[i].store(0, std::memory_order_release);
  {
    // Publishing the generation under the mutex pairs with the sleeper's predicate check, so a
    // worker that is about to sleep cannot miss the wake-up.
    std::lock_guard<std::mutex> lk(mu_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  if (sleepers_.load(std::memory_order_acquire) > 0) cv_.notify_all();
  fn(0, n_threads_);
  // Shares whose worker has not started yet run here (a worker descheduled by the OS, or one
  // still waking from sleep).
  for (int i = 1; i < n_threads_; ++i) {
    if (claimed_[i].exchange(1, std::memory_order_acq_rel) == 0) {
      fn(i, n_threads_);
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
  // Spin while the workers finish; yield now and then in case the pool oversubscribes the cores.
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
    _mm_pause();
    if ((spins & 1023) == 1023) std::this_thread::yield();
  }
  job_ = nullptr;
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t g = generation_.load(std::memory_order_acquire);
    int spins = 0;
    while (g == seen && spins < kSpinIterations) {
      _mm_pause();
      if ((++spins & 1023) == 0) std::this_thread::yield();
      g = generation_.load(std::memory_order_acquire);
    }
    if (g == seen) {
      std::unique_lock<std::mutex> lk(mu_);
      sleepers_.fetch_add(1);
      cv_.wait(lk, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      sleepers_.fetch_sub(1);
      g = generation_.load(std::memory_order_acquire);
    }
    seen = g;
    if (stop_.load()) return;
    if (claimed_[index].exchange(1, std::memory_order_acq_rel) != 0) continue;  // taken
    (*job_)(index, n_threads_);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace lc
