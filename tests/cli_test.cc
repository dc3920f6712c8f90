// End-to-end tests of the `longctx` binary: the reference greedy output, and bad input giving a
// one-line error and a non-zero exit (never a crash or a hang).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "formats/gguf_writer.h"
#include "test_util.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace lc {
namespace {

struct Result {
  int status = -1;  // exit code, or 128+signal
  std::string out, err;
};

std::string tmp(const std::string& name) {
  return ::testing::TempDir() + "/longctx_cli_" + std::to_string(::getpid()) + "_" + name;
}

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs `longctx ARGS` under a 120 s timeout, capturing stdout and stderr.
Result run_cli(const std::string& args) {
  Result r;
  std::string o = tmp("stdout"), e = tmp("stderr");
  std::string cmd = "timeout 120 '" + test::longctx_bin() + "' " + args + " >'" + o + "' 2>'" + e +
                    "' </dev/null";
  int st = std::system(cmd.c_str());
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.out = slurp(o);
  r.err = slurp(e);
  return r;
}

#define LC_REQUIRE_BIN()                                                    \
  do {                                                                      \
    if (test::longctx_bin().empty()) GTEST_SKIP() << "LONGCTX_BIN not set"; \
  } while (0)

// An error is exit code 1 (not a signal, not a timeout) with exactly one line on stderr that
// contains `needle`.
void expect_clean_error(const Result& r, const std::string& needle) {
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "expected one line: " << r.err;
}

TEST(Cli, Stories260KGreedyMatchesReference) {
  LC_REQUIRE_BIN();
  std::string model = test::asset("llama2c/stories260K.bin"),
              tok = test::asset("llama2c/tok512.bin"),
              ref = test::asset("reference_outputs/stories260K_greedy_n200.txt");
  LC_REQUIRE_ASSET(model);
  LC_REQUIRE_ASSET(tok);
  LC_REQUIRE_ASSET(ref);
  for (const char* threads : {"1", "2"}) {
    Result r = run_cli("run -m '" + model + "' -z '" + tok + "' --temp 0 -n 200 -t " + threads);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, slurp(ref)) << "threads " << threads;
  }
  // The SentencePiece .model of the same vocabulary gives the same text.
  std::string spm = test::asset("llama2c/tok512.model");
  LC_REQUIRE_ASSET(spm);
  Result r = run_cli("run -m '" + model + "' -z '" + spm + "' --temp 0 -n 200");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, slurp(ref));
}

TEST(Cli, SamplingIsSeededAndStopsAtLimit) {
  LC_REQUIRE_BIN();
  std::string model = test::asset("llama2c/stories260K.bin"),
              tok = test::asset("llama2c/tok512.bin");
  LC_REQUIRE_ASSET(model);
  LC_REQUIRE_ASSET(tok);
  std::string base = "run -m '" + model + "' -z '" + tok +
                     "' -p 'Once upon' -n 40 --temp 0.9 --top-p 0.9 --top-k 40";
  Result a = run_cli(base + " --seed 3"), b = run_cli(base + " --seed 3"),
         c = run_cli(base + " --seed 4");
  ASSERT_EQ(a.status, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out, c.out);
  Result v = run_cli("run -m '" + model + "' -z '" + tok + "' --temp 0 -n 5 --verbose");
  ASSERT_EQ(v.status, 0) << v.err;
  EXPECT_NE(v.err.find("generation: 5 tokens"), std::string::npos) << v.err;
}

TEST(Cli, BadFlagsGiveOneLineErrors) {
  LC_REQUIRE_BIN();
  std::string model = test::asset("llama2c/stories260K.bin"),
              tok = test::asset("llama2c/tok512.bin");
  LC_REQUIRE_ASSET(model);
  LC_REQUIRE_ASSET(tok);
  std::string m = "run -m '" + model + "' -z '" + tok + "' ";
  expect_clean_error(run_cli(m + "-n 12abc"), "-n: expected an integer");
  expect_clean_error(run_cli(m + "-t 0"), "-t: expected an integer");
  expect_clean_error(run_cli(m + "--temp -1"), "--temp: expected a number");
  expect_clean_error(run_cli(m + "--top-p 1.5"), "--top-p");
  expect_clean_error(run_cli(m + "--ctx 2x"), "--ctx");
  expect_clean_error(run_cli(m + "--bogus 1"), "unknown argument '--bogus'");
  expect_clean_error(run_cli(m + "-n"), "-n needs a value");
  expect_clean_error(run_cli(m + "--dtype f8"), "--dtype");
  expect_clean_error(run_cli(m + "--kv-type q4_k"), "--kv-type: expected one of f32, bf16, f16");
  expect_clean_error(run_cli(m + "--attn lambda:kv=x"), "kv: expected one of f32, bf16, f16");
  // stories260K's heads are 8 wide: q8_0 rows need whole blocks of 32.
  expect_clean_error(run_cli(m + "--kv-type q8_0"), "head size 8 is not a multiple");
  expect_clean_error(run_cli(m + "--kv-type q4"), "type q4 stores blocks of 32");
  // LM-Infinite's top-k middle store takes no q4 keys (KIVI groups them); the error says what does.
  expect_clean_error(run_cli(m + "--attn lambda:K=2:kt=q4"), "does not keep q4 keys");
  expect_clean_error(run_cli(m + "-f /nonexistent/prompt.txt"), "-f: cannot read");
  expect_clean_error(run_cli(m + "--ctx 8 -p 'Once upon a time there was a little girl'"),
                     "longer than the context");
  expect_clean_error(run_cli("run -m '" + model + "' -z /nonexistent/tok.bin"),
                     "/nonexistent/tok.bin");
  expect_clean_error(run_cli("run -z '" + tok + "'"), "-m is required");
  expect_clean_error(run_cli("bench -m '" + model + "' --reps 0"), "--reps");
  expect_clean_error(run_cli("bench -m '" + model + "' --block 0"), "--block");
  expect_clean_error(run_cli("logits -m '" + model + "' --tokens 1,2,,3"), "--tokens");
  expect_clean_error(run_cli("logits -m '" + model + "' --tokens 1,99999"), "out of range");
  // LONGCTX_AMX takes 0 or 1; anything else is a one-line error when a product of bf16 weights
  // first asks for the AMX tiles (stories260K's 64-wide rows, converted to bf16 at load), on any
  // CPU.
  ::setenv("LONGCTX_AMX", "yes", 1);
  const Result amx = run_cli(m + "--dtype bf16 -n 2");
  ::unsetenv("LONGCTX_AMX");
  expect_clean_error(amx, "LONGCTX_AMX: expected 0 (off) or 1");
  // LONGCTX_AMX_ATTN likewise, at the first tiled prefill (a prompt of more than 3 tokens).
  ::setenv("LONGCTX_AMX_ATTN", "on", 1);
  const Result amx_attn = run_cli(m + "-n 2 -p 'Once upon a time there was a girl'");
  ::unsetenv("LONGCTX_AMX_ATTN");
  expect_clean_error(amx_attn, "LONGCTX_AMX_ATTN: expected 0 (off) or 1");
  Result u = run_cli("frobnicate");
  EXPECT_EQ(u.status, 2);
}

TEST(Cli, CorruptModelAndTokenizerFilesAreRejected) {
  LC_REQUIRE_BIN();
  std::string tok = test::asset("llama2c/tok512.bin"),
              model = test::asset("llama2c/stories260K.bin");
  LC_REQUIRE_ASSET(tok);
  LC_REQUIRE_ASSET(model);
  std::string bytes = slurp(model);
  std::string trunc = tmp("trunc.bin");
  std::ofstream(trunc, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  expect_clean_error(run_cli("run -m '" + trunc + "' -z '" + tok + "'"), trunc);
  std::string badtok = tmp("badtok.bin");
  std::string tbytes = slurp(tok);
  std::ofstream(badtok, std::ios::binary) << tbytes.substr(0, tbytes.size() - 7);
  expect_clean_error(run_cli("run -m '" + model + "' -z '" + badtok + "'"), badtok);
}

// A GGUF whose tokenizer.ggml.pre longctx does not know: one line naming it and the supported
// names, exit 1. And `tokenize -z` on a vocabulary-only file: --special, --decode, --no-bos.
TEST(Cli, TokenizePreTokenizersAndSpecialTokens) {
  LC_REQUIRE_BIN();
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(bpe_byte_text(static_cast<unsigned char>(b)));
  tokens.push_back("<|im_start|>");
  std::vector<int64_t> types(tokens.size(), kPieceNormal);
  types.back() = kPieceControl;
  const auto write = [&](const std::string& path, const std::string& pre) {
    write_gguf(path,
               {{"tokenizer.ggml.model", gguf_string("gpt2")},
                {"tokenizer.ggml.pre", gguf_string(pre)},
                {"tokenizer.ggml.tokens", gguf_string_array(tokens)},
                {"tokenizer.ggml.token_type", gguf_i32_array(types)},
                {"tokenizer.ggml.merges", gguf_string_array({})},
                {"tokenizer.ggml.bos_token_id", gguf_u32(256)},
                {"tokenizer.ggml.add_bos_token", gguf_bool(true)}},
               {});
  };
  const std::string bad = tmp("badpre.gguf"), good = tmp("smollm.gguf");
  write(bad, "no-such-pre");
  expect_clean_error(
      run_cli("tokenize -z '" + bad + "' -p hi"),
      "tokenizer.ggml.pre 'no-such-pre' is not a supported pre-tokenizer (supported: "
      "default, gpt-2");
  write(good, "smollm");
  Result plain = run_cli("tokenize -z '" + good + "' -p '<|im_start|>a1'");
  ASSERT_EQ(plain.status, 0) << plain.err;
  EXPECT_EQ(plain.out, "256,60,124,105,109,95,115,116,97,114,116,124,62,97,49\n");
  Result special = run_cli("tokenize -z '" + good + "' --special -p '<|im_start|>a1'");
  EXPECT_EQ(special.out, "256,256,97,49\n");
  Result no_bos = run_cli("tokenize -z '" + good + "' --special --no-bos -p '<|im_start|>a1'");
  EXPECT_EQ(no_bos.out, "256,97,49\n");
  EXPECT_EQ(run_cli("tokenize -z '" + good + "' --decode -p '<|im_start|>a1'").out,
            "<|im_start|>a1");
  EXPECT_EQ(run_cli("tokenize -z '" + good + "' --decode --special -p '<|im_start|>a1'").out,
            "<|im_start|>a1");
  EXPECT_EQ(run_cli("tokenize -z '" + good + "' --count -p ab").out, "3\n");
  expect_clean_error(run_cli("tokenize -p ab"), "give -m MODEL or -z TOKENIZER");
  ::unlink(bad.c_str());
  ::unlink(good.c_str());
}

TEST(Cli, SynthModelLogitsAndBench) {
  LC_REQUIRE_BIN();
  std::string m = tmp("synth.bin"), out = tmp("logits.f32");
  Result s = run_cli(
      "synth-model -o '" + m +
      "' --dim 64 --hidden 96 --layers 2 --heads 4 --kv-heads 2 --vocab 100 --ctx 32 --seed 9");
  ASSERT_EQ(s.status, 0) << s.err;
  Result l = run_cli("logits -m '" + m + "' --tokens 1,5,7,99 --out '" + out + "'");
  ASSERT_EQ(l.status, 0) << l.err;
  EXPECT_EQ(slurp(out).size(), 4u * 100u * sizeof(float));
  std::string js = tmp("bench.json");
  Result b = run_cli("bench -m '" + m + "' --prompt 16 --gen 8 --reps 2 --json '" + js + "'");
  ASSERT_EQ(b.status, 0) << b.err;
  EXPECT_NE(b.out.find("decode"), std::string::npos);
  EXPECT_NE(slurp(js).find("\"tok_s_median\""), std::string::npos);
  // --block: the prompt in blocks of 5 tokens (the bench's own checks run at that block size too).
  Result bb = run_cli("bench -m '" + m + "' --prompt 16 --gen 2 --reps 1 --block 5");
  ASSERT_EQ(bb.status, 0) << bb.err;
  // A bad size leaves no file behind.
  std::string bad = tmp("bad.bin");
  expect_clean_error(run_cli("synth-model -o '" + bad +
                             "' --dim 63 --hidden 8 --layers 1 --heads 4 --vocab 10 --ctx 8"),
                     "divisible");
  EXPECT_TRUE(slurp(bad).empty());
}

}  // namespace
}  // namespace lc
