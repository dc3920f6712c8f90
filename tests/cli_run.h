// Running the longctx binary from a test: a command line, optional stdin bytes, its exit status
// and output. Temporary files are named by a tag and the process id, and removed afterwards.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "test_util.h"

namespace lc::test {

struct CliResult {
  int status = -1;
  std::string out, err;
};

inline std::string slurp_file(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// `longctx ARGS < input > out 2> err`, killed after timeout_s seconds.
inline CliResult run_longctx(const std::string& args, const std::string& input,
                             const std::string& tag, int timeout_s = 600) {
  const std::string base =
      ::testing::TempDir() + "/longctx_" + tag + "_" + std::to_string(::getpid()) + "_";
  const std::string i = base + "stdin", o = base + "stdout", e = base + "stderr";
  std::ofstream(i, std::ios::binary) << input;
  const std::string cmd = "timeout " + std::to_string(timeout_s) + " '" + longctx_bin() + "' " +
                          args + " <'" + i + "' >'" + o + "' 2>'" + e + "'";
  const int st = std::system(cmd.c_str());
  CliResult r;
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.out = slurp_file(o);
  r.err = slurp_file(e);
  for (const std::string& p : {i, o, e}) std::remove(p.c_str());
  return r;
}

}  // namespace lc::test
