#include "eval/passkey_report.h"

#include <cstdio>

#include "eval/json_writer.h"
#include "eval/plot_png.h"
#include "eval/png.h"

namespace lc {

std::string passkey_table(const std::vector<PasskeyResult>& results, const PasskeyOptions& opt) {
  const int nb = opt.depth_buckets;
  std::string t = "| attention | target length | prompt tokens | accuracy | key NLL (nats/token) |";
  for (int b = 0; b < nb; ++b) appendf(&t, " depth %d-%d%% |", b * 100 / nb, (b + 1) * 100 / nb);
  t += "\n|---|---:|---:|---:|---:|";
  for (int b = 0; b < nb; ++b) t += "---:|";
  t += "\n";
  for (const auto& r : results)
    for (const auto& l : r.per_length) {
      appendf(&t, "| %s | %lld | %.0f | %lld/%lld | %.3f |", r.label.c_str(),
              static_cast<long long>(l.target_len), l.mean_prompt_tokens,
              static_cast<long long>(l.correct), static_cast<long long>(l.total), l.mean_key_nll);
      for (int b = 0; b < nb; ++b)
        appendf(&t, " %lld/%lld |", static_cast<long long>(l.bucket_correct[b]),
                static_cast<long long>(l.bucket_total[b]));
      t += "\n";
    }
  return t;
}

std::string passkey_json(const RunInfo& info, const ModelConfig& cfg, bool takes_policy,
                         const PasskeyOptions& opt, const std::vector<PasskeyResult>& results) {
  JsonWriter j;
  j.begin_object();
  write_run_info(j, info, cfg);
  j.member("samples_per_length", opt.samples).member("digits", opt.digits);
  j.member("seed", opt.seed).member("max_new_tokens", opt.max_new_tokens);
  j.member("answer_budget",
           "max_new_tokens + key_tokens - 1 generated tokens, stopping once the first integer "
           "is complete");
  j.member("depth_buckets", opt.depth_buckets).array("lengths", opt.lengths);
  j.array("depths", opt.depths);  // fixed needle depths; empty: drawn per sample
  j.key("chat_template");
  if (opt.chat)
    j.value(opt.chat->origin);
  else
    j.null();
  j.key("results").begin_array();
  for (const auto& r : results) {
    j.begin_object();
    j.key("attention");
    write_attention(j, r.attn, cfg.ctx_len, takes_policy, r.label);
    j.member("resolved_label", r.label).member("seconds", r.seconds);
    j.key("per_length").begin_array();
    for (const auto& l : r.per_length) {
      j.begin_object().member("target_len", l.target_len).member("correct", l.correct);
      j.member("total", l.total).member("accuracy", static_cast<double>(l.correct) / l.total);
      j.member("mean_prompt_tokens", l.mean_prompt_tokens).member("mean_key_nll", l.mean_key_nll);
      j.array("depth_bucket_correct", l.bucket_correct).array("depth_bucket_total", l.bucket_total);
      j.end_object();
    }
    j.end_array();
    j.key("samples").begin_array();
    for (const auto& s : r.samples) {
      j.begin_object().member("target_len", s.target_len).member("prompt_tokens", s.prompt_tokens);
      j.member("n_fillers", s.n_fillers).member("slot", s.slot).member("depth", s.depth);
      j.member("key", s.key).member("output", s.output).member("correct", s.correct);
      j.member("answer_tokens", s.answer_tokens);
      j.member("key_tokens", s.key_tokens).member("key_nll", s.key_nll).end_object();
    }
    j.end_array();
    j.end_object();
  }
  j.end_array();
  j.end_object();
  return j.str();
}

std::string passkey_accuracy_path(const std::string& p) {
  const std::string ext = ".png";
  if (p.size() > ext.size() && p.compare(p.size() - ext.size(), ext.size(), ext) == 0)
    return p.substr(0, p.size() - ext.size()) + "-accuracy.png";
  return p + "-accuracy.png";
}

void write_passkey_plots(const std::string& path, const ModelConfig& cfg, const PasskeyOptions& opt,
                         const std::vector<PasskeyResult>& results) {
  PlotSpec spec;
  spec.log2_x = true;
  spec.markers = true;
  if (cfg.ctx_len > 0) spec.x_marks = {static_cast<double>(cfg.ctx_len)};
  spec.x_label = cfg.ctx_len > 0 ? "prompt length (tokens); dashed: trained context " +
                                       std::to_string(cfg.ctx_len)
                                 : "prompt length (tokens); trained context unknown";
  std::vector<PlotSeries> nll, acc;
  for (const auto& r : results) {
    PlotSeries sn, sa;
    sn.label = sa.label = r.label;
    for (const auto& l : r.per_length) {
      sn.x.push_back(static_cast<double>(l.target_len));
      sa.x.push_back(static_cast<double>(l.target_len));
      sn.y.push_back(l.mean_key_nll);
      sa.y.push_back(static_cast<double>(l.correct) / static_cast<double>(l.total));
    }
    nll.push_back(std::move(sn));
    acc.push_back(std::move(sa));
  }
  spec.title = "Passkey: NLL of the " + std::to_string(opt.digits) + "-digit key";
  spec.y_label = "mean NLL per key token (nats)";
  write_png(path, render_line_plot(spec, nll));
  spec.title = "Passkey retrieval accuracy";
  spec.y_label = "accuracy";
  spec.y_min = 0;
  spec.y_max = 1.05;
  write_png(passkey_accuracy_path(path), render_line_plot(spec, acc));
}

}  // namespace lc
