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
#include "eval/passkey_report.h"
#include "eval_common.h"
#include "model/registry.h"

namespace lc::cli {

namespace {

const char* kHelp =
    "usage: longctx passkey -m MODEL [-z TOK] --lengths 1024,2048,... [--samples N]\n"
    "                       [--digits D] [--seed S] [--ctx N] [attention flags]\n"
    "                       [--json FILE] [--plot FILE.png] [-t THREADS] [--dtype D]\n"
    "                       [--chat [--template FILE]] [--depths D1,D2,...]\n"
    "  Prompts of at most each target length (filler repeated, the needle at a random depth);\n"
    "  greedy answer of up to 7 tokens (plus one per extra token the key takes), stopping once\n"
    "  its first integer is complete; correct when that integer is the key. Also reports\n"
    "  the mean NLL of the key tokens given the prompt (teacher-forced).\n"
    "  --samples N  prompts per length (default 10)\n"
    "  --depths L   fixed needle depths in [0, 1) (0 = right after the task): sample i takes\n"
    "               depth i mod the list's size, so --samples = seeds x depths (default: each\n"
    "               sample draws its own depth)\n"
    "  --digits D   key uniform in [1, 10^D - 1] (default 7)\n"
    "  --ctx N      limit of the full-attention KV cache (default: the longest prompt + answer)\n"
    "  --chat       an instruct model's prompt: the task and the text as one user message through\n"
    "               the model's chat template (or --template FILE), the answer begun as the\n"
    "               assistant's turn ('The pass key is'); lengths count the template's tokens\n"
    "  --plot F     key NLL vs length to F, accuracy vs length to F with '-accuracy' before .png\n";

constexpr int kBuckets = 5;

}  // namespace

int cmd_passkey(int argc, char** argv) {
  std::vector<std::string> flags = {"-m",     "-z",         "--lengths", "--samples", "--digits",
                                    "--seed", "--json",     "--plot",    "-t",        "--dtype",
                                    "--ctx",  "--template", "--depths"};
  for (const auto& f : attention_value_flags()) flags.push_back(f);
  Args a("passkey", flags, {"--help", "--chat"});
  a.parse(argc, argv, 2);
  if (a.has("--help")) {
    std::fputs(kHelp, stdout);
    std::fputs(attention_flags_help().c_str(), stdout);
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
  if (a.has("--depths")) {
    opt.depths = parse_float_list("--depths", a.str("--depths"), 0.0, 1.0);
    check_passkey_depths(opt.depths, "--depths");
  }
  const std::vector<AttentionConfig> configs = parse_attention(a, /*allow_many=*/true);
  const std::string json = a.str("--json"), plot = a.str("--plot");
  check_output_file("--json", json);
  check_output_file("--plot", plot);

  auto file = load_model(a);
  auto tok = load_tokenizer_for(a, *file);
  if (a.has("--template") && !a.has("--chat")) fail("--template: only with --chat");
  if (a.has("--chat")) opt.chat = chat_template_for(a, *file);
  const auto model = make_model(*file);
  refuse_attention_flags(a, *model);
  const ModelConfig& c = model->config();

  check_passkey_lengths(*tok, opt);  // before running anything

  std::vector<PasskeyResult> results;
  for (const AttentionConfig& attn : configs) {
    ProgressLine progress(attn.label(), "prompts");
    PasskeyResult r = run_passkey(*model, *tok, attn, opt, [&](int64_t done, int64_t total) {
      progress.update(done, total);
    });
    progress.finish();
    std::fprintf(stderr, "%s: %zu prompts in %.1f s\n", r.label.c_str(), r.samples.size(),
                 r.seconds);
    results.push_back(std::move(r));
  }

  std::printf(
      "model %s, %lld samples per length, %d-digit keys, seed %llu, trained context %lld\n\n",
      file->path.c_str(), static_cast<long long>(opt.samples), opt.digits,
      static_cast<unsigned long long>(opt.seed), static_cast<long long>(c.ctx_len));
  std::fputs(passkey_table(results, opt).c_str(), stdout);
  const RunInfo info = make_run_info("passkey", a, *file, opt.n_threads, argc, argv);
  if (!json.empty())
    write_text_file("--json", json,
                    passkey_json(info, c, model->takes_attention_policy(), opt, results));
  if (!plot.empty()) write_passkey_plots(plot, c, opt, results);
  return 0;
}

}  // namespace lc::cli
