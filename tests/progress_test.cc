// ProgressReporter (core/progress.h) with a fake clock and a temporary file for output: the
// plain lines of a non-terminal at the configured interval and the final line, exactly; the
// terminal's throttled redraws and bar; notes between redraws; quiet mode; unknown totals.
#include "core/progress.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "formats/gguf_writer.h"
#include "formats/hf.h"
#include "formats/llama2c.h"
#include "formats/synthetic.h"

namespace lc {
namespace {

class ProgressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = std::tmpfile();
    ASSERT_NE(file_, nullptr);
  }
  void TearDown() override { std::fclose(file_); }

  ProgressOptions options(int tty) {
    ProgressOptions o;
    o.out = file_;
    o.tty = tty;
    o.clock = [this] { return t_; };
    return o;
  }
  std::string output() {
    std::fflush(file_);
    std::rewind(file_);
    std::string s;
    for (int c; (c = std::fgetc(file_)) != EOF;) s += static_cast<char>(c);
    return s;
  }

  std::FILE* file_ = nullptr;
  double t_ = 100.0;  // the fake clock, in seconds
};

TEST_F(ProgressTest, PlainLinesEveryIntervalAndAFinalLine) {
  {
    ProgressReporter p("ppl full", "tokens", 100, options(0));
    EXPECT_FALSE(p.is_tty());
    t_ = 105;
    p.update(10);  // 5 s: before the first interval
    EXPECT_EQ(output(), "");
    t_ = 110;
    p.update(30);  // 10 s: 3 tokens/s, 70 left -> 23 s
    t_ = 115;
    p.update(40);  // 5 s after the last line: nothing
    t_ = 121;
    p.update(60);  // 60 / 21 s, 40 left at 21/60 s each -> 14 s
    t_ = 125;
    p.update(100);
    // The destructor finishes.
  }
  EXPECT_EQ(output(),
            "ppl full: 30/100 tokens (30%), 3.00 tokens/s, 23s left\n"
            "ppl full: 60/100 tokens (60%), 2.86 tokens/s, 14s left\n"
            "ppl full: 100/100 tokens in 25.0 s (4.00 tokens/s)\n");
}

TEST_F(ProgressTest, IntervalIsConfigurableAndFinishIsOnce) {
  ProgressOptions o = options(0);
  o.plain_interval_s = 2;
  ProgressReporter p("convert", "tensors", 4, o);
  for (int i = 1; i <= 4; ++i) {
    t_ += 1;
    p.update(i);
  }
  p.finish();
  p.finish();
  p.update(4);
  EXPECT_EQ(output(),
            "convert: 2/4 tensors (50%), 1.00 tensors/s, 2s left\n"
            "convert: 4/4 tensors (100%), 1.00 tensors/s\n"
            "convert: 4/4 tensors in 4.0 s (1.00 tensors/s)\n");
}

TEST_F(ProgressTest, RateInAnotherUnit) {
  ProgressOptions o = options(0);
  o.rate_unit = "tokens";
  o.rate_per_item = 8 * 128;
  ProgressReporter p("train", "steps", 200, o);
  t_ += 10;
  p.update(50);
  EXPECT_EQ(p.status_text(), "train: 50/200 steps (25%), 5120 tokens/s, 30s left");
  t_ += 50;
  p.update(200);
  p.finish();
  EXPECT_EQ(output(),
            "train: 50/200 steps (25%), 5120 tokens/s, 30s left\n"
            "train: 200/200 steps (100%), 3413 tokens/s\n"
            "train: 200/200 steps in 60.0 s (3413 tokens/s)\n");
}

TEST_F(ProgressTest, UnknownTotalHasNoPercentageOrTimeLeft) {
  ProgressReporter p("stream", "tokens", 0, options(0));
  t_ += 20;
  p.update(1000);
  p.finish();
  EXPECT_EQ(output(),
            "stream: 1000 tokens, 50.0 tokens/s\n"
            "stream: 1000 tokens in 20.0 s (50.0 tokens/s)\n");
}

TEST_F(ProgressTest, TerminalRedrawsAtMostFiveTimesASecondAndEndsOnTheFinalLine) {
  ProgressReporter p("recall", "models", 10, options(1));
  EXPECT_TRUE(p.is_tty());
  t_ += 1;
  p.update(3);  // drawn
  t_ += 0.1;
  p.update(4);  // 0.1 s later: skipped
  t_ += 0.2;
  p.update(5);  // 0.3 s after the last draw: drawn
  p.finish();
  const std::string bar3 = "[######..............]", bar5 = "[##########..........]";
  EXPECT_EQ(output(), "\rrecall " + bar3 + " 3/10 models (30%), 3.00 models/s, 2s left\033[K" +
                          "\rrecall " + bar5 + " 5/10 models (50%), 3.85 models/s, 1s left\033[K" +
                          "\rrecall: 5/10 models in 1.3 s (3.85 models/s)\033[K\n");
}

TEST_F(ProgressTest, TerminalDrawsTheLastItemAtOnce) {
  ProgressOptions o = options(1);
  o.final_line = false;
  ProgressReporter p("x", "tokens", 2, o);
  p.update(1);  // drawn (the first)
  p.update(2);  // no time passed, but done == total: drawn
  p.finish();   // no final line: the bar is cleared
  EXPECT_EQ(output(),
            "\rx [##########..........] 1/2 tokens (50%), 0.00 tokens/s\033[K"
            "\rx [####################] 2/2 tokens (100%), 0.00 tokens/s\033[K"
            "\r\033[K");
}

TEST_F(ProgressTest, NotesClearTheBarAndRedrawIt) {
  ProgressReporter p("train", "steps", 4, options(1));
  t_ += 1;
  p.update(1);
  p.note("step 1/4  loss 5.0");
  const std::string bar =
      "\rtrain [#####...............] 1/4 steps (25%), 1.00 steps/s, 3s left\033[K";
  EXPECT_EQ(output(), bar + "\r\033[Kstep 1/4  loss 5.0\n" + bar);
}

TEST_F(ProgressTest, PlainNotesAreJustLines) {
  ProgressReporter p("train", "steps", 4, options(0));
  p.note("step 1/4  loss 5.0");
  p.finish();
  EXPECT_EQ(output(), "step 1/4  loss 5.0\ntrain: 0/4 steps in 0.0 s (0.00 steps/s)\n");
}

TEST_F(ProgressTest, QuietShowsNoProgressButKeepsNotes) {
  for (int tty : {0, 1}) {
    ProgressOptions o = options(tty);
    o.quiet = true;
    ProgressReporter p("q", "tokens", 10, o);
    t_ += 100;
    p.update(5);
    p.note("a note");
    p.update(10);
    p.finish();
  }
  EXPECT_EQ(output(), "a note\na note\n");
}

TEST(ProgressFormat, Durations) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(59.4), "59s");
  EXPECT_EQ(format_duration(59.6), "1m00s");
  EXPECT_EQ(format_duration(185), "3m05s");
  EXPECT_EQ(format_duration(7380), "2h03m");
  EXPECT_EQ(format_duration(-3), "0s");
}

// The writers' on_tensor callback (what `longctx convert` shows): once per tensor, in order, with
// the total, for GGUF and for safetensors.
TEST(WriterProgress, EveryTensorIsReportedOnce) {
  namespace fs = std::filesystem;
  const std::string dir = ::testing::TempDir() + "/longctx_progress_" + std::to_string(::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  write_synthetic_llama2c(dir + "/m.bin", {16, 32, 2, 2, 1, 40, 8, 1, true});
  auto model = load_model_file(dir + "/m.bin");
  const int64_t n = static_cast<int64_t>(model->tensors.size());
  ASSERT_GT(n, 4);
  std::vector<std::pair<int64_t, int64_t>> calls;
  const TensorWriteProgress record = [&](int64_t written, int64_t total) {
    calls.emplace_back(written, total);
  };
  std::vector<std::pair<int64_t, int64_t>> expected;
  for (int64_t i = 1; i <= n; ++i) expected.emplace_back(i, n);
  write_model_gguf(dir + "/m.gguf", *model, {}, record);
  EXPECT_EQ(calls, expected);
  calls.clear();
  permute_rope_rows(*model, ops::RopeStyle::RotateHalf);
  write_hf_dir(dir + "/hf", *model, record);
  EXPECT_EQ(calls, expected);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace lc
