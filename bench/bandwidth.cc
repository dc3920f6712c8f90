// Read-only memory bandwidth: streams a large buffer (default 1 GiB, far beyond any cache) with
// 1 and 2 threads and reports GB/s (10^9 bytes/s), median and spread over repetitions. This is
// the roofline that decode (which streams every weight once per token) is compared against.
//
//   bandwidth [--mib N] [--reps R] [--threads T]   (T: the largest thread count tried; default 2)
//
// Two methods: plain loads (hardware prefetchers only) and loads + software prefetch; the better
// one is the roofline. Compiled for baseline x86-64: the stream is limited by memory, not by the
// load width.
// GCC 12's AVX-512 reduce intrinsics read an uninitialised temporary on purpose (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

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

// Sums 64-bit words with 128-bit SSE2 loads (baseline x86-64) and four independent accumulators,
// 64 bytes per iteration, so that the loop is limited by the loads, not by the adds. The result
// is returned so the reads cannot be optimised away.
// With kPrefetch, each 64-byte line is also software-prefetched kPrefetchBytes ahead, the way
// the decode kernels read weights: on the dev VM the hardware prefetchers alone leave a single
// core well short of what it can pull, so without this the "roofline" would be too low.
constexpr size_t kPrefetchBytes = 1024;

template <bool kPrefetch>
uint64_t read_stream(const uint64_t* p, size_t n) {
  __m128i s0 = _mm_setzero_si128(), s1 = s0, s2 = s0, s3 = s0;
  const __m128i* v = reinterpret_cast<const __m128i*>(p);
  for (size_t i = 0; i + 8 <= n; i += 8, v += 4) {
    if constexpr (kPrefetch)
      _mm_prefetch(reinterpret_cast<const char*>(v) + kPrefetchBytes, _MM_HINT_T0);
    s0 = _mm_add_epi64(s0, _mm_load_si128(v));
    s1 = _mm_add_epi64(s1, _mm_load_si128(v + 1));
    s2 = _mm_add_epi64(s2, _mm_load_si128(v + 2));
    s3 = _mm_add_epi64(s3, _mm_load_si128(v + 3));
  }
  __m128i s = _mm_add_epi64(_mm_add_epi64(s0, s1), _mm_add_epi64(s2, s3));
  return static_cast<uint64_t>(_mm_cvtsi128_si64(s)) +
         static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(s, s)));
}

// The same read with 512-bit loads (only called when the CPU has AVX-512): on the dev VM a
// baseline 128-bit loop cannot saturate DRAM from one core, so the AVX-512 read is the ceiling
// that the AVX-512 decode kernels should be compared with.
__attribute__((target("avx512f"))) uint64_t read_stream_avx512(const uint64_t* p, size_t n) {
  __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    _mm_prefetch(reinterpret_cast<const char*>(p + i) + kPrefetchBytes, _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(p + i + 8) + kPrefetchBytes, _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(p + i + 16) + kPrefetchBytes, _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(p + i + 24) + kPrefetchBytes, _MM_HINT_T0);
    s0 = _mm512_add_epi64(s0, _mm512_loadu_si512(p + i));
    s1 = _mm512_add_epi64(s1, _mm512_loadu_si512(p + i + 8));
    s2 = _mm512_add_epi64(s2, _mm512_loadu_si512(p + i + 16));
    s3 = _mm512_add_epi64(s3, _mm512_loadu_si512(p + i + 24));
  }
  uint64_t tail = 0;
  for (; i < n; ++i) tail += p[i];
  return static_cast<uint64_t>(_mm512_reduce_add_epi64(
             _mm512_add_epi64(_mm512_add_epi64(s0, s1), _mm512_add_epi64(s2, s3)))) +
         tail;
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
// kMethod: 0 = plain 128-bit, 1 = 128-bit with software prefetch, 2 = AVX-512 with prefetch.
template <int kMethod>
double measure(const uint64_t* buf, size_t words, int threads, uint64_t* sink) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<double> end(threads);
  std::vector<std::thread> pool;
  double start = 0.0;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      // Slices start on 64-byte boundaries (the loads are aligned).
      size_t b = words * t / threads / 8 * 8, e = words * (t + 1) / threads / 8 * 8;
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) {
      }
      uint64_t s = kMethod == 2   ? read_stream_avx512(buf + b, e - b)
                   : kMethod == 1 ? read_stream<true>(buf + b, e - b)
                                  : read_stream<false>(buf + b, e - b);
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
    long* target = a == "--mib"       ? &mib
                   : a == "--reps"    ? &reps
                   : a == "--threads" ? &max_threads
                                      : nullptr;
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
  std::printf("| method   | threads | buffer MiB | GB/s median | min | max | reps |\n");
  std::printf("|----------|--------:|-----------:|------------:|----:|----:|-----:|\n");
  std::string json = "[";
  for (int threads = 1; threads <= max_threads; ++threads)
    for (int method : {0, 1, 2}) {
      if (method == 2 && !__builtin_cpu_supports("avx512f")) continue;
      auto run = method == 2 ? measure<2> : method == 1 ? measure<1> : measure<0>;
      run(buf, words, threads, &sink);  // warm-up
      std::vector<double> gbs;
      for (long r = 0; r < reps; ++r) gbs.push_back(run(buf, words, threads, &sink));
      Stats s = stats(gbs);
      const char* name = method == 2 ? "avx512" : method == 1 ? "prefetch" : "plain";
      std::printf("| %-8s | %7d | %10ld | %11.2f | %5.2f | %5.2f | %4ld |\n", name, threads, mib,
                  s.median, s.min, s.max, reps);
      char line[256];
      std::snprintf(line, sizeof line,
                    "%s{\"method\": \"%s\", \"threads\": %d, \"mib\": %ld, \"gbps_median\": %.3f, "
                    "\"gbps_min\": %.3f, \"gbps_max\": %.3f, \"reps\": %ld}",
                    json.size() > 1 ? ", " : "", name, threads, mib, s.median, s.min, s.max, reps);
      json += line;
    }
  json += "]";
  std::printf("JSON %s\n", json.c_str());
  std::fprintf(stderr, "(checksum %llu)\n", static_cast<unsigned long long>(sink));
  std::free(buf);
  return 0;
}
