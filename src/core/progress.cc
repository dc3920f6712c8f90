#include "core/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/timer.h"

namespace lc {
namespace {

constexpr int kBarWidth = 20;

std::string format_rate(double r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, r < 10 ? "%.2f" : r < 100 ? "%.1f" : "%.0f", r);
  return buf;
}

}  // namespace

std::string format_duration(double seconds) {
  const long long s = std::llround(std::max(0.0, seconds));
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, s / 60 % 60);
  }
  return buf;
}

ProgressReporter::ProgressReporter(std::string label, std::string unit, int64_t total,
                                   ProgressOptions opt)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      opt_(std::move(opt)),
      out_(opt_.out ? opt_.out : stderr),
      tty_(opt_.tty >= 0 ? opt_.tty == 1 : ::isatty(::fileno(out_)) == 1),
      start_(now()),
      last_line_(start_) {
  if (opt_.rate_unit.empty()) opt_.rate_unit = unit_;
}

ProgressReporter::~ProgressReporter() { finish(); }

double ProgressReporter::now() const { return opt_.clock ? opt_.clock() : now_seconds(); }

double ProgressReporter::rate() const {
  const double elapsed = now() - start_;
  return elapsed > 0 ? static_cast<double>(done_) * opt_.rate_per_item / elapsed : 0.0;
}

std::string ProgressReporter::status_text() const {
  const double elapsed = now() - start_;
  std::string s = label_ + ": " + std::to_string(done_);
  if (total_ > 0) s += "/" + std::to_string(total_);
  s += " " + unit_;
  if (total_ > 0) s += " (" + std::to_string(done_ * 100 / total_) + "%)";
  s += ", " + format_rate(rate()) + " " + opt_.rate_unit + "/s";
  if (total_ > 0 && done_ > 0 && elapsed > 0 && done_ < total_)
    s += ", " +
         format_duration(static_cast<double>(total_ - done_) * elapsed /
                         static_cast<double>(done_)) +
         " left";
  return s;
}

std::string ProgressReporter::final_text() const {
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f", now() - start_);
  std::string s = label_ + ": " + std::to_string(done_);
  if (total_ > 0) s += "/" + std::to_string(total_);
  return s + " " + unit_ + " in " + secs + " s (" + format_rate(rate()) + " " + opt_.rate_unit +
         "/s)";
}

void ProgressReporter::draw(double t) {
  last_draw_ = t;
  std::string bar;
  if (total_ > 0) {
    const int64_t filled = std::clamp<int64_t>(done_ * kBarWidth / total_, 0, kBarWidth);
    bar = " [" + std::string(static_cast<size_t>(filled), '#') +
          std::string(static_cast<size_t>(kBarWidth - filled), '.') + "]";
  }
  // The plain status with the bar after the label; \033[K erases what a longer line left.
  const std::string status = status_text();
  std::fprintf(out_, "\r%s%s%s\033[K", label_.c_str(), bar.c_str(),
               status.substr(label_.size() + 1).c_str());
  std::fflush(out_);
  shown_ = true;
}

void ProgressReporter::update(int64_t done) {
  done_ = done;
  if (opt_.quiet || finished_) return;
  const double t = now();
  if (tty_) {
    if (t - last_draw_ >= opt_.tty_interval_s || (total_ > 0 && done_ >= total_)) draw(t);
  } else if (t - last_line_ >= opt_.plain_interval_s) {
    last_line_ = t;
    std::fprintf(out_, "%s\n", status_text().c_str());
    std::fflush(out_);
  }
}

void ProgressReporter::update(int64_t done, int64_t total) {
  total_ = total;
  update(done);
}

void ProgressReporter::note(const std::string& line) {
  const bool redraw = tty_ && shown_ && !opt_.quiet && !finished_;
  if (redraw) std::fputs("\r\033[K", out_);
  std::fprintf(out_, "%s\n", line.c_str());
  if (redraw) draw(now());
  std::fflush(out_);
}

void ProgressReporter::finish() {
  if (finished_) return;
  finished_ = true;
  if (opt_.quiet) return;
  if (opt_.final_line) {
    std::fprintf(out_, "%s%s%s\n", tty_ ? "\r" : "", final_text().c_str(), tty_ ? "\033[K" : "");
  } else if (shown_) {
    std::fputs("\r\033[K", out_);
  }
  std::fflush(out_);
}

}  // namespace lc
