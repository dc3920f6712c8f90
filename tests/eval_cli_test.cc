// End-to-end tests of `longctx ppl` and `longctx passkey`: tables, JSON and PNG outputs on the
// stories260K assets, and bad input giving a one-line error and exit code 1.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "test_util.h"

namespace lc {
namespace {

struct Result {
  int status = -1;
  std::string out, err;
};

std::string tmp(const std::string& name) {
  return ::testing::TempDir() + "/longctx_evalcli_" + std::to_string(::getpid()) + "_" + name;
}

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write(const std::string& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

Result run_cli(const std::string& args) {
  Result r;
  std::string o = tmp("stdout"), e = tmp("stderr");
  std::string cmd = "timeout 300 '" + test::longctx_bin() + "' " + args + " >'" + o + "' 2>'" + e +
                    "' </dev/null";
  int st = std::system(cmd.c_str());
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.out = slurp(o);
  r.err = slurp(e);
  return r;
}

void expect_clean_error(const Result& r, const std::string& needle) {
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "expected one line: " << r.err;
}

class EvalCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (test::longctx_bin().empty()) GTEST_SKIP() << "LONGCTX_BIN not set";
    model_ = test::asset("llama2c/stories260K.bin");
    tok_ = test::asset("llama2c/tok512.bin");
    text_ = test::asset("corpora/tinystories_sample.txt");
    for (const std::string& p : {model_, tok_, text_})
      if (!test::file_exists(p))
        GTEST_SKIP() << "asset not found: " << p << " (set LONGCTX_ASSETS)";
    // f32 caches: the labels and numbers below are the reference ones (the commands' default
    // is bf16: DefaultCacheIsBf16).
    m_ = "-m '" + model_ + "' -z '" + tok_ + "' --kv-type f32 ";
  }
  std::string model_, tok_, text_, m_;
};

TEST_F(EvalCli, PplTableJsonAndPlot) {
  const std::string js = tmp("ppl.json"), png = tmp("ppl.png");
  Result r = run_cli("ppl " + m_ + "-f '" + text_ + "' -f '" + text_ +
                     "' --max-len 700 --bin 64 --attn full,window,lambda,lambda:D=none --json '" +
                     js + "' --plot '" + png + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("| lambda(G=10,L=512,D=512) |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ppl@512"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| 0-63 |"), std::string::npos) << r.out;
  const std::string j = slurp(js);
  for (const char* key :
       {"\"sha256\"", "\"commit\"", "\"threads\"", "\"landmarks\"", "\"bins\"",
        "\"lambda(G=10,L=512,D=none)\"", "\"window(W=512)\"", "\"tokens_used\": 700"})
    EXPECT_NE(j.find(key), std::string::npos) << key << "\n" << j;
  const std::string p = slurp(png);
  ASSERT_GT(p.size(), 8u);
  EXPECT_EQ(p.substr(1, 3), "PNG");

  // Decode with Python's zlib when available: IDAT inflates to height * (1 + 3 * width) bytes.
  if (std::system("python3 -c 'import zlib' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 with zlib not available: PNG checked by the unit tests only";
  const std::string py = tmp("check_png.py");
  write(py,
        "import struct, sys, zlib\n"
        "b = open(sys.argv[1], 'rb').read()\n"
        "assert b[:8] == b'\\x89PNG\\r\\n\\x1a\\n'\n"
        "i, idat = 8, b''\n"
        "while i < len(b):\n"
        "    n, t = struct.unpack('>I4s', b[i:i+8])\n"
        "    assert zlib.crc32(b[i+4:i+8+n]) == struct.unpack('>I', b[i+8+n:i+12+n])[0]\n"
        "    if t == b'IHDR': w, h = struct.unpack('>II', b[i+8:i+16])\n"
        "    if t == b'IDAT': idat += b[i+8:i+8+n]\n"
        "    i += 12 + n\n"
        "raw = zlib.decompress(idat)\n"
        "assert len(raw) == h * (1 + 3 * w), (len(raw), w, h)\n"
        "print('ok', w, h)\n");
  std::string cmd = "python3 '" + py + "' '" + png + "' > '" + tmp("py.out") + "' 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << slurp(tmp("py.out"));
  EXPECT_EQ(slurp(tmp("py.out")).substr(0, 2), "ok");
}

TEST_F(EvalCli, DefaultCacheIsBf16) {
  const std::string base = "ppl -m '" + model_ + "' -z '" + tok_ + "' -f '" + text_ +
                           "' --max-len 300 --bin 64 --attn lambda";
  Result d = run_cli(base);
  ASSERT_EQ(d.status, 0) << d.err;
  EXPECT_NE(d.out.find("| lambda(G=10,L=512,D=512)+kv(bf16) | 299 |"), std::string::npos) << d.out;
  Result f = run_cli(base + " --kv-type f32");
  ASSERT_EQ(f.status, 0) << f.err;
  EXPECT_NE(f.out.find("| lambda(G=10,L=512,D=512) | 299 |"), std::string::npos) << f.out;
  Result h = run_cli("ppl --help");
  EXPECT_NE(h.out.find("bf16 by default"), std::string::npos) << h.out;
}

TEST_F(EvalCli, PplStreamAndStride) {
  Result s = run_cli("ppl " + m_ + "-f '" + text_ + "' --stream 1500 --attn lambda --bin 256");
  ASSERT_EQ(s.status, 0) << s.err;
  EXPECT_NE(s.out.find("| lambda(G=10,L=512,D=512) | 1499 |"), std::string::npos) << s.out;
  EXPECT_NE(s.err.find("peak RSS"), std::string::npos) << s.err;
  Result w = run_cli("ppl " + m_ + "-f '" + text_ + "' --stride 256");
  ASSERT_EQ(w.status, 0) << w.err;
  EXPECT_NE(w.out.find("mode strided"), std::string::npos) << w.out;
  // --ctx N: non-overlapping windows of N tokens instead of the trained context.
  const std::string js = tmp("win.json");
  Result v = run_cli("ppl " + m_ + "-f '" + text_ + "' --stride 100 --ctx 100 --json '" + js + "'");
  ASSERT_EQ(v.status, 0) << v.err;
  EXPECT_NE(slurp(js).find("\"stride_window\": 100"), std::string::npos) << slurp(js);
  EXPECT_NE(v.out, w.out);
}

TEST_F(EvalCli, PasskeyRunsAndReports) {
  const std::string js = tmp("pk.json"), png = tmp("pk.png");
  Result r =
      run_cli("passkey " + m_ +
              "--lengths 256,512 --samples 2 --digits 2 --seed 3 --attn full,lambda --json '" + js +
              "' --plot '" + png + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("| full | 256 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| lambda(G=10,L=512,D=512) | 512 |"), std::string::npos) << r.out;
  const std::string j = slurp(js);
  EXPECT_NE(j.find("\"mean_key_nll\""), std::string::npos);
  EXPECT_NE(j.find("\"sha256\""), std::string::npos);
  EXPECT_EQ(slurp(png).substr(1, 3), "PNG");
  EXPECT_EQ(slurp(tmp("pk-accuracy.png")).substr(1, 3), "PNG");
  // Seeded: the same command gives the same table.
  Result again = run_cli("passkey " + m_ +
                         "--lengths 256,512 --samples 2 --digits 2 --seed 3 --attn full,lambda");
  EXPECT_EQ(again.out, r.out);
}

TEST_F(EvalCli, BadInputGivesOneLineErrors) {
  const std::string empty = tmp("empty.txt"), bin = tmp("bin.txt"), latin = tmp("latin1.txt");
  write(empty, "");
  write(bin, std::string("\x7f"
                         "ELF\0\0\0\x01\x02",
                         9) +
                 std::string(100, 'x'));
  write(latin, std::string(50, '\xE9') + std::string(100, 'a'));
  const std::string p = "ppl " + m_;
  expect_clean_error(run_cli(p + "-f /nonexistent/doc.txt"), "-f: cannot read");
  expect_clean_error(run_cli(p + "-f '" + empty + "'"), "is empty");
  expect_clean_error(run_cli(p + "-f '" + bin + "'"), "looks binary");
  expect_clean_error(run_cli(p + "-f '" + latin + "'"), "not valid UTF-8");
  expect_clean_error(run_cli(p), "-f TEXT is required");
  expect_clean_error(run_cli(p + "-f '" + text_ + "' --bin 0"), "--bin");
  expect_clean_error(run_cli(p + "-f '" + text_ + "' --bin 8 --bin 16"), "given more than once");
  expect_clean_error(run_cli(p + "-f '" + text_ + "' --stream 100 --stride 10"),
                     "mutually exclusive");
  expect_clean_error(run_cli(p + "-f '" + text_ + "' --stride 4096"), "--stride");
  expect_clean_error(run_cli(p + "-f '" + text_ + "' --ctx 64"), "--ctx applies to --stride");
  expect_clean_error(run_cli(p + "-f '" + text_ + "' --stride 65 --ctx 64"), "exceeds the window");
  expect_clean_error(run_cli(p + "-f '" + text_ + "' --stride 8 --ctx 1"), "--ctx");
  expect_clean_error(run_cli(p + "-f '" + text_ + "' --attn full,bogus"), "--attn");
  const std::string k = "passkey " + m_;
  expect_clean_error(run_cli(k + "--lengths abc"), "--lengths: expected an integer");
  expect_clean_error(run_cli(k + "--lengths ''"), "--lengths");
  expect_clean_error(run_cli(k + "--lengths 256,,512"), "--lengths");
  expect_clean_error(run_cli(k + "--lengths -5"), "--lengths");
  expect_clean_error(run_cli(k), "--lengths is required");
  expect_clean_error(run_cli(k + "--lengths 64,256"), "below the prompt overhead");
  expect_clean_error(run_cli(k + "--lengths 256,1024 --ctx 600"), "exceeds the context of 600");
  expect_clean_error(run_cli(k + "--lengths 256 --digits 0"), "--digits");
  expect_clean_error(run_cli(k + "--lengths 256 --samples 0"), "--samples");
  expect_clean_error(run_cli(k + "--lengths 256 --depths 0.2,1"), "must be in [0, 1)");
  expect_clean_error(run_cli(k + "--lengths 256 --depths 0.2,-0.1"), "--depths");
  expect_clean_error(run_cli(k + "--lengths 256 --depths 0.2,,0.4"), "--depths");
}

// --depths: sample i puts its needle at depth i mod the list's size (its key still drawn per
// sample), so every length gets each depth, and the JSON records the list.
TEST_F(EvalCli, PasskeyFixedDepths) {
  const std::string js = tmp("pk_depths.json");
  Result r = run_cli(
      "passkey " + m_ +
      "--lengths 512 --samples 4 --digits 2 --attn full --depths 0.05,0.95 --json '" + js + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string j = slurp(js);
  EXPECT_NE(j.find("\"depths\": [0.05, 0.95]"), std::string::npos) << j;
  // Each sample's realised depth (slot / fillers) sits next to the one asked for.
  std::vector<double> got;
  for (size_t at = j.find("\"depth\": "); at != std::string::npos;
       at = j.find("\"depth\": ", at + 1))
    got.push_back(std::stod(j.substr(at + 9)));
  ASSERT_EQ(got.size(), 4u) << j;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], i % 2 == 0 ? 0.05 : 0.95, 0.1) << "sample " << i;
}

}  // namespace
}  // namespace lc
