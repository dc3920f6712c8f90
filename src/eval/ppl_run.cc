#include "eval/ppl_run.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "core/timer.h"
#include "eval/json_writer.h"
#include "eval/perplexity.h"
#include "eval/plot_png.h"
#include "eval/png.h"
#include "runtime/session.h"

namespace lc {

namespace {

std::string landmark_name(int64_t l) {
  return l % 1024 == 0 ? std::to_string(l / 1024) + "K" : std::to_string(l);
}

int64_t longest_document(const std::vector<PplDoc>& docs) {
  int64_t n = 0;
  for (const PplDoc& d : docs) n = std::max<int64_t>(n, static_cast<int64_t>(d.tokens.size()));
  return n;
}

// One cycled stream; resident memory sampled every 5% of it.
void score_stream_sampled(Session& scorer, int bos, const std::vector<PplDoc>& docs,
                          const PplOptions& opt, PplResult* r,
                          const std::function<void(int64_t, int64_t)>& progress) {
  std::vector<std::vector<int>> toks;
  for (const PplDoc& d : docs) toks.push_back(d.tokens);
  int64_t next_sample = 0;
  score_stream(scorer, bos, toks, opt.stream, r->stats, [&](int64_t done, int64_t total) {
    if (progress) progress(done, total);
    if (done >= next_sample) {
      r->rss_tokens.push_back(done);
      r->rss_bytes.push_back(static_cast<int64_t>(current_rss_bytes()));
      next_sample = done + std::max<int64_t>(1, total / 20);
    }
  });
  r->rss_tokens.push_back(opt.stream);
  r->rss_bytes.push_back(static_cast<int64_t>(current_rss_bytes()));
}

}  // namespace

std::vector<PplDoc> tokenize_documents(const Tokenizer& tok, const std::vector<std::string>& paths,
                                       std::vector<std::string> texts, const PplOptions& opt) {
  std::vector<PplDoc> docs;
  for (size_t i = 0; i < paths.size(); ++i) {
    PplDoc d;
    d.path = paths[i];
    d.tokens = tok.encode(texts[i], !opt.stream && tok.adds_bos());
    d.tokens_total = static_cast<int64_t>(d.tokens.size());
    if (opt.max_len && d.tokens_total > opt.max_len)
      d.tokens.resize(static_cast<size_t>(opt.max_len));
    if (!opt.stream && d.tokens.size() < 2)
      fail("'", d.path, "' has ", d.tokens.size(), " token(s); at least 2 are needed to score");
    docs.push_back(std::move(d));
    std::string().swap(texts[i]);
  }
  return docs;
}

PplResult run_ppl(const Model& model, const AttentionConfig& attn, const std::vector<PplDoc>& docs,
                  int bos, const PplOptions& opt,
                  const std::function<void(int64_t, int64_t)>& progress) {
  const int64_t ctx_len = model.config().ctx_len, longest = longest_document(docs);
  const int64_t window = opt.window_for(ctx_len);
  if (opt.stride && opt.stride > window)
    fail("--stride: ", opt.stride, " exceeds the window (", window, ")");
  const int64_t max_tokens = opt.stream   ? opt.stream
                             : opt.stride ? std::min(longest, window)
                                          : longest;
  Session scorer(model, eval_session_options(attn, max_tokens, opt.n_threads));
  PplResult r{attn,
              scorer.label(),
              NllStats(opt.bin, default_landmarks(opt.stream ? opt.stream : longest)),
              0,
              scorer.state_bytes(),
              0,
              {},
              {}};
  const double t0 = now_seconds();
  if (opt.stream) {
    score_stream_sampled(scorer, bos, docs, opt, &r, progress);
  } else {
    int64_t total = 0, base = 0;
    for (const PplDoc& d : docs) total += static_cast<int64_t>(d.tokens.size()) - 1;
    auto cb = [&](int64_t done, int64_t) {
      if (progress) progress(base + done, total);
    };
    for (const PplDoc& d : docs) {
      const int64_t n = static_cast<int64_t>(d.tokens.size());
      if (opt.stride)
        score_strided(scorer, d.tokens.data(), n, std::min(window, n), opt.stride, r.stats, cb);
      else
        score_sequence(scorer, d.tokens.data(), n, r.stats, cb);
      base += n - 1;
    }
  }
  r.seconds = now_seconds() - t0;
  r.peak_rss = peak_rss_bytes();
  return r;
}

PplResult ppl_result_from_nll(const AttentionConfig& attn, const std::string& label,
                              const std::vector<PplDoc>& docs,
                              const std::vector<std::vector<double>>& nll, const PplOptions& opt,
                              size_t state_bytes, double seconds, size_t peak_rss) {
  check(!opt.stream && !opt.stride, "ppl_result_from_nll: documents mode only");
  check(nll.size() == docs.size(), "ppl_result_from_nll: ", nll.size(), " NLL vectors for ",
        docs.size(), " documents");
  PplResult r{attn,    label,       NllStats(opt.bin, default_landmarks(longest_document(docs))),
              seconds, state_bytes, peak_rss,
              {},      {}};
  for (size_t i = 0; i < docs.size(); ++i) {
    const int64_t n = static_cast<int64_t>(docs[i].tokens.size());
    check(static_cast<int64_t>(nll[i].size()) == n - 1, "ppl_result_from_nll: document ", i,
          " has ", n, " tokens but ", nll[i].size(), " NLL values (expected ", n - 1, ")");
    add_sequence_nll(r.stats, nll[i].data(), n);
  }
  return r;
}

std::string ppl_tables(const std::vector<PplResult>& res, const char* mode) {
  // Summary: one row per configuration, landmark columns from the first result.
  std::vector<int64_t> lm;
  for (const auto& l : res.front().stats.landmarks()) lm.push_back(l.length);
  std::string t;
  appendf(&t, "| attention (%s) | tokens | ppl |", mode);
  for (int64_t l : lm) appendf(&t, " ppl@%s |", landmark_name(l).c_str());
  t += " tok/s | KV cache MiB |\n|---|---:|---:|";
  for (size_t i = 0; i < lm.size(); ++i) t += "---:|";
  t += "---:|---:|\n";
  for (const auto& r : res) {
    appendf(&t, "| %s | %lld | %s |", r.label.c_str(), static_cast<long long>(r.stats.count()),
            fmt(r.stats.perplexity(), 3).c_str());
    const auto got = r.stats.landmarks();
    for (size_t i = 0; i < lm.size(); ++i)
      appendf(&t, " %s |", i < got.size() ? fmt(got[i].perplexity, 3).c_str() : "-");
    appendf(&t, " %.0f | %.2f |\n", static_cast<double>(r.stats.count()) / r.seconds,
            static_cast<double>(r.state_bytes) / (1 << 20));
  }
  // Per-position NLL, bins merged for display to at most ~32 rows (JSON has every bin).
  size_t n_bins = 0;
  for (const auto& r : res) n_bins = std::max(n_bins, r.stats.n_bins());
  const size_t merge = std::max<size_t>(1, (n_bins + 31) / 32);
  const int64_t bin = res.front().stats.bin();
  t += "\nmean NLL (nats) by position\n\n| positions |";
  for (const auto& r : res) appendf(&t, " %s |", r.label.c_str());
  t += "\n|---|";
  for (size_t i = 0; i < res.size(); ++i) t += "---:|";
  t += "\n";
  for (size_t b = 0; b < n_bins; b += merge) {
    const size_t e = std::min(n_bins, b + merge);
    appendf(&t, "| %lld-%lld |", static_cast<long long>(b * bin),
            static_cast<long long>(e * bin - 1));
    for (const auto& r : res) {
      double s = 0;
      int64_t c = 0;
      for (size_t k = b; k < std::min(e, r.stats.n_bins()); ++k) {
        s += r.stats.bin_mean(k) * static_cast<double>(r.stats.bin_count(k));
        c += r.stats.bin_count(k);
      }
      appendf(&t, " %s |", c ? fmt(s / static_cast<double>(c), 3).c_str() : "-");
    }
    t += "\n";
  }
  return t;
}

std::string ppl_json(const RunInfo& info, const ModelConfig& c, bool takes_policy,
                     const PplOptions& opt, const std::vector<PplDoc>& docs,
                     const std::vector<PplResult>& results) {
  JsonWriter j;
  j.begin_object();
  write_run_info(j, info, c);
  j.member("mode", opt.mode()).member("bin", opt.bin).member("max_len", opt.max_len);
  j.member("stream_tokens", opt.stream).member("stride", opt.stride);
  j.member("stride_window", opt.stride ? opt.window_for(c.ctx_len) : int64_t{0});
  j.key("documents").begin_array();
  for (const PplDoc& d : docs) {
    j.begin_object().member("path", d.path).member("tokens_total", d.tokens_total);
    j.member("tokens_used", static_cast<int64_t>(d.tokens.size())).end_object();
  }
  j.end_array();
  j.key("results").begin_array();
  for (const auto& r : results) {
    j.begin_object();
    j.key("attention");
    write_attention(j, r.attn, c.ctx_len, takes_policy, r.label);
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
      start.push_back(static_cast<int64_t>(b) * opt.bin);
      mean.push_back(r.stats.bin_mean(b));
      count.push_back(r.stats.bin_count(b));
    }
    j.key("bins").begin_object();
    j.array("start", start).array("mean_nll", mean).array("count", count).end_object();
    j.member("seconds", r.seconds);
    j.member("tokens_per_second", static_cast<double>(r.stats.count()) / r.seconds);
    j.member("kv_cache_bytes", static_cast<uint64_t>(r.state_bytes));
    j.member("peak_rss_bytes", static_cast<uint64_t>(r.peak_rss));
    if (!r.rss_tokens.empty()) {
      j.key("rss_samples").begin_object();
      j.array("tokens", r.rss_tokens).array("rss_bytes", r.rss_bytes).end_object();
    }
    j.end_object();
  }
  j.end_array();
  j.end_object();
  return j.str();
}

void write_ppl_plot(const std::string& path, const ModelConfig& c, const PplOptions& opt,
                    size_t n_docs, const std::vector<PplResult>& results) {
  PlotSpec spec;
  spec.title = std::string("NLL by position (") + opt.mode() + ", " + std::to_string(n_docs) +
               " doc" + (n_docs > 1 ? "s" : "") + ")";
  spec.x_label = c.ctx_len > 0
                     ? "position (tokens); dashed: trained context " + std::to_string(c.ctx_len)
                     : "position (tokens); trained context unknown";
  spec.y_label = "mean NLL per " + std::to_string(opt.bin) + "-token bin (nats)";
  if (c.ctx_len > 0) spec.x_marks = {static_cast<double>(c.ctx_len)};
  spec.x_from_zero = true;
  std::vector<PlotSeries> series;
  for (const auto& r : results) {
    PlotSeries s;
    s.label = r.label;
    for (size_t b = 0; b < r.stats.n_bins(); ++b) {
      s.x.push_back((static_cast<double>(b) + 0.5) * static_cast<double>(opt.bin));
      s.y.push_back(r.stats.bin_mean(b));
    }
    series.push_back(std::move(s));
  }
  write_png(path, render_line_plot(spec, series));
}

}  // namespace lc
