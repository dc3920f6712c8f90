// Read-only memory bandwidth: streams a large buffer (default 1 GiB, far beyond any cache) with
// 1 and 2 threads and reports GB/s (10^9 bytes/s), median and spread over repetitions. This is
// the roofline that decode (which streams every weight once per token) is compared against.
//
//   bandwidth [--mib N] [--reps R] [--threads T]   (T: the largest thread count tried; default 2)
//
// Compiled for baseline x86-64: a read stream is limited by DRAM, not by the load width.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

// Sums 64-bit words with 8 independent accumulators so that the loop is load-bound; the compiler
// vectorises it to 128-bit loads. The result is returned so the reads cannot be optimised away.
uint64_t read_stream(const uint64_t* p, size_t n) {
  uint64_t s[8] = {};
  for (size_t i = 0; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) s[j] += p[i + j];
  uint64_t t = 0;
  for (uint64_t v : s) t += v;
  return t;
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Stats {
  double median, min, max;
};

Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

// One repetition with `threads` threads, each streaming its own contiguous slice once; the time
// is from a common start to the last thread's finish.
double measure(const uint64_t* buf, size_t words, int threads, uint64_t* sink) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<double> end(threads);
  std::vector<std::thread> pool;
  double start = 0.0;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      size_t b = words * t / threads, e = words * (t + 1) / threads;
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) {
      }
      uint64_t s = read_stream(buf + b, e - b);
      end[t] = now();
      __atomic_fetch_add(sink, s, __ATOMIC_RELAXED);
    });
  }
  while (ready.load() != threads) {
  }
  start = now();
  go.store(true, std::memory_order_release);
  for (auto& th : pool) th.join();
  double last = *std::max_element(end.begin(), end.end());
  return static_cast<double>(words * 8) / (last - start) / 1e9;
}

bool parse_int(const char* s, long lo, long hi, long* out) {
  char* e = nullptr;
  long v = std::strtol(s, &e, 10);
  if (!*s || *e || v < lo || v > hi) return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  long mib = 1024, reps = 9, max_threads = 2;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    long* target = a == "--mib" ? &mib : a == "--reps" ? &reps : a == "--threads" ? &max_threads : nullptr;
    long hi = a == "--mib" ? 65536 : 1000;
    if (!target || i + 1 >= argc || !parse_int(argv[i + 1], 1, hi, target)) {
      std::fprintf(stderr, "usage: %s [--mib 1..65536] [--reps 1..1000] [--threads 1..1000]\n",
                   argv[0]);
      return 2;
    }
    ++i;
  }
  size_t bytes = static_cast<size_t>(mib) << 20;
  auto* buf = static_cast<uint64_t*>(std::aligned_alloc(4096, bytes));
  if (!buf) {
    std::fprintf(stderr, "bandwidth: cannot allocate %ld MiB; try a smaller --mib\n", mib);
    return 1;
  }
  size_t words = bytes / 8;
  for (size_t i = 0; i < words; ++i) buf[i] = i;  // touch every page (and make it non-zero)
  uint64_t sink = 0;
  std::printf("| threads | buffer MiB | GB/s median | min | max | reps |\n");
  std::printf("|--------:|-----------:|------------:|----:|----:|-----:|\n");
  std::string json = "[";
  for (int threads = 1; threads <= max_threads; ++threads) {
    measure(buf, words, threads, &sink);  // warm-up
    std::vector<double> gbs;
    for (long r = 0; r < reps; ++r) gbs.push_back(measure(buf, words, threads, &sink));
    Stats s = stats(gbs);
    std::printf("| %7d | %10ld | %11.2f | %5.2f | %5.2f | %4ld |\n", threads, mib, s.median, s.min,
                s.max, reps);
    char line[256];
    std::snprintf(line, sizeof line,
                  "%s{\"threads\": %d, \"mib\": %ld, \"gbps_median\": %.3f, \"gbps_min\": %.3f, "
                  "\"gbps_max\": %.3f, \"reps\": %ld}",
                  threads > 1 ? ", " : "", threads, mib, s.median, s.min, s.max, reps);
    json += line;
  }
  json += "]";
  std::printf("JSON %s\n", json.c_str());
  std::fprintf(stderr, "(checksum %llu)\n", static_cast<unsigned long long>(sink));
  std::free(buf);
  return 0;
}
