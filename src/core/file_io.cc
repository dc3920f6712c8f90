#include "core/file_io.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "core/error.h"

namespace lc {

namespace {

bool stat_dir(const std::string& path, bool* is_dir) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  *is_dir = S_ISDIR(st.st_mode);
  return true;
}

// The directory a new entry `path` would be created in ("." for a bare name).
std::string parent_of(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

void check_parent(const std::string& what, const std::string& path) {
  const std::string dir = parent_of(path);
  bool is_dir = false;
  if (!stat_dir(dir, &is_dir))
    fail(what, ": cannot write '", path, "': directory '", dir, "' does not exist");
  if (!is_dir) fail(what, ": cannot write '", path, "': '", dir, "' is not a directory");
  if (::access(dir.c_str(), W_OK) != 0)
    fail(what, ": cannot write '", path, "': directory '", dir, "' is not writable");
}

}  // namespace

void check_output_file(const std::string& what, const std::string& path) {
  if (path.empty()) return;
  bool is_dir = false;
  if (stat_dir(path, &is_dir) && is_dir)
    fail(what, ": '", path, "' is a directory, expected a file name");
  check_parent(what, path);
}

void check_output_dir(const std::string& what, const std::string& dir) {
  if (dir.empty()) return;
  bool is_dir = false;
  if (stat_dir(dir, &is_dir)) {
    if (!is_dir) fail(what, ": '", dir, "' exists and is not a directory");
    if (::access(dir.c_str(), W_OK) != 0) fail(what, ": directory '", dir, "' is not writable");
    return;
  }
  check_parent(what, dir);
}

void write_file_atomic(const std::string& what, const std::string& path,
                       const std::vector<std::pair<const void*, size_t>>& parts,
                       const std::function<void(size_t parts_written)>& after_part) {
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail(what, ": cannot open '", path, "' for writing");
  bool ok = true;
  for (size_t i = 0; i < parts.size(); ++i) {
    const auto& [p, n] = parts[i];
    ok = ok && (n == 0 || std::fwrite(p, 1, n, f) == n);
    if (after_part) after_part(i + 1);
  }
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    fail(what, ": writing '", path, "' failed (disk full?)");
  }
}

}  // namespace lc
