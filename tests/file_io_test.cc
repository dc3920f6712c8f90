// core/file_io: atomic writes and the up-front output-path checks of long-running commands.
#include "core/file_io.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "core/error.h"

namespace lc {
namespace {

std::string scratch_dir() {
  const std::string d = ::testing::TempDir() + "/longctx_file_io_" + std::to_string(::getpid());
  ::mkdir(d.c_str(), 0755);
  return d;
}

// The error names the flag and the path, and says what is wrong.
void expect_refused(void (*check)(const std::string&, const std::string&), const std::string& path,
                    const std::string& want) {
  try {
    check("--out", path);
    ADD_FAILURE() << path << ": accepted";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("--out: ", 0), 0u) << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(want), std::string::npos) << msg;
  }
}

TEST(FileIo, CheckOutputFile) {
  const std::string d = scratch_dir();
  EXPECT_NO_THROW(check_output_file("--out", ""));  // flag not given
  EXPECT_NO_THROW(check_output_file("--out", d + "/new.json"));
  EXPECT_NO_THROW(check_output_file("--out", "relative_name.json"));  // parent "."
  expect_refused(check_output_file, d + "/missing/x.json", "does not exist");
  expect_refused(check_output_file, d, "is a directory");
  expect_refused(check_output_file, d + "/", "is a directory");
  EXPECT_NE(::access((d + "/new.json").c_str(), F_OK), 0) << "a check must not create the file";
}

TEST(FileIo, CheckOutputDir) {
  const std::string d = scratch_dir();
  EXPECT_NO_THROW(check_output_dir("--out", d));              // exists: filled
  EXPECT_NO_THROW(check_output_dir("--out", d + "/model/"));  // created later under d
  expect_refused(check_output_dir, d + "/a/b", "does not exist");
  const std::string file = d + "/plain_file";
  std::ofstream(file) << "x";
  expect_refused(check_output_dir, file, "is not a directory");
  expect_refused(check_output_dir, file + "/sub", "is not a directory");
  EXPECT_NE(::access((d + "/model").c_str(), F_OK), 0) << "a check must not create the directory";
}

TEST(FileIo, WriteAtomicReplacesWholeFile) {
  const std::string p = scratch_dir() + "/atomic.bin";
  const std::string a = "first version", b = "2nd";
  write_file_atomic("--out", p, {{a.data(), a.size()}});
  write_file_atomic("--out", p, {{b.data(), 1}, {b.data() + 1, 2}});
  std::ifstream in(p, std::ios::binary);
  std::string got((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(got, b);
  EXPECT_NE(::access((p + ".tmp").c_str(), F_OK), 0);
  EXPECT_THROW(write_file_atomic("--out", scratch_dir() + "/no/such/dir/f", {{a.data(), 1}}),
               Error);
}

}  // namespace
}  // namespace lc
