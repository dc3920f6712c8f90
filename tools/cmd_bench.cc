// longctx bench: prefill and decode throughput (median, p10, p90 over --reps after a warm-up)
// and peak resident memory, as a table and optionally JSON. Before timing, it checks that
// batched prefill and token-by-token decode give the same logits.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "attention_flags.h"
#include "based_cli.h"
#include "bench_batch.h"
#include "commands.h"
#include "common.h"
#include "core/aligned.h"
#include "core/cpu.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/rng.h"
#include "core/timer.h"
#include "eval/json_writer.h"
#include "git_commit.h"
#include "model/llama.h"
#include "runtime/sampler.h"
#include "runtime/session.h"

namespace lc::cli {

namespace {

struct Summary {
  double median, p10, p90;
};

Summary summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto q = [&](double p) {
    double idx = p * static_cast<double>(v.size() - 1);
    size_t lo = static_cast<size_t>(std::floor(idx)), hi = static_cast<size_t>(std::ceil(idx));
    return v[lo] + (v[hi] - v[lo]) * (idx - static_cast<double>(lo));
  };
  return {q(0.5), q(0.1), q(0.9)};
}

// Max |a-b| / max|a| between prefill's last logits and decode's, over a short prefix.
double prefill_decode_mismatch(Session& s, const std::vector<int>& toks, int64_t vocab) {
  int64_t n = std::min<int64_t>(8, static_cast<int64_t>(toks.size()));
  std::vector<float> a(vocab);
  s.reset();
  const float* l = s.prefill(toks.data(), n);
  std::copy(l, l + vocab, a.begin());
  s.reset();
  for (int64_t i = 0; i < n; ++i) l = s.decode(toks[i]);
  double mx = 0, diff = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    mx = std::max(mx, static_cast<double>(std::fabs(a[i])));
    diff = std::max(diff, static_cast<double>(std::fabs(a[i] - l[i])));
  }
  return diff / std::max(mx, 1e-30);
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  std::vector<std::string> flags;
  for (const char* const* f = kBenchFlags; *f; ++f) flags.push_back(*f);
  for (const auto& f : attention_value_flags()) flags.push_back(f);
  Args a("bench", flags, {"--help", "--mixer-only"});
  a.parse(argc, argv, 2);
  if (a.has("--help")) {
    std::fputs(
        "usage: longctx bench -m MODEL [-t THREADS] [--prompt N] [--gen N] [--reps R]\n"
        "                     [--json FILE] [--ctx N] [--dtype f32|bf16|f16] [--seed S]\n"
        "                     [--fill N] [attention flags]\n"
        "  Times prefill of N random prompt tokens and decode of --gen tokens, R times after a\n"
        "  warm-up; reports tokens/s median, p10, p90 and peak resident memory.\n"
        "  --fill N  decode at context N: random keys/values stand in for N positions (written\n"
        "            into the cache rows they occupy -- for bounded policies only the sinks and\n"
        "            the last window), then the prompt and --gen tokens follow at position N.\n"
        "  --ctx N   context of --attn full (default: the model's, raised to fit the run)\n"
        "  --batch B B independent sequences, each its own KV cache (BASED: recurrent state);\n"
        "            every decode step is one forward over all B (tokens/s count all of them);\n"
        "            reports the KV / state bytes per sequence and in total; --prompt 0 (with\n"
        "            --fill) skips the per-sequence prefill and decodes from random tokens\n"
        "  BASED: --fill N gives every sequence a random recurrent state standing in for N\n"
        "            tokens (fixed-size state: a decode costs the same as after a prefill)\n"
        "  --taylor chunked|quadratic  (BASED) prefill only, the prompt in one block, with the\n"
        "            linear attention in that form; --mixer-only times that core alone\n",
        stdout);
    std::fputs(kAttentionFlagsHelp, stdout);
    return 0;
  }
  if (a.has("--mixer-only") && !a.has("--taylor")) fail("--mixer-only: needs --taylor");
  const int threads = threads_flag(a);
  const int64_t n_prompt = a.integer("--prompt", 128, 0, 1 << 24);  // 0: --batch runs only
  const int64_t n_gen = a.integer("--gen", 64, 1, 1 << 24);
  const int64_t reps = a.integer("--reps", 5, 1, 10000);
  const uint64_t seed = static_cast<uint64_t>(a.integer("--seed", 1, 0, INT64_MAX));
  int64_t ctx = a.integer("--ctx", 0, 1, 1 << 26);
  const int64_t fill = a.integer("--fill", 0, 0, int64_t{1} << 40);
  std::string json = a.str("--json");
  check_output_file("--json", json);  // before the model loads and the runs start
  const AttentionConfig attn = parse_attention(a, /*allow_many=*/false).front();

  auto file = load_model(a);
  if (file->config.arch == "based") return bench_batch_based(a, *file);
  if (a.has("--batch") || a.has("--taylor")) return bench_batch_llama(a, *file);
  if (n_prompt < 1) fail("--prompt 0: only with --batch (after --fill)");
  LlamaModel model(*file);
  const ModelConfig& c = model.config();
  if (ctx == 0) ctx = std::max(c.ctx_len, fill + n_prompt + n_gen);
  SessionOptions so;
  so.n_threads = threads;
  so.ctx = ctx;
  so.attn = attn;
  Session session(model, so);
  // Bounded policies (window, streaming, lambda) have no context limit.
  if (fill + n_prompt + n_gen > session.capacity())
    fail("--fill + --prompt + --gen = ", fill + n_prompt + n_gen, " exceeds the context of ",
         session.capacity(), " (raise --ctx)");

  Rng rng(seed);
  std::vector<int> prompt(static_cast<size_t>(n_prompt));
  for (auto& t : prompt) t = static_cast<int>(rng.next_u32() % static_cast<uint32_t>(c.vocab_size));

  double mismatch = prefill_decode_mismatch(session, prompt, c.vocab_size);
  if (!(mismatch < 1e-3))
    fail("correctness check failed: prefill and decode logits differ (relative ", mismatch, ")");

  std::vector<double> pre_tps, dec_tps;
  for (int64_t r = -1; r < reps; ++r) {  // r == -1 is the warm-up
    session.reset();
    if (fill > 0) session.fill_random(fill, seed + 17 + static_cast<uint64_t>(r + 1));
    double t0 = now_seconds();
    const float* logits = session.prefill(prompt.data(), n_prompt);
    double t1 = now_seconds();
    for (int64_t i = 0; i < n_gen; ++i) logits = session.decode(Sampler::argmax(logits, c.vocab_size));
    double t2 = now_seconds();
    if (r >= 0) {
      pre_tps.push_back(static_cast<double>(n_prompt) / (t1 - t0));
      dec_tps.push_back(static_cast<double>(n_gen) / (t2 - t1));
    }
  }
  Summary pre = summarize(pre_tps), dec = summarize(dec_tps);
  const double peak_mib = static_cast<double>(peak_rss_bytes()) / (1 << 20);
  const std::string dtype = a.has("--dtype") ? a.str("--dtype") : "as stored";
  const double wbytes = static_cast<double>(file->weight_bytes());
  double n_params = 0;  // elements, not bytes: q8_0 blocks carry a scale per 32 weights
  for (const TensorRef& t : file->tensors) n_params += static_cast<double>(t.numel());

  std::printf("model       %s (%.1f M params, %.1f MiB weights, dtype %s)\n", file->path.c_str(),
              n_params / 1e6, wbytes / (1 << 20), dtype.c_str());
  const std::string label = session.policy().label();
  std::printf("attention   %s, KV cache %.1f MiB (%lld slots)\n", label.c_str(),
              static_cast<double>(session.cache_bytes()) / (1 << 20),
              static_cast<long long>(session.cache_slots()));
  std::printf("threads %d, isa %s, ctx %s, prefill/decode check %.1e\n", threads,
              isa_name(selected_isa()),
              session.policy().bounded() ? "unbounded" : std::to_string(ctx).c_str(), mismatch);
  if (fill > 0)
    std::printf("context     --fill %lld: random keys/values stand in for positions [0, %lld) "
                "(no prefill); prompt and decode run after them\n",
                static_cast<long long>(fill), static_cast<long long>(fill));
  std::printf("| test          | tokens | tok/s median | p10      | p90      |\n");
  std::printf("|---------------|--------|--------------|----------|----------|\n");
  std::printf("| prefill       | %6lld | %12.1f | %8.1f | %8.1f |\n", static_cast<long long>(n_prompt),
              pre.median, pre.p10, pre.p90);
  std::printf("| decode        | %6lld | %12.1f | %8.1f | %8.1f |\n", static_cast<long long>(n_gen),
              dec.median, dec.p10, dec.p90);
  std::printf("peak RSS    %.1f MiB (%lld reps after 1 warm-up)\n", peak_mib,
              static_cast<long long>(reps));

  if (!json.empty()) {
    std::string tmp = json + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "w");
    if (!f) fail("--json: cannot open '", json, "' for writing");
    std::fprintf(f,
                 "{\"model\": %s, \"weight_bytes\": %.0f, \"dtype\": %s, \"threads\": %d, "
                 "\"isa\": \"%s\", \"ctx\": %lld, \"kv_cache_bytes\": %zu, \"commit\": \"%s\",\n"
                 " \"attn\": %s, \"bounded\": %s, \"cache_slots\": %lld, \"fill\": %lld,\n"
                 " \"prefill\": {\"tokens\": %lld, \"tok_s_median\": %.3f, \"tok_s_p10\": %.3f, "
                 "\"tok_s_p90\": %.3f},\n"
                 " \"decode\": {\"tokens\": %lld, \"tok_s_median\": %.3f, \"tok_s_p10\": %.3f, "
                 "\"tok_s_p90\": %.3f},\n"
                 " \"reps\": %lld, \"peak_rss_bytes\": %zu, \"check_rel_err\": %.3e}\n",
                 json_quote(file->path).c_str(), wbytes, json_quote(dtype).c_str(), threads,
                 isa_name(selected_isa()), static_cast<long long>(ctx), session.cache_bytes(),
                 LONGCTX_GIT_COMMIT, json_quote(label).c_str(),
                 session.policy().bounded() ? "true" : "false",
                 static_cast<long long>(session.cache_slots()), static_cast<long long>(fill),
                 static_cast<long long>(n_prompt), pre.median, pre.p10,
                 pre.p90, static_cast<long long>(n_gen), dec.median, dec.p10, dec.p90,
                 static_cast<long long>(reps), peak_rss_bytes(), mismatch);
    bool ok = std::fclose(f) == 0;
    if (!ok || std::rename(tmp.c_str(), json.c_str()) != 0) {
      std::remove(tmp.c_str());
      fail("--json: writing '", json, "' failed");
    }
  }
  return 0;
}

}  // namespace lc::cli
