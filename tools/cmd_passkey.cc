// longctx passkey: passkey retrieval accuracy per prompt length and needle depth, plus the
// teacher-forced NLL of the key, for one or more attention configurations.
// Protocol: ../shared/specs/evals.md; library: src/eval/passkey.h.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "attention_flags.h"
#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/parse.h"
#include "eval/json_writer.h"
#include "eval/passkey.h"
#include "eval/plot_png.h"
#include "eval_common.h"
#include "model/registry.h"

namespace lc::cli {

namespace {

const char* kHelp =
    "usage: longctx passkey -m MODEL [-z TOK] --lengths 1024,2048,... [--samples N]\n"
    "                       [--digits D] [--seed S] [--ctx N] [attention flags]\n"
    "                       [--json FILE] [--plot FILE.png] [-t THREADS] [--dtype D]\n"
    "  Prompts of at most each target length (filler repeated, the needle at a random depth);\n"
    "  greedy answer of up to 7 tokens, correct when its first integer is the key. Also reports\n"
    "  the mean NLL of the key tokens given the prompt (teacher-forced).\n"
    "  --samples N  prompts per length (default 10)\n"
    "  --digits D   key uniform in [1, 10^D - 1] (default 7)\n"
    "  --ctx N      limit of the full-attention KV cache (default: the longest prompt + answer)\n"
    "  --plot F     key NLL vs length to F, accuracy vs length to F with '-accuracy' before .png\n"
    ;

constexpr int kBuckets = 5;

std::string accuracy_plot_path(const std::string& p) {
  const std::string ext = ".png";
  if (p.size() > ext.size() && p.compare(p.size() - ext.size(), ext.size(), ext) == 0)
    return p.substr(0, p.size() - ext.size()) + "-accuracy.png";
  return p + "-accuracy.png";
}

}  // namespace

int cmd_passkey(int argc, char** argv) {
  std::vector<std::string> flags = {"-m",     "-z",     "--lengths", "--samples", "--digits", "--seed",
                                    "--json", "--plot", "-t",        "--dtype",   "--ctx"};
  for (const auto& f : attention_value_flags()) flags.push_back(f);
  Args a("passkey", flags, {"--help"});
  a.parse(argc, argv, 2);
  if (a.has("--help")) {
    std::fputs(kHelp, stdout);
    std::fputs(kAttentionFlagsHelp, stdout);
    return 0;
  }
  PasskeyOptions opt;
  opt.n_threads = threads_flag(a);
  opt.lengths = parse_int_list("--lengths", a.required("--lengths"), 1, int64_t{1} << 30);
  opt.samples = a.integer("--samples", 10, 1, 1 << 20);
  opt.digits = static_cast<int>(a.integer("--digits", 7, 1, 18));
  opt.seed = static_cast<uint64_t>(a.integer("--seed", 1, 0, INT64_MAX));
  opt.full_ctx = a.integer("--ctx", 0, 1, int64_t{1} << 30);
  opt.depth_buckets = kBuckets;
  const std::vector<AttentionConfig> configs = parse_attention(a, /*allow_many=*/true);
  const std::string json = a.str("--json"), plot = a.str("--plot");
  check_output_file("--json", json);
  check_output_file("--plot", plot);

  auto file = load_model(a);
  auto tok = load_tokenizer_for(a, *file);
  const auto model = make_model(*file);
  refuse_attention_flags(a, *model);
  const ModelConfig& c = model->config();

  // Reject lengths below the prompt overhead before running anything (the largest key has the
  // most digits, so it has the largest overhead).
  uint64_t max_key = 1;
  for (int d = 0; d < opt.digits; ++d) max_key *= 10;
  for (int64_t len : opt.lengths) build_passkey_prompt(*tok, len, max_key - 1, 0.0);

  std::vector<PasskeyResult> results;
  for (const AttentionConfig& attn : configs) {
    ProgressLine progress(attn.label());
    PasskeyResult r = run_passkey(*model, *tok, attn, opt, [&](int64_t done, int64_t total) {
      progress.update(done, total);
    });
    progress.finish();
    std::fprintf(stderr, "%s: %zu prompts in %.1f s\n", r.label.c_str(), r.samples.size(),
                 r.seconds);
    results.push_back(std::move(r));
  }

  std::printf("model %s, %lld samples per length, %d-digit keys, seed %llu, trained context %lld\n\n",
              file->path.c_str(), static_cast<long long>(opt.samples), opt.digits,
              static_cast<unsigned long long>(opt.seed), static_cast<long long>(c.ctx_len));
  std::printf("| attention | target length | prompt tokens | accuracy | key NLL (nats/token) |");
  for (int b = 0; b < kBuckets; ++b) std::printf(" depth %d-%d%% |", b * 100 / kBuckets, (b + 1) * 100 / kBuckets);
  std::printf("\n|---|---:|---:|---:|---:|");
  for (int b = 0; b < kBuckets; ++b) std::printf("---:|");
  std::printf("\n");
  for (const auto& r : results)
    for (const auto& l : r.per_length) {
      std::printf("| %s | %lld | %.0f | %lld/%lld | %.3f |", r.label.c_str(),
                  static_cast<long long>(l.target_len), l.mean_prompt_tokens,
                  static_cast<long long>(l.correct), static_cast<long long>(l.total), l.mean_key_nll);
      for (int b = 0; b < kBuckets; ++b)
        std::printf(" %lld/%lld |", static_cast<long long>(l.bucket_correct[b]),
                    static_cast<long long>(l.bucket_total[b]));
      std::printf("\n");
    }

  if (!json.empty()) {
    JsonWriter j;
    j.begin_object();
    write_run_info(j, make_run_info("passkey", a, *file, opt.n_threads, argc, argv), c);
    j.member("samples_per_length", opt.samples).member("digits", opt.digits);
    j.member("seed", opt.seed).member("max_new_tokens", opt.max_new_tokens);
    j.member("depth_buckets", opt.depth_buckets).array("lengths", opt.lengths);
    j.key("results").begin_array();
    for (const auto& r : results) {
      j.begin_object();
      j.key("attention");
      write_attention(j, r.attn, c.ctx_len);
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
        j.member("key_tokens", s.key_tokens).member("key_nll", s.key_nll).end_object();
      }
      j.end_array();
      j.end_object();
    }
    j.end_array();
    j.end_object();
    write_text_file("--json", json, j.str());
  }
  if (!plot.empty()) {
    PlotSpec spec;
    spec.log2_x = true;
    spec.markers = true;
    spec.x_marks = {static_cast<double>(c.ctx_len)};
    spec.x_label = "prompt length (tokens); dashed: trained context " + std::to_string(c.ctx_len);
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
    write_png(plot, render_line_plot(spec, nll));
    spec.title = "Passkey retrieval accuracy";
    spec.y_label = "accuracy";
    spec.y_min = 0;
    spec.y_max = 1.05;
    write_png(accuracy_plot_path(plot), render_line_plot(spec, acc));
  }
  return 0;
}

}  // namespace lc::cli
