#pragma once
#include <chrono>
#include <cstddef>

namespace lc {

inline double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Peak resident set size of this process in bytes (VmHWM from /proc/self/status; 0 if unknown).
size_t peak_rss_bytes();
// Current resident set size in bytes (VmRSS).
size_t current_rss_bytes();

}  // namespace lc
