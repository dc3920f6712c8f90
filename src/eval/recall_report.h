// The reports of an MQAR recall sweep (data/mqar_recall.h, trained by train/recall.h): the
// progress lines, the markdown table, the JSON record (and reading it back, so that the results
// of several runs of one sweep merge into one report) and the Pareto-frontier plot (accuracy vs
// state size, log x, one panel per test length, one series per mixer family).
#pragma once
#include <string>
#include <vector>

#include "data/mqar_recall.h"

namespace lc {

// A sweep and its results, as `longctx recall` reports them.
struct RecallRecord {
  RecallSweep sweep;
  std::vector<RecallResult> results;
  int threads = 2;
  double wall_seconds = 0;
};

// State of a model in values over the test lengths: "303", or "560-1072 (grows with L)" for
// attention, whose state grows with the sequence.
std::string recall_state_text(const RecallModel& m, const std::vector<MqarSlice>& test);
// Largest |engine - trainer| accuracy over the test slices, "0.000"; "-" without engine results.
std::string recall_engine_gap(const RecallResult& r);

// Progress lines of model i (0-based) of n: its start ("recall: [1/3] BASED d=16 f=4, state 303
// values"), a validation report of its training, and its end (time, best lr, test accuracies,
// engine gap).
std::string recall_start_line(size_t i, size_t n, const RecallModel& m, const RecallSweep& s);
std::string recall_progress_line(size_t i, size_t n, const RecallProgress& p);
std::string recall_done_line(size_t i, size_t n, const RecallSweep& s, const RecallResult& r);

// The line above the table (settings, seed, threads, wall time), then a blank line.
std::string recall_heading(const RecallRecord& rec);
// One row per model: state, params, best lr, steps, validation and test accuracies, engine gap.
std::string recall_table(const RecallRecord& rec);

// The JSON record; argv: the command line as run.
std::string recall_json(const RecallRecord& rec, const std::string& argv);
// A record written by recall_json; errors name `file` ("--from-json FILE: missing ...").
RecallRecord read_recall_json(const std::string& text, const std::string& file);
// Appends the results of `more` (read from `file`) to `into` and adds its wall time; throws
// lc::Error when the sweep settings, seed or threads differ.
void merge_recall_record(RecallRecord* into, const RecallRecord& more, const std::string& file);

// The plot as a PNG at `path`.
void write_recall_plot(const std::string& path, const RecallRecord& rec);

}  // namespace lc
