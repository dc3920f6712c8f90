// longctx recall: the MQAR recall-vs-state sweep (../shared/specs/mqar.md). Trains each model of
// the sweep (src/train/recall.h), scores it per test slice with the trainer's forward pass and,
// exported, with the engine (src/eval/mqar_engine.h), and writes a markdown table (stdout), JSON
// (--json) and a Pareto-frontier plot (--plot) through src/eval/recall_report.h. Progress lines
// go to stderr.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/parse.h"
#include "core/progress.h"
#include "core/thread_pool.h"
#include "eval/json_writer.h"
#include "eval/mqar_engine.h"
#include "eval/recall_report.h"
#include "train/recall.h"

namespace lc::cli {

namespace {

constexpr const char* kHelp =
    "usage: longctx recall [--model SPEC ...] [--sweep FILE] [--vocab V] [--train SLICES]\n"
    "                      [--test SLICES] [--lr LIST] [--steps N] [--tokens-per-step N]\n"
    "                      [--warmup N] [--eval-every N] [--val-examples N] [--test-examples N]\n"
    "                      [--stop ACC] [--seed S] [-t THREADS] [--json FILE] [--plot FILE.png]\n"
    "       longctx recall --from-json FILE [--from-json FILE ...] [--json FILE] [--plot PNG]\n"
    "  SPEC           attention:d=D | window:d=D:w=W | based:d=D:f=F (layer 1's mixer; layer 0\n"
    "                 is a BaseConv, no MLP); repeatable. --sweep FILE: one SPEC per line, #\n"
    "                 comments. Default: the scaled preset of docs/results/mqar_recall.md\n"
    "  SLICES         comma-separated SEQxPAIRS, e.g. 64x4,64x8,128x16\n"
    "  --lr LIST      learning rates tried in order (best validation kept; a run that reaches\n"
    "                 --stop ends the search)\n"
    "  --from-json    no training: the results of earlier runs (same sweep settings and seed)\n"
    "                 merged into one table, JSON and plot\n"
    "  defaults: --vocab 256 --train 64x4,64x8,64x16,128x32 --test 64x4,64x8,64x16,128x32,256x64\n"
    "            --lr 3.2e-3 --steps 800 --tokens-per-step 4096 --warmup steps/20\n"
    "            --eval-every 100 --val-examples 100 --test-examples 200 --stop 0.99\n"
    "            --seed 1 -t 2\n";

// The flags that set up a sweep (none of them applies to --from-json).
const std::vector<std::string>& sweep_flags() {
  static const std::vector<std::string> kFlags(
      {"--model", "--sweep", "--vocab", "--train", "--test", "--lr", "--steps", "--tokens-per-step",
       "--warmup", "--eval-every", "--val-examples", "--test-examples", "--stop", "--seed", "-t"});
  return kFlags;
}

RecallSweep sweep_from_flags(const Args& a) {
  RecallSweep s;
  s.vocab = a.integer("--vocab", 256, 4, 1 << 20);
  if (a.has("--train")) s.train = parse_mqar_slices("--train", a.str("--train"));
  if (a.has("--test")) s.test = parse_mqar_slices("--test", a.str("--test"));
  if (a.has("--lr")) s.lrs = parse_float_list("--lr", a.str("--lr"), 1e-8, 10.0);
  s.steps = a.integer("--steps", 800, 1, int64_t{1} << 30);
  s.tokens_per_step = a.integer("--tokens-per-step", 4096, 1, int64_t{1} << 30);
  s.warmup_steps = a.integer("--warmup", s.steps / 20, 0, s.steps);
  s.eval_every = a.integer("--eval-every", 100, 1, int64_t{1} << 30);
  s.val_examples = a.integer("--val-examples", 100, 1, 1 << 20);
  s.test_examples = a.integer("--test-examples", 200, 1, 1 << 20);
  s.stop_accuracy = a.number("--stop", 0.99, 0.0, 1.0);
  s.seed = static_cast<uint64_t>(a.integer("--seed", 1, 0, INT64_MAX));
  validate(s);
  return s;
}

// --model SPECs, then the --sweep file's; none: the default preset.
std::vector<RecallModel> models_from_flags(const Args& a, int64_t vocab) {
  std::vector<std::string> specs = a.all("--model");
  if (a.has("--sweep"))
    for (const std::string& spec :
         recall_specs_from_text(read_text_file("--sweep", a.str("--sweep"))))
      specs.push_back(spec);
  return train::recall_sweep_models(specs, vocab);
}

// Trains and scores every model; per-model lines and a live models-done line on stderr.
RecallRecord run_sweep(const Args& a) {
  RecallRecord rec;
  rec.sweep = sweep_from_flags(a);
  rec.threads = threads_flag(a);
  const RecallSweep& s = rec.sweep;
  const std::vector<RecallModel> models = models_from_flags(a, s.vocab);
  const auto test_sets = train::recall_test_sets(s);
  ThreadPool pool(rec.threads);
  const auto t0 = std::chrono::steady_clock::now();
  const size_t n = models.size();
  ProgressReporter progress("recall", "models", static_cast<int64_t>(n));
  for (size_t i = 0; i < n; ++i) {
    progress.note(recall_start_line(i, n, models[i], s));
    RecallResult r = train::run_recall_model(pool, s, models[i], [&](const RecallProgress& p) {
      progress.note(recall_progress_line(i, n, p));
    });
    r.engine_accuracy =
        mqar_engine_accuracy(*train::recall_model_file(s, r), test_sets, rec.threads);
    progress.note(recall_done_line(i, n, s, r));
    rec.results.push_back(std::move(r));
    progress.update(static_cast<int64_t>(i + 1));
  }
  progress.finish();
  rec.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rec;
}

// The records of earlier runs, merged.
RecallRecord read_records(const Args& a) {
  for (const std::string& f : sweep_flags())
    if (a.has(f)) fail(f, " does not apply to --from-json (the files hold the sweep settings)");
  const std::vector<std::string> files = a.all("--from-json");
  RecallRecord rec = read_recall_json(read_text_file("--from-json", files[0]), files[0]);
  for (size_t i = 1; i < files.size(); ++i)
    merge_recall_record(&rec, read_recall_json(read_text_file("--from-json", files[i]), files[i]),
                        files[i]);
  return rec;
}

}  // namespace

int cmd_recall(int argc, char** argv) {
  std::vector<std::string> value_flags = sweep_flags();
  value_flags.insert(value_flags.end(), {"--json", "--plot", "--from-json"});
  Args a("recall", value_flags, {"--help"}, {"--model", "--from-json"});
  a.parse(argc, argv, 2);
  if (a.has("--help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const std::string json = a.str("--json"), plot = a.str("--plot");
  check_output_file("--json", json);
  check_output_file("--plot", plot);
  const RecallRecord rec = a.has("--from-json") ? read_records(a) : run_sweep(a);
  std::fputs(recall_heading(rec).c_str(), stdout);
  std::fputs(recall_table(rec).c_str(), stdout);
  if (!json.empty()) {
    std::string args;
    for (int i = 0; i < argc; ++i) args += (i ? " " : "") + std::string(argv[i]);
    write_text_file("--json", json, recall_json(rec, args));
  }
  if (!plot.empty()) write_recall_plot(plot, rec);
  return 0;
}

}  // namespace lc::cli
