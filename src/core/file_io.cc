#include "core/file_io.h"

#include <cstdio>

#include "core/error.h"

namespace lc {

void write_file_atomic(const std::string& what, const std::string& path,
                       const std::vector<std::pair<const void*, size_t>>& parts) {
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail(what, ": cannot open '", path, "' for writing");
  bool ok = true;
  for (const auto& [p, n] : parts) ok = ok && (n == 0 || std::fwrite(p, 1, n, f) == n);
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    fail(what, ": writing '", path, "' failed (disk full?)");
  }
}

}  // namespace lc
