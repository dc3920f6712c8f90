// Shared helpers for tests: where the shared assets are, and skipping when they are absent.
#pragma once
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rng.h"

namespace lc::test {

// LONGCTX_ASSETS, else <repo>/../shared/assets.
inline std::string assets_dir() {
  const char* env = std::getenv("LONGCTX_ASSETS");
  return env && *env ? std::string(env) : std::string(LONGCTX_DEFAULT_ASSETS);
}

inline std::string asset(const std::string& rel) { return assets_dir() + "/" + rel; }

// llama.cpp's vocabulary-only GGUF files (models/ggml-vocab-*.gguf with their .inp/.out cases;
// scripts/fetch_vocab.sh puts them there): LONGCTX_VOCAB_DIR, else <repo>/../vocab. They never
// enter the repository; tests that need them skip when the folder is absent.
inline std::string vocab_dir() {
  const char* env = std::getenv("LONGCTX_VOCAB_DIR");
  return env && *env ? std::string(env) : std::string(LONGCTX_DEFAULT_VOCAB_DIR);
}

inline bool file_exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The built `longctx` binary (set by CTest through LONGCTX_BIN).
inline std::string longctx_bin() {
  const char* env = std::getenv("LONGCTX_BIN");
  return env && *env ? std::string(env) : std::string();
}

// n seeded token ids in [0, vocab).
inline std::vector<int> random_tokens(int64_t n, int64_t vocab, uint64_t seed) {
  Rng r(seed);
  std::vector<int> t(static_cast<size_t>(n));
  for (auto& x : t) x = static_cast<int>(r.next_u32() % static_cast<uint32_t>(vocab));
  return t;
}

// max |a - b| / max |b|: the error of a against the reference b, relative to b's scale.
inline double rel_err(const float* a, const float* b, size_t n) {
  double mx = 0, d = 0;
  for (size_t i = 0; i < n; ++i) {
    mx = std::max(mx, static_cast<double>(std::fabs(b[i])));
    d = std::max(d, static_cast<double>(std::fabs(a[i] - b[i])));
  }
  return d / std::max(mx, 1e-30);
}

// f() must throw lc::Error with a one-line message containing every needle (file, tensor, ...).
inline void expect_error(const std::function<void()>& f, const std::vector<std::string>& needles) {
  try {
    f();
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& s : needles) EXPECT_NE(msg.find(s), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  }
}

}  // namespace lc::test

// Skips the current test, naming the missing file, when an asset is absent.
#define LC_REQUIRE_ASSET(path)                                             \
  do {                                                                     \
    if (!lc::test::file_exists(path))                                      \
      GTEST_SKIP() << "asset not found: " << (path)                        \
                   << " (set LONGCTX_ASSETS to the shared assets folder)"; \
  } while (0)
