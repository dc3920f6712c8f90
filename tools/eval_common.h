// Helpers shared by the evaluation commands (ppl, passkey): progress on a terminal, the run
// record for JSON, and the command line as text.
#pragma once
#include <cstdint>
#include <string>

#include "args.h"
#include "core/progress.h"
#include "eval/report.h"
#include "formats/model_file.h"

namespace lc::cli {

// The evaluation commands' progress: a ProgressReporter (core/progress.h) counting `unit`, live
// on a terminal, a plain line every 10 s otherwise; finish() leaves no summary line (the
// commands print their own).
class ProgressLine {
 public:
  explicit ProgressLine(std::string what, std::string unit = "tokens");
  void update(int64_t done, int64_t total) { reporter_.update(done, total); }
  void finish() { reporter_.finish(); }

 private:
  ProgressReporter reporter_;
};

std::string command_line(int argc, char** argv);
// Model path + sha256, tokenizer, threads, commit, command line.
RunInfo make_run_info(const std::string& evaluation, const Args& a, const ModelFile& file,
                      int threads, int argc, char** argv);

}  // namespace lc::cli
