// `longctx chat` and `longctx run --chat` driven through pipes: a 200-turn conversation with
// lambda on SmolLM2-135M-Instruct that passes the model's trained context in constant memory,
// /reset, the context limit of full attention, and one-line errors for bad templates.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "cli_run.h"
#include "test_util.h"

namespace lc {
namespace {

using Result = test::CliResult;

std::string tmp(const std::string& name) {
  return ::testing::TempDir() + "/longctx_chatcli_" + std::to_string(::getpid()) + "_" + name;
}

Result run_cli(const std::string& args, const std::string& input) {
  return test::run_longctx(args, input, "chatcli");
}

struct TurnLine {
  long long context;
  double rss, peak;
};

// The --verbose lines "[turn N: ... context C tokens, cache X MiB, RSS R MiB, peak P MiB]".
std::vector<TurnLine> turns_of(const std::string& err) {
  static const std::regex re(
      R"(\[turn \d+: .*context (\d+) tokens, cache [0-9.]+ MiB, RSS ([0-9.]+) MiB, peak ([0-9.]+) MiB\])");
  std::vector<TurnLine> v;
  for (std::sregex_iterator it(err.begin(), err.end(), re), end; it != end; ++it)
    v.push_back({std::stoll((*it)[1]), std::stod((*it)[2]), std::stod((*it)[3])});
  return v;
}

class ChatCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (test::longctx_bin().empty()) GTEST_SKIP() << "LONGCTX_BIN not set";
    model_ = test::asset("real_models/SmolLM2-135M-Instruct.Q4_1.gguf");
    if (!test::file_exists(model_)) GTEST_SKIP() << model_ << " is absent (LONGCTX_ASSETS)";
    m_ = "chat -m '" + model_ + "' --temp 0 ";
  }
  std::string model_, m_;
};

// Under AddressSanitizer the resident set measures its quarantine, not the engine, and every
// turn is several times slower: there the conversation is shorter and only its mechanics count.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

TEST_F(ChatCli, TwoHundredTurnsWithLambdaPassTheTrainedContextInConstantMemory) {
  const int n_turns = kSanitized ? 30 : 200;
  std::string input;
  for (int i = 0; i < n_turns; ++i)
    input += "Message number " + std::to_string(i) + ": tell me one short fact about the number " +
             std::to_string(7 * i) + ".\n";
  const Result r = run_cli(m_ + "-n 16 --attn lambda --window 256 --sinks 8 --verbose", input);
  ASSERT_EQ(r.status, 0) << r.err;
  const std::vector<TurnLine> t = turns_of(r.err);
  ASSERT_EQ(t.size(), static_cast<size_t>(n_turns)) << r.err;
  if (kSanitized) return;
  // Past SmolLM2's trained context of 8192 tokens, in one conversation.
  EXPECT_GT(t.back().context, 8192) << r.err;
  // The cache (8 sinks + a ring of 256 + a block) is full after the first ~10 turns; from turn
  // 20 on the resident set stays within 2 MiB and the peak does not move.
  double lo = 1e30, hi = 0;
  for (size_t i = 19; i < t.size(); ++i) {
    lo = std::min(lo, t[i].rss);
    hi = std::max(hi, t[i].rss);
  }
  EXPECT_LE(hi - lo, 2.0) << "RSS from turn 20 on: " << lo << ".." << hi << " MiB";
  EXPECT_EQ(t[19].peak, t.back().peak);
}

TEST_F(ChatCli, ResetStartsOverAndFullAttentionStopsAtItsContext) {
  const Result r = run_cli(m_ + "-n 4 --verbose",
                           "Hello there.\nAnd again.\n/reset\nHello there.\n/exit\nNo.\n");
  ASSERT_EQ(r.status, 0) << r.err;
  const std::vector<TurnLine> t = turns_of(r.err);
  ASSERT_EQ(t.size(), 3u) << r.err;  // /exit ends the conversation: the last line is not read
  EXPECT_GT(t[1].context, t[0].context);
  EXPECT_EQ(t[2].context, t[0].context);  // after /reset: the same first turn again
  // Greedy: the same first reply before and after /reset.
  const size_t first = r.out.find('\n');
  EXPECT_NE(r.out.find(r.out.substr(0, first), first + 1), std::string::npos) << r.out;

  const Result full = run_cli(m_ + "-n 8 --ctx 50", "Hello there.\nAnd again.\nAnd again.\n");
  EXPECT_EQ(full.status, 1) << full.err;
  EXPECT_NE(full.err.find("context full"), std::string::npos) << full.err;
  EXPECT_NE(full.err.find("--attn lambda or streaming"), std::string::npos) << full.err;
}

TEST_F(ChatCli, RunChatAnswersOneTurnThroughTheTemplate) {
  const Result r = run_cli("run -m '" + model_ + "' --chat -p 'What is 2+2?' --temp 0 -n 12", "");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.find("<|im_start|>"), std::string::npos) << "only the reply is printed";
  EXPECT_EQ(r.out.find("user"), std::string::npos) << r.out;
}

TEST_F(ChatCli, BadTemplatesAndModelsWithoutOneFailWithOneLine) {
  const std::string bad = tmp("bad.jinja");
  std::ofstream(bad) << "{% for m in messages %}\n{{ m.content | wordwrap(5) }}{% endfor %}";
  for (const std::string& cmd : {m_ + "--template '" + bad + "'",
                                 "run -m '" + model_ + "' --chat -p hi --template '" + bad + "'"}) {
    const Result r = run_cli(cmd, "hi\n");
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_NE(r.err.find("chat template line 2: unsupported filter 'wordwrap'"), std::string::npos)
        << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  std::remove(bad.c_str());
  const std::string plain = test::asset("llama2c/stories260K.bin");
  if (test::file_exists(plain)) {
    const Result r =
        run_cli("chat -m '" + plain + "' -z '" + test::asset("llama2c/tok512.bin") + "'", "hi\n");
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_NE(r.err.find("has no chat template"), std::string::npos) << r.err;
  }
  const Result flags = run_cli("run -m '" + model_ + "' -p hi --system x", "");
  EXPECT_EQ(flags.status, 1);
  EXPECT_NE(flags.err.find("--system and --template apply to --chat only"), std::string::npos);
}

}  // namespace
}  // namespace lc
