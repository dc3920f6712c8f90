// longctx ppl: per-position NLL and perplexity of long documents, one continuous sequence per
// document (or one long stream, or strided windows), for one or more attention configurations.
// Protocol: ../shared/specs/evals.md; library: src/eval/ppl_run.h.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "attention_flags.h"
#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/file_io.h"
#include "eval/json_writer.h"
#include "eval/perplexity.h"
#include "eval/ppl_run.h"
#include "eval_common.h"
#include "model/registry.h"

namespace lc::cli {

namespace {

const char* kHelp =
    "usage: longctx ppl -m MODEL [-z TOK] -f TEXT [-f TEXT2 ...] [--max-len N] [--bin B]\n"
    "                   [--stream N] [--stride S [--ctx N]] [attention flags]\n"
    "                   [--json FILE] [--plot FILE.png] [-t THREADS] [--dtype D]\n"
    "  Each document is tokenized (BOS first where the tokenizer adds one) and scored as one\n"
    "  continuous sequence (no restart at the trained context), up to --max-len tokens\n"
    "  (default: all). A model with a fixed-size recurrent state (BASED) is scored over that\n"
    "  state (no attention flags).\n"
    "  --bin B      NLL bin width in positions (default 128)\n"
    "  --stream N   score one stream of N tokens: BOS + the documents concatenated, cycled\n"
    "  --stride S   windowed perplexity instead: windows of the trained context advanced by S,\n"
    "               scoring only new tokens (Hugging Face style); stride = window gives\n"
    "               non-overlapping windows, each from an empty cache\n"
    "  --ctx N      strided window length instead of the trained context (e.g. 512, as\n"
    "               llama-perplexity -c 512)\n"
    "  --attn LIST  comma-separated configurations, each scored in turn, e.g.\n"
    "               full,window,lambda,lambda:D=none,full:D=512\n";

PplOptions read_options(const Args& a) {
  constexpr int64_t kMaxTokens = int64_t{1} << 40;
  PplOptions o;
  o.n_threads = threads_flag(a);
  o.bin = a.integer("--bin", 128, 1, 1 << 30);
  o.max_len = a.integer("--max-len", 0, 2, kMaxTokens);
  o.stream = a.integer("--stream", 0, 2, kMaxTokens);
  o.stride = a.integer("--stride", 0, 1, 1 << 30);
  o.window = a.integer("--ctx", 0, 2, 1 << 30);
  if (o.window && !o.stride) fail("--ctx applies to --stride only (the strided window length)");
  if (o.stream && o.stride) fail("--stream and --stride are mutually exclusive");
  if (o.stream && o.max_len) fail("--max-len does not apply to --stream (its length is N)");
  return o;
}

void print_summary(const PplResult& r) {
  std::fprintf(stderr, "%s: %lld tokens in %.1f s (%.0f tok/s), peak RSS %.1f MiB\n",
               r.label.c_str(), static_cast<long long>(r.stats.count()), r.seconds,
               static_cast<double>(r.stats.count()) / r.seconds,
               static_cast<double>(r.peak_rss) / (1 << 20));
  if (r.rss_bytes.size() <= 2) return;
  // From the second sample on (after the first 5%, the bounded caches are full).
  const auto [lo, hi] = std::minmax_element(r.rss_bytes.begin() + 1, r.rss_bytes.end());
  std::fprintf(stderr,
               "%s: resident memory from 5%% to 100%% of the stream: %.1f..%.1f MiB (spread "
               "%.1f%%)\n",
               r.label.c_str(), static_cast<double>(*lo) / (1 << 20),
               static_cast<double>(*hi) / (1 << 20),
               100.0 * static_cast<double>(*hi - *lo) / static_cast<double>(*lo));
}

}  // namespace

int cmd_ppl(int argc, char** argv) {
  std::vector<std::string> flags = {"-m",       "-z",    "-f",     "--max-len", "--bin", "--stream",
                                    "--stride", "--ctx", "--json", "--plot",    "-t",    "--dtype"};
  for (const auto& f : attention_value_flags()) flags.push_back(f);
  Args a("ppl", flags, {"--help"}, {"-f"});
  a.parse(argc, argv, 2);
  if (a.has("--help")) {
    std::fputs(kHelp, stdout);
    std::fputs(attention_flags_help().c_str(), stdout);
    return 0;
  }
  // Validate every flag before loading anything.
  const PplOptions opt = read_options(a);
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
  const auto model = make_model(*file);
  refuse_attention_flags(a, *model);  // a fixed-state model has one configuration
  const ModelConfig& c = model->config();
  if (opt.stride && !opt.window && c.ctx_len <= 0)
    fail(
        "--stride: the model's trained context is unknown (its config does not give one); "
        "strided windows are as long as the trained context unless --ctx N is given");
  if (opt.stride && opt.stride > opt.window_for(c.ctx_len))
    fail("--stride: ", opt.stride, " exceeds the window (",
         opt.window ? "--ctx " : "the trained context ", opt.window_for(c.ctx_len), ")");
  const std::vector<PplDoc> docs = tokenize_documents(*tok, paths, std::move(texts), opt);

  std::vector<PplResult> results;
  for (const AttentionConfig& attn : configs) {
    ProgressLine progress(attn.label());
    results.push_back(run_ppl(*model, attn, docs, tok->bos_id(), opt,
                              [&](int64_t done, int64_t total) { progress.update(done, total); }));
    progress.finish();
    print_summary(results.back());
  }

  std::printf("model %s, %zu document(s), mode %s, bin %lld, trained context %lld\n\n",
              file->path.c_str(), docs.size(), opt.mode(), static_cast<long long>(opt.bin),
              static_cast<long long>(c.ctx_len));
  std::fputs(ppl_tables(results, opt.mode()).c_str(), stdout);
  const RunInfo info = make_run_info("ppl", a, *file, opt.n_threads, argc, argv);
  if (!json.empty())
    write_text_file("--json", json,
                    ppl_json(info, c, model->takes_attention_policy(), opt, docs, results));
  if (!plot.empty()) write_ppl_plot(plot, c, opt, docs.size(), results);
  return 0;
}

}  // namespace lc::cli
