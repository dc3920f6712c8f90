// longctx ppl: per-position NLL and perplexity of long documents, one continuous sequence per
// document (or one long stream, or strided windows), for one or more attention configurations.
// Protocol: ../shared/specs/evals.md; library: src/eval/perplexity.h.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "attention_flags.h"
#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/timer.h"
#include "eval/json_writer.h"
#include "eval/perplexity.h"
#include "eval/plot_png.h"
#include "eval_common.h"
#include "model/registry.h"

namespace lc::cli {

namespace {

const char* kHelp =
    "usage: longctx ppl -m MODEL [-z TOK] -f TEXT [-f TEXT2 ...] [--max-len N] [--bin B]\n"
    "                   [--stream N] [--stride S] [attention flags] [--json FILE]\n"
    "                   [--plot FILE.png] [-t THREADS] [--dtype D]\n"
    "  Each document is tokenized with BOS first and scored as one continuous sequence (no\n"
    "  restart at the trained context), up to --max-len tokens (default: all). A BASED model\n"
    "  is scored over its fixed-size recurrent state (no attention flags).\n"
    "  --bin B      NLL bin width in positions (default 128)\n"
    "  --stream N   score one stream of N tokens: BOS + the documents concatenated, cycled\n"
    "  --stride S   windowed perplexity instead: windows of the trained context advanced by S,\n"
    "               scoring only new tokens (Hugging Face style)\n"
    "  --attn LIST  comma-separated configurations, each scored in turn, e.g.\n"
    "               full,window,lambda,lambda:D=none,full:D=512\n"
    ;

struct ConfigResult {
  AttentionConfig attn;
  std::string label;
  NllStats stats;
  double seconds = 0;
  size_t cache_bytes = 0, peak_rss = 0;
  // Stream mode: resident memory sampled at every 5% of the stream, to show it stays constant.
  std::vector<int64_t> rss_tokens;
  std::vector<int64_t> rss_bytes;
};

struct Doc {
  std::string path;
  int64_t tokens_total = 0;
  std::vector<int> tokens;
};

std::string landmark_name(int64_t l) {
  return l % 1024 == 0 ? std::to_string(l / 1024) + "K" : std::to_string(l);
}

void print_tables(const std::vector<ConfigResult>& res, const char* mode) {
  // Summary: one row per configuration, landmark columns from the first result.
  std::vector<int64_t> lm;
  for (const auto& l : res.front().stats.landmarks()) lm.push_back(l.length);
  std::printf("| attention (%s) | tokens | ppl |", mode);
  for (int64_t l : lm) std::printf(" ppl@%s |", landmark_name(l).c_str());
  std::printf(" tok/s | KV cache MiB |\n|---|---:|---:|");
  for (size_t i = 0; i < lm.size(); ++i) std::printf("---:|");
  std::printf("---:|---:|\n");
  for (const auto& r : res) {
    std::printf("| %s | %lld | %s |", r.label.c_str(), static_cast<long long>(r.stats.count()),
                fmt(r.stats.perplexity(), 3).c_str());
    auto got = r.stats.landmarks();
    for (size_t i = 0; i < lm.size(); ++i)
      std::printf(" %s |", i < got.size() ? fmt(got[i].perplexity, 3).c_str() : "-");
    std::printf(" %.0f | %.2f |\n", static_cast<double>(r.stats.count()) / r.seconds,
                static_cast<double>(r.cache_bytes) / (1 << 20));
  }
  // Per-position NLL, bins merged for display to at most ~32 rows (JSON has every bin).
  size_t n_bins = 0;
  for (const auto& r : res) n_bins = std::max(n_bins, r.stats.n_bins());
  const size_t merge = std::max<size_t>(1, (n_bins + 31) / 32);
  const int64_t bin = res.front().stats.bin();
  std::printf("\nmean NLL (nats) by position\n\n| positions |");
  for (const auto& r : res) std::printf(" %s |", r.label.c_str());
  std::printf("\n|---|");
  for (size_t i = 0; i < res.size(); ++i) std::printf("---:|");
  std::printf("\n");
  for (size_t b = 0; b < n_bins; b += merge) {
    const size_t e = std::min(n_bins, b + merge);
    std::printf("| %lld-%lld |", static_cast<long long>(b * bin),
                static_cast<long long>(e * bin - 1));
    for (const auto& r : res) {
      double s = 0;
      int64_t c = 0;
      for (size_t k = b; k < std::min(e, r.stats.n_bins()); ++k) {
        s += r.stats.bin_mean(k) * static_cast<double>(r.stats.bin_count(k));
        c += r.stats.bin_count(k);
      }
      std::printf(" %s |", c ? fmt(s / static_cast<double>(c), 3).c_str() : "-");
    }
    std::printf("\n");
  }
}

}  // namespace

int cmd_ppl(int argc, char** argv) {
  std::vector<std::string> flags = {"-m",       "-z",     "-f",     "--max-len", "--bin", "--stream",
                                    "--stride", "--json", "--plot", "-t",        "--dtype"};
  for (const auto& f : attention_value_flags()) flags.push_back(f);
  Args a("ppl", flags, {"--help"}, {"-f"});
  a.parse(argc, argv, 2);
  if (a.has("--help")) {
    std::fputs(kHelp, stdout);
    std::fputs(kAttentionFlagsHelp, stdout);
    return 0;
  }
  // Validate every flag before loading anything.
  constexpr int64_t kMaxTokens = int64_t{1} << 40;
  const int threads = threads_flag(a);
  const int64_t bin = a.integer("--bin", 128, 1, 1 << 30);
  const int64_t max_len = a.integer("--max-len", 0, 2, kMaxTokens);
  const int64_t stream = a.integer("--stream", 0, 2, kMaxTokens);
  const int64_t stride = a.integer("--stride", 0, 1, 1 << 30);
  if (stream && stride) fail("--stream and --stride are mutually exclusive");
  if (stream && max_len) fail("--max-len does not apply to --stream (its length is N)");
  const std::vector<AttentionConfig> configs = parse_attention(a, /*allow_many=*/true);
  const std::vector<std::string> paths = a.all("-f");
  if (paths.empty()) fail("-f TEXT is required (one or more text documents)");
  const std::string json = a.str("--json"), plot = a.str("--plot");
  check_output_file("--json", json);
  check_output_file("--plot", plot);
  std::vector<std::string> texts;
  for (const auto& p : paths) {
    texts.push_back(read_text_file("-f", p));
    check_text_input(p, texts.back());
  }

  auto file = load_model(a);
  auto tok = load_tokenizer_for(a, *file);
  auto model = make_model(*file);
  refuse_attention_flags(a, *model);  // a fixed-state model has one configuration
  const bool policy = model->takes_attention_policy();
  const ModelConfig& c = model->config();
  if (stride && stride > c.ctx_len)
    fail("--stride: ", stride, " exceeds the window (the trained context, ", c.ctx_len, ")");

  std::vector<Doc> docs;
  int64_t longest = 0;
  for (size_t i = 0; i < paths.size(); ++i) {
    Doc d;
    d.path = paths[i];
    d.tokens = tok->encode(texts[i], /*add_bos=*/!stream);
    d.tokens_total = static_cast<int64_t>(d.tokens.size());
    if (max_len && d.tokens_total > max_len) d.tokens.resize(static_cast<size_t>(max_len));
    if (!stream && d.tokens.size() < 2)
      fail("'", d.path, "' has ", d.tokens.size(), " token(s); at least 2 are needed to score");
    longest = std::max<int64_t>(longest, static_cast<int64_t>(d.tokens.size()));
    docs.push_back(std::move(d));
    texts[i].clear();
    texts[i].shrink_to_fit();
  }
  const int64_t max_tokens = stream ? stream : stride ? std::min(longest, c.ctx_len) : longest;
  const char* mode = stream ? "stream" : stride ? "strided" : "documents";

  std::vector<ConfigResult> results;
  for (const AttentionConfig& attn : configs) {
    Session scorer(*model, eval_session_options(attn, max_tokens, threads));
    ConfigResult r{attn, scorer.label(), NllStats(bin, default_landmarks(stream ? stream : longest)),
                   0, scorer.state_bytes(), 0, {}, {}};
    ProgressLine progress(r.label);
    const double t0 = now_seconds();
    if (stream) {
      std::vector<std::vector<int>> toks;
      for (const Doc& d : docs) toks.push_back(d.tokens);
      int64_t next_sample = 0;
      score_stream(scorer, tok->bos_id(), toks, stream, r.stats,
                   [&](int64_t done, int64_t total) {
                     progress.update(done, total);
                     if (done >= next_sample) {
                       r.rss_tokens.push_back(done);
                       r.rss_bytes.push_back(static_cast<int64_t>(current_rss_bytes()));
                       next_sample = done + std::max<int64_t>(1, total / 20);
                     }
                   });
      r.rss_tokens.push_back(stream);
      r.rss_bytes.push_back(static_cast<int64_t>(current_rss_bytes()));
    } else {
      int64_t total = 0, base = 0;
      for (const Doc& d : docs) total += static_cast<int64_t>(d.tokens.size()) - 1;
      auto cb = [&](int64_t done, int64_t) { progress.update(base + done, total); };
      for (const Doc& d : docs) {
        const int64_t n = static_cast<int64_t>(d.tokens.size());
        if (stride) score_strided(scorer, d.tokens.data(), n, std::min(c.ctx_len, n), stride, r.stats, cb);
        else score_sequence(scorer, d.tokens.data(), n, r.stats, cb);
        base += n - 1;
      }
    }
    progress.finish();
    r.seconds = now_seconds() - t0;
    r.peak_rss = peak_rss_bytes();
    std::fprintf(stderr, "%s: %lld tokens in %.1f s (%.0f tok/s), peak RSS %.1f MiB\n",
                 r.label.c_str(), static_cast<long long>(r.stats.count()), r.seconds,
                 static_cast<double>(r.stats.count()) / r.seconds,
                 static_cast<double>(r.peak_rss) / (1 << 20));
    if (r.rss_bytes.size() > 2) {
      // From the second sample on (after the first 5%, the bounded caches are full).
      auto [lo, hi] = std::minmax_element(r.rss_bytes.begin() + 1, r.rss_bytes.end());
      std::fprintf(stderr, "%s: resident memory from 5%% to 100%% of the stream: %.1f..%.1f MiB (spread %.1f%%)\n",
                   r.label.c_str(), static_cast<double>(*lo) / (1 << 20),
                   static_cast<double>(*hi) / (1 << 20),
                   100.0 * static_cast<double>(*hi - *lo) / static_cast<double>(*lo));
    }
    results.push_back(std::move(r));
  }

  std::printf("model %s, %zu document(s), mode %s, bin %lld, trained context %lld\n\n",
              file->path.c_str(), docs.size(), mode, static_cast<long long>(bin),
              static_cast<long long>(c.ctx_len));
  print_tables(results, mode);

  if (!json.empty()) {
    JsonWriter j;
    j.begin_object();
    write_run_info(j, make_run_info("ppl", a, *file, threads, argc, argv), c);
    j.member("mode", mode).member("bin", bin).member("max_len", max_len);
    j.member("stream_tokens", stream).member("stride", stride);
    j.member("stride_window", stride ? c.ctx_len : int64_t{0});
    j.key("documents").begin_array();
    for (const Doc& d : docs) {
      j.begin_object().member("path", d.path).member("tokens_total", d.tokens_total);
      j.member("tokens_used", static_cast<int64_t>(d.tokens.size())).end_object();
    }
    j.end_array();
    j.key("results").begin_array();
    for (const auto& r : results) {
      j.begin_object();
      j.key("attention");
      if (!policy) j.begin_object().member("label", r.label).member("policy", "none").end_object();
      else write_attention(j, r.attn, c.ctx_len);
      j.member("resolved_label", r.label);
      j.member("positions_scored", r.stats.count()).member("sequences", r.stats.n_sequences());
      j.member("mean_nll", r.stats.mean_nll()).member("perplexity", r.stats.perplexity());
      j.key("landmarks").begin_array();
      for (const auto& l : r.stats.landmarks()) {
        j.begin_object().member("length", l.length).member("mean_nll", l.mean_nll);
        j.member("perplexity", l.perplexity).member("positions", l.count).end_object();
      }
      j.end_array();
      std::vector<double> mean;
      std::vector<int64_t> count, start;
      for (size_t b = 0; b < r.stats.n_bins(); ++b) {
        start.push_back(static_cast<int64_t>(b) * bin);
        mean.push_back(r.stats.bin_mean(b));
        count.push_back(r.stats.bin_count(b));
      }
      j.key("bins").begin_object();
      j.array("start", start).array("mean_nll", mean).array("count", count).end_object();
      j.member("seconds", r.seconds);
      j.member("tokens_per_second", static_cast<double>(r.stats.count()) / r.seconds);
      j.member("kv_cache_bytes", static_cast<uint64_t>(r.cache_bytes));
      j.member("peak_rss_bytes", static_cast<uint64_t>(r.peak_rss));
      if (!r.rss_tokens.empty()) {
        j.key("rss_samples").begin_object();
        j.array("tokens", r.rss_tokens).array("rss_bytes", r.rss_bytes).end_object();
      }
      j.end_object();
    }
    j.end_array();
    j.end_object();
    write_text_file("--json", json, j.str());
  }
  if (!plot.empty()) {
    PlotSpec spec;
    spec.title = std::string("NLL by position (") + mode + ", " + std::to_string(docs.size()) +
                 " doc" + (docs.size() > 1 ? "s" : "") + ")";
    spec.x_label = "position (tokens); dashed: trained context " + std::to_string(c.ctx_len);
    spec.y_label = "mean NLL per " + std::to_string(bin) + "-token bin (nats)";
    spec.x_marks = {static_cast<double>(c.ctx_len)};
    spec.x_from_zero = true;
    std::vector<PlotSeries> series;
    for (const auto& r : results) {
      PlotSeries s;
      s.label = r.label;
      for (size_t b = 0; b < r.stats.n_bins(); ++b) {
        s.x.push_back((static_cast<double>(b) + 0.5) * static_cast<double>(bin));
        s.y.push_back(r.stats.bin_mean(b));
      }
      series.push_back(std::move(s));
    }
    write_png(plot, render_line_plot(spec, series));
  }
  return 0;
}

}  // namespace lc::cli
