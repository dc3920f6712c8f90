#include "eval/recall_report.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstddef>
#include <cstdio>
#include <set>

#include "core/error.h"
#include "eval/json_writer.h"
#include "eval/plot_png.h"
#include "formats/json.h"
#include "git_commit.h"

namespace lc {

namespace {

// printf into a string.
__attribute__((format(printf, 1, 2))) std::string strf(const char* fmt, ...) {
  va_list ap, again;
  va_start(ap, fmt);
  va_copy(again, ap);
  const int n = std::vsnprintf(nullptr, 0, fmt, ap);
  va_end(ap);
  std::string out(static_cast<size_t>(std::max(n, 0)), '\0');
  std::vsnprintf(out.data(), out.size() + 1, fmt, again);
  va_end(again);
  return out;
}

std::string fixed(double v, int digits) { return strf("%.*f", digits, v); }

// Mean accuracy of a result over the test slices of length L.
double mean_at_length(const RecallSweep& s, const RecallResult& r, int64_t L) {
  double sum = 0;
  int n = 0;
  for (size_t i = 0; i < s.test.size(); ++i)
    if (s.test[i].seq_len == L) sum += r.test_accuracy[i], ++n;
  return sum / n;
}

// The Pareto frontier of one mixer family at length L: sorted by state, each point that beats
// every smaller-state point (dominated models are in the table and JSON). Empty when the sweep
// has no model of the family.
PlotSeries frontier(const RecallRecord& rec, RecallMixer family, int64_t L) {
  std::vector<std::pair<double, double>> pts;
  PlotSeries ps;
  for (const RecallResult& r : rec.results)
    if (r.model.mixer == family) {
      ps.label = r.model.family();
      pts.push_back(
          {static_cast<double>(model_state_size(r.model, L)), mean_at_length(rec.sweep, r, L)});
    }
  std::sort(pts.begin(), pts.end());
  double best = -1;
  for (const auto& [x, y] : pts)
    if (y > best) {
      ps.x.push_back(x);
      ps.y.push_back(y);
      best = y;
    }
  return ps;
}

// One panel of the plot: the test slices of length L.
Image recall_panel(const RecallRecord& rec, int64_t L) {
  const RecallSweep& s = rec.sweep;
  std::string pairs;
  for (const MqarSlice& t : s.test)
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
  for (RecallMixer family : {RecallMixer::Attention, RecallMixer::Window, RecallMixer::Linear}) {
    PlotSeries ps = frontier(rec, family, L);
    if (!ps.x.empty()) series.push_back(std::move(ps));
  }
  return render_line_plot(spec, series);
}

void write_slices(JsonWriter& j, const char* key, const std::vector<MqarSlice>& slices) {
  j.key(key).begin_array();
  for (const MqarSlice& t : slices)
    j.begin_object().member("seq_len", t.seq_len).member("pairs", t.pairs).end_object();
  j.end_array();
}

void write_sweep(JsonWriter& j, const RecallSweep& s) {
  j.key("sweep").begin_object();
  j.member("vocab", s.vocab);
  write_slices(j, "train", s.train);
  write_slices(j, "test", s.test);
  j.array("lrs", s.lrs).member("steps", s.steps).member("tokens_per_step", s.tokens_per_step);
  j.member("warmup_steps", s.warmup_steps).member("weight_decay", s.weight_decay);
  j.member("eval_every", s.eval_every).member("val_examples_per_slice", s.val_examples);
  j.member("test_examples_per_slice", s.test_examples).member("stop_accuracy", s.stop_accuracy);
  j.end_object();
}

void write_result(JsonWriter& j, const RecallSweep& s, const RecallResult& r) {
  const RecallModel& m = r.model;
  j.begin_object().member("label", m.label()).member("family", m.family());
  j.member("mixer", std::string(1, m.letter())).member("d_model", m.d_model);
  j.member("window", m.window).member("feature_dim", m.feature_dim);
  j.member("n_params", r.n_params).member("conv_state", conv_state_size(m.d_model));
  j.key("runs").begin_array();
  for (const RecallRun& run : r.runs) {
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
    j.member("mixer_state", mixer_state_size(m, s.test[k].seq_len));
    j.member("state", model_state_size(m, s.test[k].seq_len)).end_object();
  }
  j.end_array();
  j.member("train_seconds", r.train_seconds).member("test_seconds", r.test_seconds);
  j.end_object();
}

const Json& member(const Json& o, const char* key, const std::string& file) {
  const Json* j = o.find(key);
  if (!j)
    fail("--from-json ", file, ": missing \"", key, "\" (not a `longctx recall --json` file?)");
  return *j;
}

std::vector<MqarSlice> read_slices(const Json& a) {
  std::vector<MqarSlice> out;
  for (const Json& t : a.items())
    out.push_back({t.find("seq_len")->integer(), t.find("pairs")->integer()});
  return out;
}

RecallSweep read_sweep(const Json& sw, const std::string& file) {
  RecallSweep f;
  f.vocab = member(sw, "vocab", file).integer();
  f.train = read_slices(member(sw, "train", file));
  f.test = read_slices(member(sw, "test", file));
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
  return f;
}

RecallModel read_model(const Json& r, const std::string& file) {
  const std::string mixer = member(r, "mixer", file).str();
  std::string spec = mixer + ":d=" + std::to_string(member(r, "d_model", file).integer());
  if (mixer == "w") spec += ":w=" + std::to_string(member(r, "window", file).integer());
  if (mixer == "l") spec += ":f=" + std::to_string(member(r, "feature_dim", file).integer());
  return parse_recall_model(spec);
}

RecallResult read_result(const Json& r, const RecallSweep& s, const std::string& file) {
  RecallResult res;
  res.model = read_model(r, file);
  res.n_params = member(r, "n_params", file).integer();
  const double best_lr = member(r, "best_lr", file).number();
  for (const Json& run : member(r, "runs", file).items()) {
    RecallRun x;
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
  if (res.runs.empty() || res.test_accuracy.size() != s.test.size())
    fail("--from-json ", file, ": result '", res.model.label(), "' is incomplete");
  res.train_seconds = member(r, "train_seconds", file).number();
  res.test_seconds = member(r, "test_seconds", file).number();
  return res;
}

}  // namespace

std::string recall_state_text(const RecallModel& m, const std::vector<MqarSlice>& test) {
  if (m.mixer != RecallMixer::Attention) return std::to_string(model_state_size(m, 0));
  int64_t lo = INT64_MAX, hi = 0;
  for (const MqarSlice& s : test) {
    lo = std::min(lo, model_state_size(m, s.seq_len));
    hi = std::max(hi, model_state_size(m, s.seq_len));
  }
  return lo == hi ? std::to_string(lo)
                  : std::to_string(lo) + "-" + std::to_string(hi) + " (grows with L)";
}

std::string recall_engine_gap(const RecallResult& r) {
  if (r.engine_accuracy.size() != r.test_accuracy.size()) return "-";
  double gap = 0;
  for (size_t k = 0; k < r.test_accuracy.size(); ++k)
    gap = std::max(gap, std::fabs(r.engine_accuracy[k] - r.test_accuracy[k]));
  return fixed(gap, 3);
}

std::string recall_start_line(size_t i, size_t n, const RecallModel& m, const RecallSweep& s) {
  return strf("recall: [%zu/%zu] %s, state %s values", i + 1, n, m.label().c_str(),
              recall_state_text(m, s.test).c_str());
}

std::string recall_progress_line(size_t i, size_t n, const RecallProgress& p) {
  return strf("recall: [%zu/%zu] %s lr %.1e step %lld/%lld  loss %.4f  val acc %.3f", i + 1, n,
              p.model ? p.model->label().c_str() : "?", p.lr, static_cast<long long>(p.step),
              static_cast<long long>(p.steps), p.loss, p.val_accuracy);
}

std::string recall_done_line(size_t i, size_t n, const RecallSweep& s, const RecallResult& r) {
  std::string accs;
  for (size_t k = 0; k < s.test.size(); ++k)
    accs += " " + slice_name(s.test[k]) + "=" + fixed(r.test_accuracy[k], 3);
  return strf("recall: [%zu/%zu] %s done in %.1f s (best lr %.1e):", i + 1, n,
              r.model.label().c_str(), r.train_seconds + r.test_seconds, r.runs[r.best].lr) +
         accs + "; engine vs trainer accuracy differs by at most " + recall_engine_gap(r);
}

std::string recall_heading(const RecallRecord& rec) {
  const RecallSweep& s = rec.sweep;
  std::string out = strf("MQAR recall sweep: vocab %lld, train", static_cast<long long>(s.vocab));
  for (const MqarSlice& t : s.train) out += " " + slice_name(t);
  return out + strf(
                   ", %lld steps x %lld tokens, seed %llu, %d threads, %.0f s; accuracy by the "
                   "trainer's forward pass, %lld test examples per slice\n\n",
                   static_cast<long long>(s.steps), static_cast<long long>(s.tokens_per_step),
                   static_cast<unsigned long long>(s.seed), rec.threads, rec.wall_seconds,
                   static_cast<long long>(s.test_examples));
}

std::string recall_table(const RecallRecord& rec) {
  const RecallSweep& s = rec.sweep;
  std::string out = "| model | state (values) | params | lr | steps | val acc |";
  for (const MqarSlice& t : s.test) out += " " + slice_name(t) + " |";
  out += " engine vs trainer |\n|---|---:|---:|---:|---:|---:|---:|";
  for (size_t i = 0; i < s.test.size(); ++i) out += "---:|";
  out += "\n";
  for (const RecallResult& r : rec.results) {
    const RecallRun& b = r.runs[r.best];
    out +=
        strf("| %s | %s | %lld | %.1e | %lld%s | %.3f |", r.model.label().c_str(),
             recall_state_text(r.model, s.test).c_str(), static_cast<long long>(r.n_params), b.lr,
             static_cast<long long>(b.steps_run), b.stopped_early ? " (stop)" : "", b.val_accuracy);
    for (double a : r.test_accuracy) out += strf(" %.3f |", a);
    out += " " + recall_engine_gap(r) + " |\n";
  }
  return out;
}

std::string recall_json(const RecallRecord& rec, const std::string& argv) {
  const RecallSweep& s = rec.sweep;
  JsonWriter j;
  j.begin_object();
  j.member("command", "recall").member("argv", argv);
  j.member("git_commit", LONGCTX_GIT_COMMIT).member("threads", rec.threads).member("seed", s.seed);
  j.member("evaluation", "trainer forward pass (src/train/model.h), argmax at query positions");
  write_sweep(j, s);
  j.key("results").begin_array();
  for (const RecallResult& r : rec.results) write_result(j, s, r);
  j.end_array();
  j.member("wall_seconds", rec.wall_seconds);
  j.end_object();
  return j.str();
}

RecallRecord read_recall_json(const std::string& text, const std::string& file) {
  const Json doc = parse_json(text, file);
  RecallRecord rec;
  rec.sweep = read_sweep(member(doc, "sweep", file), file);
  rec.sweep.seed = static_cast<uint64_t>(member(doc, "seed", file).integer());
  rec.threads = static_cast<int>(member(doc, "threads", file).integer());
  rec.wall_seconds = member(doc, "wall_seconds", file).number();
  for (const Json& r : member(doc, "results", file).items())
    rec.results.push_back(read_result(r, rec.sweep, file));
  return rec;
}

void merge_recall_record(RecallRecord* into, const RecallRecord& more, const std::string& file) {
  if (!same_settings(into->sweep, more.sweep) || into->threads != more.threads)
    fail("--from-json ", file,
         ": its sweep settings, seed or threads differ from the first file's; "
         "only runs of one sweep can be merged");
  into->wall_seconds += more.wall_seconds;
  into->results.insert(into->results.end(), more.results.begin(), more.results.end());
}

void write_recall_plot(const std::string& path, const RecallRecord& rec) {
  std::set<int64_t> lengths;
  for (const MqarSlice& t : rec.sweep.test) lengths.insert(t.seq_len);
  std::vector<Image> panels;
  for (int64_t L : lengths) panels.push_back(recall_panel(rec, L));
  check(!panels.empty(), "recall plot: the sweep has no test slices");
  int h = 0;
  for (const Image& p : panels) h += p.height;
  Image all(panels[0].width, h);
  int y0 = 0;
  for (const Image& p : panels) {
    std::copy(p.rgb.begin(), p.rgb.end(),
              all.rgb.begin() + static_cast<ptrdiff_t>(y0) * all.width * 3);
    y0 += p.height;
  }
  write_png(path, all);
}

}  // namespace lc
