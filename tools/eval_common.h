// Helpers shared by the evaluation commands (ppl, passkey): progress on a terminal, the run
// record for JSON, and the command line as text.
#pragma once
#include <cstdint>
#include <string>

#include "args.h"
#include "eval/report.h"
#include "formats/model_file.h"

namespace lc::cli {

// Progress on stderr, only when stderr is a terminal; at most a few updates per second.
class ProgressLine {
 public:
  explicit ProgressLine(std::string what);
  ~ProgressLine();
  void update(int64_t done, int64_t total);
  void finish();

 private:
  std::string what_;
  bool tty_;
  double start_, last_ = 0;
  bool shown_ = false;
};

std::string command_line(int argc, char** argv);
// Model path + sha256, tokenizer, threads, commit, command line.
RunInfo make_run_info(const std::string& evaluation, const Args& a, const ModelFile& file,
                      int threads, int argc, char** argv);

}  // namespace lc::cli
