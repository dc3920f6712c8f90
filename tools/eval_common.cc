#include "eval_common.h"

#include <unistd.h>

#include <cstdio>

#include "core/sha256.h"
#include "core/timer.h"

namespace lc::cli {

ProgressLine::ProgressLine(std::string what)
    : what_(std::move(what)), tty_(::isatty(STDERR_FILENO) == 1), start_(now_seconds()) {}

ProgressLine::~ProgressLine() { finish(); }

void ProgressLine::update(int64_t done, int64_t total) {
  if (!tty_) return;
  const double now = now_seconds();
  if (now - last_ < 0.25 && done < total) return;
  last_ = now;
  const double el = now - start_, rate = el > 0 ? static_cast<double>(done) / el : 0;
  const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0;
  std::fprintf(stderr, "\r%s: %lld / %lld tokens, %.0f tok/s, ETA %dm%02ds   ", what_.c_str(),
               static_cast<long long>(done), static_cast<long long>(total), rate,
               static_cast<int>(eta) / 60, static_cast<int>(eta) % 60);
  std::fflush(stderr);
  shown_ = true;
}

void ProgressLine::finish() {
  if (shown_) std::fputs("\r\033[K", stderr);
  shown_ = false;
}

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
