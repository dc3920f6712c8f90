// longctx recall: the MQAR recall-vs-state sweep (../shared/specs/mqar.md, src/train/recall.h).
// Trains each model of the sweep with the in-repo trainer, scores it per test slice with the
// trainer's forward pass, and writes a markdown table (stdout), JSON (--json) and a
// Pareto-frontier plot (--plot: accuracy vs state size, log x, one panel per test length, one
// series per mixer family). Progress lines go to stderr.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
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
#include "eval/plot_png.h"
#include "formats/json.h"
#include "git_commit.h"
#include "model/registry.h"
#include "runtime/session.h"
#include "train/export.h"
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

// The default sweep (scaled down; see docs/results/mqar_recall.md). based:d=128:f=8 was added
// after the recorded sweep ran and was recorded with the same settings.
const char* const kPreset[] = {
    "attention:d=32",  "attention:d=64",  "attention:d=128",                       // 2 d L
    "window:d=64:w=8", "window:d=64:w=16", "window:d=64:w=32", "window:d=64:w=64",  // 2 d w
    "based:d=32:f=8",  "based:d=64:f=4",  "based:d=64:f=8",  "based:d=64:f=16",
    "based:d=128:f=8",
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t b = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(b, i - b));
      b = i + 1;
    }
  return out;
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

std::vector<train::MqarSlice> parse_slices(const std::string& flag, const std::string& text) {
  std::vector<train::MqarSlice> out;
  for (const std::string& item : split(text, ',')) {
    const size_t x = item.find('x');
    if (x == std::string::npos)
      fail(flag, ": expected SEQxPAIRS items (e.g. 64x4), got '", item, "'");
    train::MqarSlice s;
    s.seq_len = parse_int(flag + " seq_len", item.substr(0, x), 4, 1 << 16);
    s.pairs = parse_int(flag + " pairs", item.substr(x + 1), 1, 1 << 14);
    out.push_back(s);
  }
  return out;
}

std::string slice_name(const train::MqarSlice& s) {
  return std::to_string(s.seq_len) + "x" + std::to_string(s.pairs);
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string state_text(const train::RecallModel& m, const std::vector<train::MqarSlice>& test) {
  if (m.mixer != 'a') return std::to_string(train::model_state_size(m, 0));
  int64_t lo = INT64_MAX, hi = 0;
  for (const auto& s : test) {
    lo = std::min(lo, train::model_state_size(m, s.seq_len));
    hi = std::max(hi, train::model_state_size(m, s.seq_len));
  }
  return lo == hi ? std::to_string(lo)
                  : std::to_string(lo) + "-" + std::to_string(hi) + " (grows with L)";
}

// The engine's accuracy per test slice: the trained weights exported (in memory) as the BASED
// checkpoint `longctx train -o` would write, with ctx_len = the longest test sequence (so an
// attention layer's window_size 2 ctx_len covers every test sequence), run by the engine's
// Session and scored with the same mqar_accuracy.
std::vector<double> engine_accuracy(const train::RecallSweep& s, const train::RecallResult& r,
                                    int threads) {
  int64_t lmax = 0;
  for (const auto& t : s.test) lmax = std::max(lmax, t.seq_len);
  train::TrainModel<float> m(train::recall_train_config(r.model, s.vocab), 1, lmax, 1);
  check(static_cast<int64_t>(r.weights.size()) == m.n_params(), "recall: weights missing");
  std::copy(r.weights.begin(), r.weights.end(), m.weights());
  train::ExportOptions o;
  o.ctx_len = lmax;
  const auto file = train::export_model_file(m, o);
  const auto model = make_model(*file);
  SessionOptions so;
  so.n_threads = threads;
  Session session(*model, so);
  std::vector<double> acc;
  std::vector<float> logits;
  for (size_t i = 0; i < s.test.size(); ++i) {
    const std::vector<MqarExample> ex = train::recall_test_set(s, i);
    double sum = 0;
    for (const MqarExample& e : ex) {
      const int64_t T = static_cast<int64_t>(e.tokens.size());
      logits.resize(static_cast<size_t>(T * s.vocab));
      session.all_logits(e.tokens.data(), T, logits.data());
      sum += mqar_accuracy(e, logits.data(), s.vocab);
    }
    acc.push_back(sum / static_cast<double>(ex.size()));
  }
  return acc;
}

// Largest |engine - trainer| accuracy over the test slices ("-" without engine results).
std::string engine_gap(const train::RecallResult& r) {
  if (r.engine_accuracy.size() != r.test_accuracy.size()) return "-";
  double gap = 0;
  for (size_t k = 0; k < r.test_accuracy.size(); ++k)
    gap = std::max(gap, std::fabs(r.engine_accuracy[k] - r.test_accuracy[k]));
  return fixed(gap, 3);
}

void print_table(const train::RecallSweep& s, const std::vector<train::RecallResult>& res) {
  std::printf("| model | state (values) | params | lr | steps | val acc |");
  for (const auto& t : s.test) std::printf(" %s |", slice_name(t).c_str());
  std::printf(" engine vs trainer |");
  std::printf("\n|---|---:|---:|---:|---:|---:|---:|");
  for (size_t i = 0; i < s.test.size(); ++i) std::printf("---:|");
  std::printf("\n");
  for (const auto& r : res) {
    const train::RecallRun& b = r.runs[r.best];
    std::printf("| %s | %s | %lld | %.1e | %lld%s | %.3f |", r.model.label().c_str(),
                state_text(r.model, s.test).c_str(), static_cast<long long>(r.n_params), b.lr,
                static_cast<long long>(b.steps_run), b.stopped_early ? " (stop)" : "",
                b.val_accuracy);
    for (double a : r.test_accuracy) std::printf(" %.3f |", a);
    std::printf(" %s |\n", engine_gap(r).c_str());
  }
}

// Mean accuracy over the test slices of length L, for each model.
double mean_at_length(const train::RecallSweep& s, const train::RecallResult& r, int64_t L) {
  double sum = 0;
  int n = 0;
  for (size_t i = 0; i < s.test.size(); ++i)
    if (s.test[i].seq_len == L) sum += r.test_accuracy[i], ++n;
  return sum / n;
}

void write_plot(const std::string& path, const train::RecallSweep& s,
                const std::vector<train::RecallResult>& res) {
  std::set<int64_t> lengths;
  for (const auto& t : s.test) lengths.insert(t.seq_len);
  std::vector<Image> panels;
  for (int64_t L : lengths) {
    std::string pairs;
    for (const auto& t : s.test)
      if (t.seq_len == L) pairs += (pairs.empty() ? "" : ",") + std::to_string(t.pairs);
    PlotSpec spec;
    spec.title = "MQAR, seq_len " + std::to_string(L) + ", pairs " + pairs + ", vocab " +
                 std::to_string(s.vocab);
    spec.x_label = "state size (values: mixer + conv), log2; lines: per-family Pareto frontier";
    spec.y_label = "accuracy (mean over pairs)";
    spec.log2_x = true;
    spec.y_min = 0;
    spec.y_max = 1;
    spec.markers = true;
    spec.height = 420;
    std::vector<PlotSeries> series;
    for (const char* fam : {"attention", "sliding window", "BASED"}) {
      std::vector<std::pair<double, double>> pts;
      for (const auto& r : res)
        if (r.model.family() == fam)
          pts.push_back(
              {static_cast<double>(train::model_state_size(r.model, L)), mean_at_length(s, r, L)});
      if (pts.empty()) continue;
      // Pareto frontier within the family: sorted by state, keep each point that beats every
      // smaller-state point (dominated models are in the table and JSON).
      std::sort(pts.begin(), pts.end());
      PlotSeries ps;
      ps.label = fam;
      double best = -1;
      for (const auto& [x, y] : pts)
        if (y > best) {
          ps.x.push_back(x);
          ps.y.push_back(y);
          best = y;
        }
      series.push_back(std::move(ps));
    }
    panels.push_back(render_line_plot(spec, series));
  }
  int h = 0;
  for (const auto& p : panels) h += p.height;
  Image all(panels[0].width, h);
  int y0 = 0;
  for (const auto& p : panels) {
    std::copy(p.rgb.begin(), p.rgb.end(),
              all.rgb.begin() + static_cast<ptrdiff_t>(y0) * all.width * 3);
    y0 += p.height;
  }
  write_png(path, all);
}

std::vector<train::MqarSlice> slices_from_json(const Json& a) {
  std::vector<train::MqarSlice> out;
  for (const Json& t : a.items())
    out.push_back({t.find("seq_len")->integer(), t.find("pairs")->integer()});
  return out;
}

const Json& member(const Json& o, const char* key, const std::string& file) {
  const Json* j = o.find(key);
  if (!j)
    fail("--from-json ", file, ": missing \"", key, "\" (not a `longctx recall --json` file?)");
  return *j;
}

// The sweep settings and results of a `longctx recall --json` file; the wall time is added.
void read_results(const std::string& file, train::RecallSweep* s,
                  std::vector<train::RecallResult>* out, double* wall, int* threads) {
  const Json doc = parse_json(read_text_file("--from-json", file), file);
  const Json& sw = member(doc, "sweep", file);
  train::RecallSweep f;
  f.vocab = member(sw, "vocab", file).integer();
  f.train = slices_from_json(member(sw, "train", file));
  f.test = slices_from_json(member(sw, "test", file));
  f.lrs.clear();
  for (const Json& x : member(sw, "lrs", file).items()) f.lrs.push_back(x.number());
  f.steps = member(sw, "steps", file).integer();
  f.tokens_per_step = member(sw, "tokens_per_step", file).integer();
  f.warmup_steps = member(sw, "warmup_steps", file).integer();
  f.weight_decay = member(sw, "weight_decay", file).number();
  f.eval_every = member(sw, "eval_every", file).integer();
  f.val_examples = member(sw, "val_examples_per_slice", file).integer();
  f.test_examples = member(sw, "test_examples_per_slice", file).integer();
  f.stop_accuracy = member(sw, "stop_accuracy", file).number();
  f.seed = static_cast<uint64_t>(member(doc, "seed", file).integer());
  const int th = static_cast<int>(member(doc, "threads", file).integer());
  auto same = [](const std::vector<train::MqarSlice>& a, const std::vector<train::MqarSlice>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (a[i].seq_len != b[i].seq_len || a[i].pairs != b[i].pairs) return false;
    return true;
  };
  if (out->empty()) {
    *s = f;
    *threads = th;
  } else if (f.vocab != s->vocab || !same(f.train, s->train) || !same(f.test, s->test) ||
             f.lrs != s->lrs || f.steps != s->steps || f.tokens_per_step != s->tokens_per_step ||
             f.warmup_steps != s->warmup_steps || f.eval_every != s->eval_every ||
             f.val_examples != s->val_examples || f.test_examples != s->test_examples ||
             f.stop_accuracy != s->stop_accuracy || f.seed != s->seed || th != *threads) {
    fail("--from-json ", file,
         ": its sweep settings, seed or threads differ from the first file's; "
         "only runs of one sweep can be merged");
  }
  *wall += member(doc, "wall_seconds", file).number();
  for (const Json& r : member(doc, "results", file).items()) {
    train::RecallResult res;
    const std::string mixer = member(r, "mixer", file).str();
    std::string spec = mixer + ":d=" + std::to_string(member(r, "d_model", file).integer());
    if (mixer == "w") spec += ":w=" + std::to_string(member(r, "window", file).integer());
    if (mixer == "l") spec += ":f=" + std::to_string(member(r, "feature_dim", file).integer());
    res.model = train::parse_recall_model(spec);
    res.n_params = member(r, "n_params", file).integer();
    const double best_lr = member(r, "best_lr", file).number();
    for (const Json& run : member(r, "runs", file).items()) {
      train::RecallRun x;
      x.lr = member(run, "lr", file).number();
      x.steps_run = member(run, "steps_run", file).integer();
      x.final_loss = member(run, "final_loss", file).number();
      x.val_accuracy = member(run, "val_accuracy", file).number();
      x.stopped_early = member(run, "stopped_early", file).boolean();
      x.seconds = member(run, "seconds", file).number();
      if (x.lr == best_lr) res.best = res.runs.size();
      res.runs.push_back(x);
    }
    for (const Json& t : member(r, "test", file).items()) {
      res.test_accuracy.push_back(member(t, "accuracy", file).number());
      if (const Json* e = t.find("engine_accuracy"); e && e->is_number())
        res.engine_accuracy.push_back(e->number());
    }
    if (res.runs.empty() || res.test_accuracy.size() != s->test.size())
      fail("--from-json ", file, ": result '", res.model.label(), "' is incomplete");
    res.train_seconds = member(r, "train_seconds", file).number();
    res.test_seconds = member(r, "test_seconds", file).number();
    out->push_back(std::move(res));
  }
}

std::string join_argv(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) s += (i ? " " : "") + std::string(argv[i]);
  return s;
}

}  // namespace

int cmd_recall(int argc, char** argv) {
  Args a("recall",
         {"--model", "--sweep", "--vocab", "--train", "--test", "--lr", "--steps",
          "--tokens-per-step", "--warmup", "--eval-every", "--val-examples", "--test-examples",
          "--stop", "--seed", "-t", "--json", "--plot", "--from-json"},
         {"--help"}, {"--model", "--from-json"});
  a.parse(argc, argv, 2);
  if (a.has("--help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  train::RecallSweep s;
  std::vector<train::RecallResult> results;
  double wall = 0;
  int threads = 2;
  const std::string json = a.str("--json"), plot = a.str("--plot");
  check_output_file("--json", json);
  check_output_file("--plot", plot);
  if (a.has("--from-json")) {
    for (const char* f : {"--model", "--sweep", "--vocab", "--train", "--test", "--lr", "--steps",
                          "--tokens-per-step", "--warmup", "--eval-every", "--val-examples",
                          "--test-examples", "--stop", "--seed", "-t"})
      if (a.has(f)) fail(f, " does not apply to --from-json (the files hold the sweep settings)");
    for (const std::string& f : a.all("--from-json"))
      read_results(f, &s, &results, &wall, &threads);
  } else {
    s.vocab = a.integer("--vocab", 256, 4, 1 << 20);
    if (a.has("--train")) s.train = parse_slices("--train", a.str("--train"));
    if (a.has("--test")) s.test = parse_slices("--test", a.str("--test"));
    if (a.has("--lr")) {
      s.lrs.clear();
      for (const std::string& x : split(a.str("--lr"), ','))
        s.lrs.push_back(parse_float("--lr", x, 1e-8, 10.0));
    }
    s.steps = a.integer("--steps", 800, 1, int64_t{1} << 30);
    s.tokens_per_step = a.integer("--tokens-per-step", 4096, 1, int64_t{1} << 30);
    s.warmup_steps = a.integer("--warmup", s.steps / 20, 0, s.steps);
    s.eval_every = a.integer("--eval-every", 100, 1, int64_t{1} << 30);
    s.val_examples = a.integer("--val-examples", 100, 1, 1 << 20);
    s.test_examples = a.integer("--test-examples", 200, 1, 1 << 20);
    s.stop_accuracy = a.number("--stop", 0.99, 0.0, 1.0);
    s.seed = static_cast<uint64_t>(a.integer("--seed", 1, 0, INT64_MAX));
    threads = threads_flag(a);
    train::validate(s);

    std::vector<std::string> specs = a.all("--model");
    if (a.has("--sweep"))
      for (const std::string& line : split(read_text_file("--sweep", a.str("--sweep")), '\n')) {
        const std::string t = trim(line.substr(0, line.find('#')));
        if (!t.empty()) specs.push_back(t);
      }
    if (specs.empty()) specs.assign(std::begin(kPreset), std::end(kPreset));
    std::vector<train::RecallModel> models;
    for (const std::string& sp : specs) {
      models.push_back(train::parse_recall_model(sp));
      train::recall_train_config(models.back(), s.vocab);  // validate before any training
    }

    ThreadPool pool(threads);
    const auto t0 = std::chrono::steady_clock::now();
    // Models trained / total: a live line on a terminal under the per-model lines, a plain line
    // every 10 s in a log, and the total time at the end.
    ProgressReporter progress("recall", "models", static_cast<int64_t>(models.size()));
    char line[512];
    for (size_t i = 0; i < models.size(); ++i) {
      const train::RecallModel& m = models[i];
      std::snprintf(line, sizeof line, "recall: [%zu/%zu] %s, state %s values", i + 1,
                    models.size(), m.label().c_str(), state_text(m, s.test).c_str());
      progress.note(line);
      results.push_back(train::run_recall_model(pool, s, m, [&](const train::RecallProgress& p) {
        std::snprintf(line, sizeof line,
                      "recall: [%zu/%zu] %s lr %.1e step %lld/%lld  loss %.4f  val acc %.3f", i + 1,
                      models.size(), m.label().c_str(), p.lr, static_cast<long long>(p.step),
                      static_cast<long long>(p.steps), p.loss, p.val_accuracy);
        progress.note(line);
      }));
      train::RecallResult& r = results.back();
      r.engine_accuracy = engine_accuracy(s, r, threads);
      std::string accs;
      for (size_t k = 0; k < s.test.size(); ++k)
        accs += " " + slice_name(s.test[k]) + "=" + fixed(r.test_accuracy[k], 3);
      char best_lr[32];
      std::snprintf(best_lr, sizeof best_lr, "%.1e", r.runs[r.best].lr);
      progress.note("recall: [" + std::to_string(i + 1) + "/" + std::to_string(models.size()) +
                    "] " + m.label() + " done in " + fixed(r.train_seconds + r.test_seconds, 1) +
                    " s (best lr " + best_lr + "):" + accs +
                    "; engine vs trainer accuracy differs by at most " + engine_gap(r));
      progress.update(static_cast<int64_t>(i + 1));
    }
    progress.finish();
    wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  std::printf("MQAR recall sweep: vocab %lld, train", static_cast<long long>(s.vocab));
  for (const auto& t : s.train) std::printf(" %s", slice_name(t).c_str());
  std::printf(
      ", %lld steps x %lld tokens, seed %llu, %d threads, %.0f s; accuracy by the "
      "trainer's forward pass, %lld test examples per slice\n\n",
      static_cast<long long>(s.steps), static_cast<long long>(s.tokens_per_step),
      static_cast<unsigned long long>(s.seed), threads, wall,
      static_cast<long long>(s.test_examples));
  print_table(s, results);

  if (!json.empty()) {
    JsonWriter j;
    j.begin_object();
    j.member("command", "recall").member("argv", join_argv(argc, argv));
    j.member("git_commit", LONGCTX_GIT_COMMIT).member("threads", threads).member("seed", s.seed);
    j.member("evaluation", "trainer forward pass (src/train/model.h), argmax at query positions");
    j.key("sweep").begin_object();
    j.member("vocab", s.vocab);
    for (const auto* list : {&s.train, &s.test}) {
      j.key(list == &s.train ? "train" : "test").begin_array();
      for (const auto& t : *list)
        j.begin_object().member("seq_len", t.seq_len).member("pairs", t.pairs).end_object();
      j.end_array();
    }
    j.array("lrs", s.lrs).member("steps", s.steps).member("tokens_per_step", s.tokens_per_step);
    j.member("warmup_steps", s.warmup_steps).member("weight_decay", s.weight_decay);
    j.member("eval_every", s.eval_every).member("val_examples_per_slice", s.val_examples);
    j.member("test_examples_per_slice", s.test_examples).member("stop_accuracy", s.stop_accuracy);
    j.end_object();
    j.key("results").begin_array();
    for (const auto& r : results) {
      const train::RecallModel& m = r.model;
      j.begin_object().member("label", m.label()).member("family", m.family());
      j.member("mixer", std::string(1, m.mixer)).member("d_model", m.d_model);
      j.member("window", m.window).member("feature_dim", m.feature_dim);
      j.member("n_params", r.n_params).member("conv_state", train::conv_state_size(m.d_model));
      j.key("runs").begin_array();
      for (const auto& run : r.runs) {
        j.begin_object().member("lr", run.lr).member("steps_run", run.steps_run);
        j.member("final_loss", run.final_loss).member("val_accuracy", run.val_accuracy);
        j.member("stopped_early", run.stopped_early).member("seconds", run.seconds).end_object();
      }
      j.end_array();
      j.member("best_lr", r.runs[r.best].lr);
      j.key("test").begin_array();
      for (size_t k = 0; k < s.test.size(); ++k) {
        j.begin_object().member("seq_len", s.test[k].seq_len).member("pairs", s.test[k].pairs);
        j.member("accuracy", r.test_accuracy[k]);
        if (!r.engine_accuracy.empty()) j.member("engine_accuracy", r.engine_accuracy[k]);
        j.member("mixer_state", train::mixer_state_size(m, s.test[k].seq_len));
        j.member("state", train::model_state_size(m, s.test[k].seq_len)).end_object();
      }
      j.end_array();
      j.member("train_seconds", r.train_seconds).member("test_seconds", r.test_seconds);
      j.end_object();
    }
    j.end_array();
    j.member("wall_seconds", wall);
    j.end_object();
    write_text_file("--json", json, j.str());
  }
  if (!plot.empty()) write_plot(plot, s, results);
  return 0;
}

}  // namespace lc::cli
