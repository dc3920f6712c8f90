#include "eval/report.h"

#include <cmath>
#include <cstdio>

#include "git_commit.h"

namespace lc {

void write_run_info(JsonWriter& j, const RunInfo& info, const ModelConfig& cfg) {
  j.member("evaluation", info.evaluation);
  j.key("model").begin_object();
  j.member("path", info.model_path).member("sha256", info.model_sha256);
  j.member("arch", arch_name(cfg.arch))
      .member("d_model", cfg.d_model)
      .member("n_layers", cfg.n_layers);
  j.member("n_heads", cfg.n_heads).member("n_kv_heads", cfg.n_kv_heads);
  j.member("vocab_size", cfg.vocab_size).member("trained_ctx", cfg.ctx_len);
  j.end_object();
  j.member("tokenizer", info.tokenizer);
  j.member("threads", info.threads);
  j.member("commit", LONGCTX_GIT_COMMIT);
  j.member("command", info.command_line);
}

void write_attention(JsonWriter& j, const AttentionConfig& a, int64_t trained_ctx,
                     bool takes_policy, const std::string& resolved) {
  if (takes_policy) return write_attention(j, a, trained_ctx);
  j.begin_object().member("label", resolved).member("policy", "none").end_object();
}

void write_attention(JsonWriter& j, const AttentionConfig& a, int64_t trained_ctx) {
  auto opt = [&](const char* k, int64_t v) {
    j.key(k);
    if (v == AttentionConfig::kNoCeiling)
      j.value("none");
    else if (v < 0)
      j.null();
    else
      j.value(v);
  };
  j.begin_object();
  j.member("label", a.label()).member("policy", policy_name(a.policy));
  opt("window", a.window > 0 ? a.window : -1);
  opt("sinks", a.sinks);
  opt("ceiling", a.ceiling);
  j.member("topk", a.topk).member("topk_from_layer", a.topk_from_layer);
  j.key("resolved").begin_object();
  const int64_t w = a.window > 0 ? a.window : trained_ctx;
  switch (a.policy) {
    case AttnPolicy::Full:
      opt("ceiling", a.ceiling);
      break;
    case AttnPolicy::Window:
      j.member("window", w);
      break;
    case AttnPolicy::Streaming:
      j.member("sinks", a.sinks >= 0 ? a.sinks : int64_t{4}).member("window", w);
      break;
    case AttnPolicy::Lambda:
      j.member("sinks", a.sinks >= 0 ? a.sinks : int64_t{10}).member("window", w);
      opt("ceiling", a.ceiling >= 0 ? a.ceiling : trained_ctx);
      if (a.topk > 0) j.member("middle_pool", a.middle_pool);
      break;
    case AttnPolicy::Trams:
      j.member("pool", a.trams_pool >= 0 ? a.trams_pool : int64_t{400})
          .member("recent", a.trams_recent >= 0 ? a.trams_recent : int64_t{150})
          .member("select", a.trams_select >= 0 ? a.trams_select : int64_t{200})
          .member("score", trams_score_name(a.trams_score))
          .member("compacted", a.trams_compacted);
      break;
  }
  j.end_object();
  j.end_object();
}

std::string fmt(double v, int decimals) {
  if (!std::isfinite(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace lc
