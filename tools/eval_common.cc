#include "eval_common.h"

#include <utility>

#include "core/sha256.h"

namespace lc::cli {

namespace {
ProgressOptions without_final_line() {
  ProgressOptions o;
  o.final_line = false;
  return o;
}
}  // namespace

ProgressLine::ProgressLine(std::string what, std::string unit)
    : reporter_(std::move(what), std::move(unit), 0, without_final_line()) {}

std::string command_line(int argc, char** argv) {
  std::string s = "longctx";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    bool quote = arg.empty() || arg.find_first_of(" \t'\"$\\") != std::string::npos;
    s += ' ';
    s += quote ? "'" + arg + "'" : arg;
  }
  return s;
}

RunInfo make_run_info(const std::string& evaluation, const Args& a, const ModelFile& file,
                      int threads, int argc, char** argv) {
  RunInfo info;
  info.evaluation = evaluation;
  info.model_path = file.path;
  info.model_sha256 = sha256_path(file.path);
  info.tokenizer = a.has("-z") ? a.str("-z") : "(beside the model)";
  info.threads = threads;
  info.command_line = command_line(argc, argv);
  return info;
}

}  // namespace lc::cli
