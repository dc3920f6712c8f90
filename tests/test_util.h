// Shared helpers for tests: where the shared assets are, and skipping when they are absent.
#pragma once
#include <sys/stat.h>

#include <cstdlib>
#include <string>

namespace lc::test {

// LONGCTX_ASSETS, else <repo>/../shared/assets.
inline std::string assets_dir() {
  const char* env = std::getenv("LONGCTX_ASSETS");
  return env && *env ? std::string(env) : std::string(LONGCTX_DEFAULT_ASSETS);
}

inline std::string asset(const std::string& rel) { return assets_dir() + "/" + rel; }

inline bool file_exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The built `longctx` binary (set by CTest through LONGCTX_BIN).
inline std::string longctx_bin() {
  const char* env = std::getenv("LONGCTX_BIN");
  return env && *env ? std::string(env) : std::string();
}

}  // namespace lc::test

// Skips the current test, naming the missing file, when an asset is absent.
#define LC_REQUIRE_ASSET(path)                                                        \
  do {                                                                                \
    if (!lc::test::file_exists(path))                                                 \
      GTEST_SKIP() << "asset not found: " << (path)                                   \
                   << " (set LONGCTX_ASSETS to the shared assets folder)";            \
  } while (0)
