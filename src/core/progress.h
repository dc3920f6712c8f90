// Progress of a long run (training, evaluation, conversion) on stderr. On a terminal: one line
// redrawn in place at most every tty_interval_s, with the label, a bar, items done / total, the
// rate and the time left. Elsewhere (a log file, a pipe): a plain line every plain_interval_s and
// a final line at finish(), so logs stay readable. The output, the terminal test and the clock
// can be injected (tests/progress_test.cc checks the plain lines with a fake clock).
//
// It lives in core, not eval, so that every layer and tool may use it; library loops still
// report through callbacks (train_loop's on_step, run_recall_model's on_eval, the writers'
// on_tensor) and only tools/ own a ProgressReporter.
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

namespace lc {

struct ProgressOptions {
  std::FILE* out = nullptr;        // nullptr: stderr
  int tty = -1;                    // 1: live line, 0: plain lines, -1: isatty(out)
  bool quiet = false;              // show no progress (note() still prints its lines)
  bool final_line = true;          // finish() prints a summary line (else it clears the bar)
  double tty_interval_s = 0.2;     // terminal redraws at most 5 times a second
  double plain_interval_s = 10.0;  // one plain line per interval
  // The rate counts rate_per_item rate_unit per item: e.g. items are training steps and the
  // rate is in tokens (rate_per_item = tokens per step). Empty rate_unit: the item unit.
  std::string rate_unit;
  double rate_per_item = 1.0;
  std::function<double()> clock;  // seconds on a monotonic clock; empty: now_seconds()
};

class ProgressReporter {
 public:
  // total <= 0: unknown (no bar, percentage or time left).
  ProgressReporter(std::string label, std::string unit, int64_t total, ProgressOptions opt = {});
  ~ProgressReporter();  // finish()
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

  // Items done so far (absolute); the second form also changes the total.
  void update(int64_t done);
  void update(int64_t done, int64_t total);
  // Prints one line of other output (no trailing newline needed) without garbling the live
  // line: on a terminal the bar is cleared, the line printed, and the bar drawn again.
  void note(const std::string& line);
  // Prints the final line (or clears the bar); later calls and updates do nothing.
  void finish();

  // "label: 30/100 steps (30%), 1.5 steps/s, 47s left": the text of a plain line.
  std::string status_text() const;
  // "label: 100/100 steps in 66.7 s (1.5 steps/s)": the final line.
  std::string final_text() const;

  bool is_tty() const { return tty_; }
  int64_t done() const { return done_; }
  int64_t total() const { return total_; }

 private:
  double now() const;
  double rate() const;  // rate units per second since construction
  void draw(double t);  // the live line

  std::string label_, unit_;
  int64_t total_, done_ = 0;
  ProgressOptions opt_;
  std::FILE* out_;
  bool tty_;
  double start_, last_draw_ = -1e300, last_line_;
  bool shown_ = false, finished_ = false;
};

// "42s", "3m05s", "2h03m".
std::string format_duration(double seconds);

}  // namespace lc
