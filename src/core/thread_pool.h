// A fixed pool of worker threads with a static partition of work, so that results are
// reproducible for a given thread count. The calling thread takes part as thread 0.
// Workers spin briefly on a generation counter before sleeping: decode issues thousands of
// small parallel sections per token, and a futex wake-up per section would dominate.
// Each share (t, n_threads) is claimed once: a share whose worker has not started by the time
// the calling thread has finished its own is run by the calling thread, so a worker that the OS
// has descheduled (more runnable threads than cores) delays nothing. fn(t, n) must not depend on
// which OS thread runs it or wait for another share (none in this code base does).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace lc {

// A non-owning reference to a callable void(int, int): unlike std::function it never allocates,
// so parallel sections in the decode loop stay allocation-free.
class TaskRef {
 public:
  template <typename F>
  explicit TaskRef(F& f)
      : obj_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* o, int t, int n) { (*static_cast<F*>(o))(t, n); }) {}
  void operator()(int t, int n) const { call_(obj_, t, n); }

 private:
  void* obj_;
  void (*call_)(void*, int, int);
};

class ThreadPool {
 public:
  // n_threads >= 1 (validated by callers; 0 is clamped to 1).
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(thread_index, n_threads) once on each thread and waits for all.
  template <typename F>
  void run(F&& fn) {
    run_task(TaskRef(fn));
  }

  // Below this many multiply-adds a parallel section costs more in synchronisation (~1-2 us)
  // than it saves, so run_sized() keeps such work on the calling thread.
  static constexpr int64_t kMinParallelWork = 1 << 16;

  // Like run(), but calls fn(0, 1) on the calling thread alone when `work` (an estimate in
  // multiply-adds) is too small to be worth splitting.
  template <typename F>
  void run_sized(int64_t work, F&& fn) {
    if (work < kMinParallelWork) {
      fn(0, 1);
      return;
    }
    run_task(TaskRef(fn));
  }

  // Splits [0, n) into n_threads contiguous ranges (rounded to multiples of `grain`) and calls
  // fn(begin, end) for each non-empty range.
  template <typename F>
  void parallel_for(int64_t n, int64_t grain, F&& fn) {
    if (n <= 0) return;
    if (n_threads_ == 1 || n <= grain) {
      fn(int64_t{0}, n);
      return;
    }
    auto task = [&](int t, int nt) {
      int64_t b, e;
      split_range(n, grain, t, nt, &b, &e);
      if (b < e) fn(b, e);
    };
    run_task(TaskRef(task));
  }

  static void split_range(int64_t n, int64_t grain, int t, int nt, int64_t* b, int64_t* e);

 private:
  void run_task(TaskRef fn);
  void worker(int index);

  int n_threads_;
  std::vector<std::thread> threads_;
  const TaskRef* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  // [n_threads] (empty for one thread): 1 once share t of the current job is taken.
  std::vector<std::atomic<int>> claimed_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<int> sleepers_{0};
};

// f(i) for i in [0, n), split over the pool in contiguous ranges. Each i is handled by exactly one
// thread, so results never depend on the partition; on the calling thread alone when
// n * work_per_row (multiply-adds, an estimate) is below ThreadPool::kMinParallelWork.
template <typename F>
void for_rows(ThreadPool& pool, int64_t n, int64_t work_per_row, F&& f) {
  pool.run_sized(n * (work_per_row < 1 ? 1 : work_per_row), [&](int t, int nt) {
    int64_t b, e;
    ThreadPool::split_range(n, 1, t, nt, &b, &e);
    for (int64_t i = b; i < e; ++i) f(i);
  });
}

}  // namespace lc
