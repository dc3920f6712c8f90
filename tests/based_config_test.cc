// BASED configs with `n_positions: 0` (valid for these rotary models; the official code runs
// them): the trained length comes from the mixers' l_max, else it is unknown (ctx_len 0), and
// the model, the writer and the CLI commands that take a BASED model work with either.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "formats/hf.h"
#include "formats/synthetic.h"
#include "model/based.h"
#include "runtime/session.h"
#include "test_util.h"

namespace lc {
namespace {

namespace fs = std::filesystem;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// Replaces the one occurrence of `from` in the text (the test fails if there is none).
void replace_once(std::string& text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
}

const char kConv[] = "\"_target_\": \"based.models.mixers.convolution.BaseConv\"";
const char kLinear[] = "\"_target_\": \"based.models.mixers.linear_attention.LinearAttention\"";

class BasedConfig0 : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/longctx_based_cfg_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    ModelConfig c = based_preset("tiny");
    SynthOptions o;
    o.weight_std = 0.15f;
    write_hf_dir(dir_, *synthetic_based(c, 5, o));
    config_ = read_text(dir_ + "/config.json");
    ASSERT_NE(config_.find("\"n_positions\": 2048,"), std::string::npos) << config_;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // config.json with n_positions = `n_positions` and, when not empty, mixer.l_max = `conv` and
  // alt_mixer.l_max = `linear` (JSON text), loaded.
  std::unique_ptr<ModelFile> load_with(const std::string& n_positions, const std::string& conv,
                                       const std::string& linear) {
    std::string cfg = config_;
    replace_once(cfg, "\"n_positions\": 2048,", "\"n_positions\": " + n_positions + ",");
    if (!conv.empty()) replace_once(cfg, kConv, std::string(kConv) + ", \"l_max\": " + conv);
    if (!linear.empty())
      replace_once(cfg, kLinear, std::string(kLinear) + ", \"l_max\": " + linear);
    write_text(dir_ + "/config.json", cfg);
    return load_model_file(dir_);
  }

  std::string dir_, config_;
};

TEST_F(BasedConfig0, TrainedLengthFromTheMixersLMax) {
  EXPECT_EQ(load_with("0", "1024", "1024")->config.ctx_len, 1024);
  EXPECT_EQ(load_with("0", "", "512")->config.ctx_len, 512);
  EXPECT_EQ(load_with("0", "300", "")->config.ctx_len, 300);
  EXPECT_EQ(load_with("0", "0", "700")->config.ctx_len, 700);     // l_max 0 says nothing
  EXPECT_EQ(load_with("0", "null", "700")->config.ctx_len, 700);  // nor does null
  // A nonzero n_positions is the trained length, whatever the mixers say.
  EXPECT_EQ(load_with("512", "1024", "1024")->config.ctx_len, 512);
  // No n_positions at all: the flash-attn GPT config's default, 2048, as before.
  std::string cfg = config_;
  replace_once(cfg, "  \"n_positions\": 2048,\n", "");
  write_text(dir_ + "/config.json", cfg);
  EXPECT_EQ(load_model_file(dir_)->config.ctx_len, 2048);
}

TEST_F(BasedConfig0, WithoutLMaxTheTrainedLengthIsUnknown) {
  EXPECT_EQ(load_with("0", "", "")->config.ctx_len, 0);
  EXPECT_EQ(load_with("0", "0", "null")->config.ctx_len, 0);
}

TEST_F(BasedConfig0, BadValuesAreRefusedByName) {
  test::expect_error([&] { load_with("0", "1024", "2048"); },
                     {"config.json", "mixer.l_max = 1024", "alt_mixer.l_max = 2048"});
  test::expect_error([&] { load_with("0", "-5", ""); }, {"config.json", "mixer.l_max"});
  test::expect_error([&] { load_with("0", "\"2048\"", ""); }, {"config.json", "mixer.l_max"});
  test::expect_error([&] { load_with("-1", "", ""); }, {"config.json", "n_positions", "-1"});
}

// ctx_len only describes the checkpoint: the forward pass (prefill, decode) is the same with the
// trained length known, read from l_max, or unknown.
TEST_F(BasedConfig0, ModelRunsTheSameWithAnUnknownTrainedLength) {
  const auto known = load_with("2048", "", "");
  const auto unknown = load_with("0", "", "");
  // load_with rewrote config.json; the first model's tensors stay mapped from model.safetensors.
  ASSERT_EQ(unknown->config.ctx_len, 0);
  BasedModel mk(*known), mu(*unknown);
  const int64_t n = 37, vocab = mk.vocab_size();
  const auto toks = test::random_tokens(n, vocab, 4);
  std::vector<float> lk(static_cast<size_t>(n * vocab)), lu(lk.size());
  Session sk(mk, {}), su(mu, {});
  sk.all_logits(toks.data(), n, lk.data());
  su.all_logits(toks.data(), n, lu.data());
  EXPECT_EQ(lk, lu);
  // Prefill then decode: the same recurrent path in both.
  for (Session* s : {&sk, &su}) {
    s->reset();
    s->prefill(toks.data(), n - 1);
  }
  const float* a = sk.decode(toks[n - 1]);
  const std::vector<float> decoded_known(a, a + vocab);
  const float* b = su.decode(toks[n - 1]);
  EXPECT_EQ(std::vector<float>(b, b + vocab), decoded_known);
}

TEST_F(BasedConfig0, WriterKeepsAnUnknownTrainedLength) {
  const auto m = load_with("0", "", "");
  const std::string out = dir_ + "/copy";
  write_hf_dir(out, *m);
  EXPECT_EQ(load_model_file(out)->config.ctx_len, 0);
}

// The commands that take a BASED model, on the embedded BASED twin with n_positions 0.
TEST(BasedConfig0Cli, RunBenchPplWithAnUnknownTrainedLength) {
  if (test::longctx_bin().empty()) GTEST_SKIP() << "LONGCTX_BIN not set";
  const std::string dir =
      ::testing::TempDir() + "/longctx_based_cfg_cli_" + std::to_string(::getpid());
  fs::remove_all(dir);
  fs::copy(std::string(LONGCTX_SOURCE_DIR) + "/models/default-based", dir);
  std::string cfg = read_text(dir + "/config.json");
  replace_once(cfg, "\"n_positions\": 256,", "\"n_positions\": 0,");
  write_text(dir + "/config.json", cfg);
  const std::string text = dir + "/text.txt";
  std::string long_text;
  for (int i = 0; i < 40; ++i) long_text += "The quick brown fox jumps over the lazy dog. ";
  write_text(text, long_text);
  const auto run = [&](const std::string& args) {
    const std::string cmd = "timeout 120 '" + test::longctx_bin() + "' " + args + " >'" + dir +
                            "/out.txt' 2>&1 </dev/null";
    const int st = std::system(cmd.c_str());
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  };
  EXPECT_EQ(run("run -m '" + dir + "' -p 'Once upon' -n 16 --temp 0"), 0)
      << read_text(dir + "/out.txt");
  EXPECT_EQ(run("bench -m '" + dir + "' --prompt 16 --gen 8 --reps 1 --fill 4096"), 0)
      << read_text(dir + "/out.txt");
  EXPECT_EQ(run("ppl -m '" + dir + "' -f '" + text + "' --bin 64 --json '" + dir +
                "/ppl.json' --plot '" + dir + "/ppl.png'"),
            0)
      << read_text(dir + "/out.txt");
  EXPECT_NE(read_text(dir + "/ppl.json").find("\"trained_ctx\": 0"), std::string::npos)
      << read_text(dir + "/ppl.json");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace lc
