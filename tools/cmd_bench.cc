// longctx bench: prefill and decode throughput (median, p10, p90 over --reps after a warm-up)
// and peak resident memory, as a table and optionally JSON (src/eval/bench.h).
#include <cstdio>
#include <string>
#include <vector>

#include "attention_flags.h"
#include "commands.h"
#include "common.h"
#include "core/cpu.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/progress.h"
#include "core/timer.h"
#include "eval/bench.h"
#include "model/registry.h"
#include "ops/amx/amx.h"
#include "ops/amx/flash_amx.h"

namespace lc::cli {

namespace {

const char* kHelp =
    "usage: longctx bench -m MODEL [-t THREADS] [--prompt N] [--gen N] [--reps R]\n"
    "                     [--json FILE] [--ctx N] [--dtype f32|bf16|f16] [--seed S]\n"
    "                     [--fill N] [--batch B] [--block N]\n"
    "                     [--taylor chunked|quadratic [--mixer-only]] [attention flags]\n"
    "  Times prefill of N random prompt tokens and decode of --gen tokens, R times after a\n"
    "  warm-up; reports tokens/s median, p10, p90 and peak resident memory.\n"
    "  --fill N  decode at context N: random keys/values stand in for N positions (written\n"
    "            into the cache rows they occupy -- for bounded policies only the sinks and\n"
    "            the last window; a recurrent model gets a random state), then the prompt and\n"
    "            --gen tokens follow at position N.\n"
    "  --ctx N   context of --attn full (default: the model's, raised to fit the run)\n"
    "  --block N prompt tokens per forward during prefill (default 64, 1-4096; as serve's)\n"
    "  --batch B B independent sequences, each its own KV cache or recurrent state; every\n"
    "            decode step is one forward over all B (tokens/s count all of them); reports\n"
    "            the state bytes per sequence and in total; --prompt 0 (with --fill) skips the\n"
    "            per-sequence prefill and decodes from fixed tokens\n"
    "  --taylor chunked|quadratic  (models with Taylor linear attention, e.g. BASED) prefill\n"
    "            only, the prompt in one block, with the linear attention in that form;\n"
    "            --mixer-only times that core alone\n";

BenchSpec read_spec(const Args& a) {
  BenchSpec s;
  s.batch = a.has("--batch") ? a.integer("--batch", 1, 1, 1 << 20) : 0;
  s.n_prompt = a.integer("--prompt", 128, 0, 1 << 24);  // 0: --batch runs only (after --fill)
  s.n_gen = a.integer("--gen", 64, 1, 1 << 24);
  s.reps = a.integer("--reps", 5, 1, 10000);
  s.fill = a.integer("--fill", 0, 0, int64_t{1} << 40);
  s.seed = static_cast<uint64_t>(a.integer("--seed", 1, 0, INT64_MAX));
  return s;
}

void print_result(const Args& a, const ModelFile& file, const BenchSpec& sp, const BenchResult& r,
                  int threads) {
  const double mib = 1 << 20;
  double n_params = 0;  // elements, not bytes: q8_0 blocks carry a scale per 32 weights
  for (const TensorRef& t : file.tensors) n_params += static_cast<double>(t.numel());
  const int64_t seqs = std::max<int64_t>(1, sp.batch);
  std::printf("model       %s (%s, %.1f M params, %.1f MiB weights, dtype %s)\n", file.path.c_str(),
              arch_name(file.config.arch), n_params / 1e6,
              static_cast<double>(file.weight_bytes()) / mib,
              a.has("--dtype") ? a.str("--dtype").c_str() : "as stored");
  const std::string slots = r.cache_slots > 0 ? std::to_string(r.cache_slots) + " cache slots of " +
                                                    std::to_string(r.kv_bytes_per_token) + " B"
                                              : std::string("recurrent");
  std::printf("attention   %s; state %.2f MiB per sequence (%s%s), x %lld = %.2f MiB\n",
              r.label.c_str(), static_cast<double>(r.state_bytes_per_seq) / mib, slots.c_str(),
              r.bounded ? ", constant in context" : "", static_cast<long long>(seqs),
              static_cast<double>(r.state_bytes_per_seq) * static_cast<double>(seqs) / mib);
  std::printf("threads %d, isa %s%s, ctx %s, correctness check %.1e\n", threads,
              isa_name(selected_isa()),
              ops::amx::flash_enabled() ? " (+ AMX for bf16/f16 weights and bf16-cache attention)"
              : ops::amx::enabled()     ? " (+ AMX for bf16/f16 weights)"
                                        : "",
              r.bounded ? "unbounded" : std::to_string(r.ctx).c_str(), r.check);
  if (sp.fill > 0)
    std::printf(
        "context     --fill %lld: random state stands in for positions [0, %lld) of every "
        "sequence (no prefill, %.2f s per rep, untimed)\n",
        static_cast<long long>(sp.fill), static_cast<long long>(sp.fill), r.fill_seconds);
  std::printf("| test          | tokens (all seqs) | tok/s median | p10      | p90      |\n");
  std::printf("|---------------|-------------------|--------------|----------|----------|\n");
  if (sp.n_prompt > 0)
    std::printf("| prefill       | %17lld | %12.1f | %8.1f | %8.1f |\n",
                static_cast<long long>(seqs * sp.n_prompt), r.prefill.median, r.prefill.p10,
                r.prefill.p90);
  if (r.has_decode)
    std::printf("| decode        | %17lld | %12.1f | %8.1f | %8.1f |\n",
                static_cast<long long>(seqs * sp.n_gen), r.decode.median, r.decode.p10,
                r.decode.p90);
  std::printf("peak RSS    %.1f MiB (%lld reps after 1 warm-up)\n",
              static_cast<double>(peak_rss_bytes()) / mib, static_cast<long long>(sp.reps));
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  std::vector<std::string> flags = {"-m",      "-t",       "--prompt", "--gen",  "--reps",
                                    "--json",  "--ctx",    "--dtype",  "--seed", "--fill",
                                    "--batch", "--taylor", "--block"};
  for (const auto& f : attention_value_flags()) flags.push_back(f);
  Args a("bench", flags, {"--help", "--mixer-only"});
  a.parse(argc, argv, 2);
  if (a.has("--help")) {
    std::fputs(kHelp, stdout);
    std::fputs(attention_flags_help().c_str(), stdout);
    return 0;
  }
  if (a.has("--mixer-only") && !a.has("--taylor")) fail("--mixer-only: needs --taylor");
  const int threads = threads_flag(a);
  BenchSpec spec = read_spec(a);
  SessionOptions so;
  so.n_threads = threads;
  so.ctx = a.integer("--ctx", 0, 1, 1 << 26);
  so.block_tokens = a.integer("--block", 64, 1, 4096);
  so.attn = parse_attention(a, /*allow_many=*/false).front();
  const std::string json = a.str("--json");
  check_output_file("--json", json);  // before the model loads and the runs start

  auto file = load_model(a);
  auto model = make_model(*file);
  refuse_attention_flags(a, *model);
  if (a.has("--ctx") && !model->takes_attention_policy())
    fail("--ctx: not supported for this model (a fixed-size state has no context limit)");
  if (so.ctx == 0)
    so.ctx = std::max(model->config().ctx_len, spec.fill + spec.n_prompt + spec.n_gen);
  // Long runs (a large --fill, many reps, big batches) show their progress on stderr.
  ProgressOptions popt;
  popt.final_line = false;
  ProgressReporter progress("bench", "reps", spec.reps + 1, popt);
  spec.progress = [&](int64_t done, int64_t total) { progress.update(done, total); };
  const BenchResult r = a.has("--taylor") ? bench_taylor(*model, threads, a.str("--taylor"),
                                                         a.has("--mixer-only"), spec)
                                          : bench_generation(*model, so, spec);
  progress.finish();
  print_result(a, *file, spec, r, threads);
  if (!json.empty()) {
    BenchRecord rec;
    rec.model_path = file->path;
    rec.arch = arch_name(file->config.arch);
    rec.dtype = a.has("--dtype") ? a.str("--dtype") : "as stored";
    rec.isa = isa_name(selected_isa());
    for (const TensorRef& t : file->tensors) rec.n_params += static_cast<double>(t.numel());
    rec.weight_bytes = file->weight_bytes();
    rec.threads = threads;
    rec.taylor = a.str("--taylor");
    write_text_file("--json", json, bench_json(rec, spec, r) + "\n");
  }
  return 0;
}

}  // namespace lc::cli
