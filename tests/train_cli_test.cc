// `longctx train` end to end: MQAR with a BASED model (BaseConv + Taylor, no MLP) and byte-level
// text with a Llama model train for a few steps, print progress lines and export directories that
// the engine loads; bad flags are refused with a one-line error.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "formats/model_file.h"
#include "model/based.h"
#include "model/llama.h"
#include "test_util.h"

namespace lc {
namespace {

struct Result {
  int status = -1;
  std::string err;
};

std::string tmp(const std::string& name) {
  return ::testing::TempDir() + "/longctx_train_cli_" + std::to_string(::getpid()) + "_" + name;
}

Result run_cli(const std::string& args) {
  Result r;
  const std::string e = tmp("stderr");
  const std::string cmd =
      "timeout 120 '" + test::longctx_bin() + "' " + args + " >/dev/null 2>'" + e + "' </dev/null";
  const int st = std::system(cmd.c_str());
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  std::ifstream in(e, std::ios::binary);
  r.err = std::string(std::istreambuf_iterator<char>(in), {});
  return r;
}

TEST(TrainCli, MqarBasedExportsLoadableCheckpoint) {
  if (test::longctx_bin().empty()) GTEST_SKIP() << "LONGCTX_BIN not set";
  const std::string dir = tmp("mqar");
  const Result r = run_cli(
      "train --arch based --task mqar --vocab 64 --seq-len 32 --pairs 4 "
      "--dim 16 --linear-heads 2 --feature-dim 4 --steps 3 --batch 2 "
      "-t 2 -o '" +
      dir + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("step 3/3  loss "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tok/s"), std::string::npos) << r.err;
  auto f = load_model_file(dir);
  EXPECT_EQ(f->config.arch, Arch::Based);
  EXPECT_EQ(f->config.based.linear_layers, std::vector<int64_t>{1});
  BasedModel m(*f);
  EXPECT_EQ(m.vocab_size(), 64);
}

TEST(TrainCli, TextLlamaExportsLoadableCheckpoint) {
  if (test::longctx_bin().empty()) GTEST_SKIP() << "LONGCTX_BIN not set";
  const std::string text = tmp("text.txt"), dir = tmp("llama");
  {
    std::ofstream o(text);
    for (int i = 0; i < 50; ++i) o << "a small text to learn from, line " << i << "\n";
  }
  const Result r = run_cli("train --arch llama --data '" + text +
                           "' --dim 16 --heads 2 "
                           "--hidden 32 --seq-len 24 --steps 2 --batch 2 -o '" +
                           dir + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  auto f = load_model_file(dir);
  EXPECT_EQ(f->config.vocab_size, 257);
  EXPECT_EQ(f->config.bos_id, 256);
  LlamaModel m(*f);
  // The byte-level tokenizer.json beside the weights makes `run -p TEXT` work on its own.
  EXPECT_EQ(run_cli("run -m '" + dir + "' -p 'a small' -n 4 --temp 0").status, 0);
}

TEST(TrainCli, HeldOutValidationAndJsonLog) {
  if (test::longctx_bin().empty()) GTEST_SKIP() << "LONGCTX_BIN not set";
  const std::string t1 = tmp("doc1.txt"), t2 = tmp("doc2.txt"), js = tmp("log.json");
  {
    std::ofstream a(t1), b(t2);
    for (int i = 0; i < 60; ++i) a << "first document, line " << i << "\n";
    for (int i = 0; i < 60; ++i) b << "second document, line " << i << "\n";
  }
  const std::string common = "train --arch llama --data '" + t1 + "' --data '" + t2 +
                             "' --dim 16 --heads 2 --hidden 32 --seq-len 24 --batch 2 ";
  const Result r = run_cli(common +
                           "--steps 4 --val-frac 0.2 --eval-every 2 --log-every 2 "
                           "--json '" +
                           js + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("step 2/4  val loss "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("step 4/4  val loss "), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("step 1/4  loss"), std::string::npos) << r.err;  // --log-every 2
  std::ifstream in(js);
  const std::string json((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(json.find("\"validation\""), std::string::npos);
  EXPECT_NE(json.find("\"tokens_per_s\""), std::string::npos);
  const Result tiny = run_cli(common + "--steps 1 --val-frac 0.01");
  EXPECT_EQ(tiny.status, 1);
  EXPECT_NE(tiny.err.find("--val-frac"), std::string::npos) << tiny.err;
}

TEST(TrainCli, RefusesBadFlags) {
  if (test::longctx_bin().empty()) GTEST_SKIP() << "LONGCTX_BIN not set";
  for (const char* args :
       {"train --arch gpt --task mqar", "train --arch llama", "train --task mqar --steps 12abc",
        "train --arch llama --task mqar --mixers al", "train --task mqar --seq-len 31",
        "train --task mqar --matmul-precision medium"}) {
    const Result r = run_cli(args);
    EXPECT_EQ(r.status, 1) << args << "\n" << r.err;
    EXPECT_NE(r.err.find("error:"), std::string::npos) << args;
  }
  // --matmul-precision high needs AMX tiles: with them turned off it is a one-line error on any
  // CPU, before a step is run.
  ::setenv("LONGCTX_AMX", "0", 1);
  const Result r = run_cli("train --task mqar --matmul-precision high --steps 2");
  ::unsetenv("LONGCTX_AMX");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("needs AMX-BF16 tiles"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("step 1/"), std::string::npos) << r.err;
}

// Outputs are written after training; an unwritable --json or -o path is refused before the
// first step (stderr has the error and no step line), and nothing is created.
TEST(TrainCli, RefusesUnwritableOutputsBeforeTraining) {
  if (test::longctx_bin().empty()) GTEST_SKIP() << "LONGCTX_BIN not set";
  const std::string missing = tmp("no_such_dir") + "/sub";
  const std::string run =
      "train --arch based --task mqar --mixers cl --dim 32 --layers 2 "
      "--heads 2 --feature-dim 4 --vocab 64 --pairs 2 --seq-len 32 "
      "--batch 4 --steps 1000000 -t 1 ";
  struct Case {
    std::string flags, want;
  };
  const Case cases[] = {{"--json " + missing + "/log.json", "does not exist"},
                        {"-o " + missing + "/model", "does not exist"},
                        {"--json " + ::testing::TempDir(), "is a directory"}};
  for (const Case& c : cases) {
    const Result r = run_cli(run + c.flags);
    EXPECT_EQ(r.status, 1) << c.flags << "\n" << r.err;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << c.flags << "\n" << r.err;
    EXPECT_EQ(r.err.find("step 1/"), std::string::npos) << "trained before refusing: " << c.flags;
  }
  EXPECT_NE(::access(tmp("no_such_dir").c_str(), F_OK), 0);
}

}  // namespace
}  // namespace lc
