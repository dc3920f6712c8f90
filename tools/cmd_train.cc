// longctx train: trains a small Llama-style or BASED-style model on the CPU (src/train/) on
// byte-level text (--data FILE: vocabulary 256 bytes + BOS 256) or on the MQAR task
// (../shared/specs/mqar.md, src/data/mqar.h), prints a progress line per step on stderr (loss,
// learning rate, gradient norm, tokens/s; src/train/train_run.h) and, with -o DIR, exports the
// weights as a Hugging Face directory that `longctx run/ppl/bench/logits` load (Llama family or
// BASED).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/progress.h"
#include "core/thread_pool.h"
#include "data/mqar.h"
#include "eval/json_writer.h"
#include "tokenizer/byte_level.h"
#include "train/export.h"
#include "train/layers.h"
#include "train/model.h"
#include "train/optim.h"
#include "train/train_run.h"
#include "train/trainer.h"

namespace lc::cli {

static_assert(train::ByteBatches::kBos == kByteLevelSpecialId &&
              train::ByteBatches::kVocab == kByteLevelVocab);

namespace {

constexpr const char* kHelp =
    "usage: longctx train --arch llama|based (--data FILE | --task mqar --vocab V --pairs P)\n"
    "                     [--dim D --layers L --heads NH --kv-heads NKV --hidden H]\n"
    "                     [--mixers MIX --window W --linear-heads LH --feature-dim F]\n"
    "                     [--untied] [--steps N --batch B --seq-len T --lr X --warmup N]\n"
    "                     [--weight-decay X --clip X --seed S -t THREADS] [-o DIR]\n"
    "                     [--val-frac F --eval-every N --val-batches N] [--log-every N]\n"
    "                     [--json FILE] [--matmul-precision highest|high]\n"
    "  --data FILE    byte-level language modelling (vocab 257: bytes + BOS 256); repeat the\n"
    "                 flag for several documents (joined by a blank line); -o also writes a\n"
    "                 byte-level tokenizer.json\n"
    "  --val-frac F   hold out the last F of every --data document; validation loss (nats and\n"
    "                 bits per byte) every --eval-every steps and at the end, over at most\n"
    "                 --val-batches batches of held-out windows (default 8)\n"
    "  --json FILE    the run as JSON: settings, per-step loss/lr/gnorm/tok/s, validation\n"
    "  --matmul-precision  highest (default): f32 products on the FMA kernels; high: 'bf16x3'\n"
    "                 on AMX tiles (each f32 operand as two bf16 parts, error ~3 * 2^-16 of\n"
    "                 sum |a b| instead of f32's; torch's float32_matmul_precision('high')),\n"
    "                 an error where the CPU or OS has no AMX\n"
    "  --task mqar    multi-query associative recall; --vocab V, --pairs P, --seq-len T\n"
    "  --mixers MIX   one letter per layer: a attention, w sliding window (--window W keys),\n"
    "                 l Taylor linear attention, c BaseConv (llama: a or w only; default all a,\n"
    "                 based default 'cl'); --hidden 0 = no MLP (the MQAR models)\n"
    "  -o DIR         export a Hugging Face directory (Llama family or BASED) after training\n"
    "  defaults: --dim 64 --layers 2 --heads 4 --hidden 4*dim (llama) / 0 (based)\n"
    "            --steps 100 --batch 8 --seq-len 128 --lr 1e-3 --warmup steps/10\n"
    "            --weight-decay 0.1 --clip 1.0 --seed 1 -t 2\n";

// The model: --arch, the sizes and the mixers (vocab_size is set by the data).
train::TrainConfig config_from_flags(const Args& a) {
  train::TrainConfig c;
  c.arch = train::parse_train_arch(a.str("--arch", "llama"));
  c.d_model = a.integer("--dim", 64, 2, 1 << 14);
  c.n_layers = a.integer("--layers", 2, 1, 256);
  c.n_heads = a.integer("--heads", 4, 1, 1 << 10);
  c.n_kv_heads = a.integer("--kv-heads", c.n_heads, 1, 1 << 10);
  c.hidden = a.integer("--hidden", c.arch == Arch::Llama ? 4 * c.d_model : 0, 0, 1 << 18);
  c.mixers = a.has("--mixers") ? train::parse_mixers(a.str("--mixers"))
                               : train::default_mixers(c.arch, c.n_layers);
  c.window = a.integer("--window", 0, 0, 1 << 20);
  c.linear_heads = a.integer("--linear-heads", 4, 1, 1 << 10);
  c.feature_dim = a.integer("--feature-dim", 8, 1, 64);
  c.tied = !a.has("--untied");
  return c;
}

train::AdamWConfig optim_from_flags(const Args& a, int64_t steps) {
  train::AdamWConfig oc;
  oc.lr = a.number("--lr", 1e-3, 1e-8, 10.0);
  oc.warmup_steps = a.integer("--warmup", steps / 10, 0, steps);
  oc.total_steps = steps;
  oc.weight_decay = a.number("--weight-decay", 0.1, 0.0, 10.0);
  oc.clip_norm = a.number("--clip", 1.0, 0.0, 1e9);
  return oc;
}

// What the model trains on (--task mqar or --data FILE ...): the batches, the held-out text
// (--val-frac) and how the export describes the tokens. Sets c->vocab_size.
struct TrainData {
  std::unique_ptr<train::BatchSource> batches;
  std::string held_out;
  train::ExportOptions export_options;
};

TrainData data_from_flags(const Args& a, int64_t seq_len, uint64_t seed, double val_frac,
                          train::TrainConfig* c) {
  TrainData d;
  d.export_options.ctx_len = seq_len;
  if (a.has("--task")) {
    MqarSpec s;
    s.vocab = a.integer("--vocab", 8192, 4, 1 << 24);
    s.seq_len = seq_len;
    s.pairs = a.integer("--pairs", 4, 1, 1 << 20);
    c->vocab_size = s.vocab;
    d.batches = std::make_unique<train::MqarBatches>(s, seed);
    return d;
  }
  if (a.has("--vocab") || a.has("--pairs")) fail("--vocab/--pairs apply to --task mqar only");
  c->vocab_size = train::ByteBatches::kVocab;
  d.export_options.bos_id = d.export_options.eos_id = train::ByteBatches::kBos;
  d.export_options.byte_tokenizer = true;
  std::vector<std::string> docs;
  for (const std::string& path : a.all("--data")) docs.push_back(read_text_file("--data", path));
  std::string train_text;
  train::split_documents(docs, val_frac, &train_text, &d.held_out);
  d.batches = std::make_unique<train::ByteBatches>(std::move(train_text), seed);
  return d;
}

// --val-frac: validation windows of the held-out text (null without --val-frac).
std::unique_ptr<train::ByteValidation> validation_from_flags(const Args& a, double val_frac,
                                                             const std::string& held_out,
                                                             int64_t batch, int64_t seq_len) {
  if (val_frac <= 0) return nullptr;
  auto val = std::make_unique<train::ByteValidation>(held_out, batch, seq_len,
                                                     a.integer("--val-batches", 8, 1, 1 << 20));
  if (val->batches() == 0)
    fail("--val-frac ", val_frac, ": the held-out text (", held_out.size(),
         " bytes) is shorter than one batch of ", batch, " x ", seq_len, " tokens");
  return val;
}

void write_train_json(const std::string& path, int argc, char** argv,
                      const train::TrainModel<float>& model, const train::TrainLog& log) {
  std::string cmd = "longctx";
  for (int i = 1; i < argc; ++i) cmd += std::string(" ") + argv[i];
  JsonWriter j;
  j.begin_object().member("command", cmd).member("arch", arch_name(model.config().arch));
  j.member("parameters", model.n_params()).member("tokens_per_s", log.tokens_per_s);
  j.member("matmul_precision",
           train::matmul_precision() == train::MatmulPrecision::kHigh ? "high" : "highest");
  j.key("steps").begin_array();
  for (const train::StepStats& s : log.steps) {
    j.begin_object().member("step", s.step).member("loss", s.loss).member("lr", s.lr);
    j.member("grad_norm", s.grad_norm).member("tokens_per_s", s.tokens_per_s).end_object();
  }
  j.end_array().key("validation").begin_array();
  for (const auto& [step, loss] : log.val)
    j.begin_object().member("step", step).member("loss", loss).end_object();
  j.end_array().end_object();
  write_text_file("--json", path, j.str());
}

}  // namespace

int cmd_train(int argc, char** argv) {
  Args a("train",
         {"--arch",
          "--data",
          "--task",
          "--vocab",
          "--pairs",
          "--dim",
          "--layers",
          "--heads",
          "--kv-heads",
          "--hidden",
          "--mixers",
          "--window",
          "--linear-heads",
          "--feature-dim",
          "--steps",
          "--batch",
          "--seq-len",
          "--lr",
          "--warmup",
          "--weight-decay",
          "--clip",
          "--seed",
          "-t",
          "-o",
          "--val-frac",
          "--eval-every",
          "--val-batches",
          "--log-every",
          "--json",
          "--matmul-precision"},
         {"--untied", "--help"}, {"--data"});
  a.parse(argc, argv, 2);
  if (a.has("--help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  train::TrainConfig c = config_from_flags(a);
  const std::string precision = a.str("--matmul-precision", "highest");
  if (precision != "highest" && precision != "high")
    fail("--matmul-precision: expected highest or high, got '", precision, "'");
  train::set_matmul_precision(precision == "high" ? train::MatmulPrecision::kHigh
                                                  : train::MatmulPrecision::kHighest);
  const bool mqar = a.has("--task");
  if (mqar && a.str("--task") != "mqar") fail("--task: expected mqar, got '", a.str("--task"), "'");
  if (mqar == a.has("--data")) fail("give exactly one of --data FILE or --task mqar");
  const int64_t T = a.integer("--seq-len", 128, 2, 1 << 16);
  const int64_t B = a.integer("--batch", 8, 1, 1 << 16);
  train::TrainRunOptions ro;
  ro.steps = a.integer("--steps", 100, 1, int64_t{1} << 40);
  const uint64_t seed = static_cast<uint64_t>(a.integer("--seed", 1, 0, INT64_MAX));
  const train::AdamWConfig oc = optim_from_flags(a, ro.steps);
  const int threads = threads_flag(a);
  const double val_frac = a.number("--val-frac", 0.0, 0.0, 0.9);
  if (val_frac > 0 && mqar) fail("--val-frac applies to --data only");
  ro.log_every = a.integer("--log-every", 1, 1, int64_t{1} << 40);
  TrainData data = data_from_flags(a, T, seed, val_frac, &c);
  train::validate(c);
  // Outputs are written after training: refuse an unwritable path before spending the run.
  check_output_file("--json", a.str("--json"));
  check_output_dir("-o", a.str("-o"));
  ThreadPool pool(threads);
  train::TrainModel<float> model(c, B, T, seed);
  train::AdamW opt(oc, model.params());
  std::fprintf(stderr, "%s\n", train::train_heading(model, threads).c_str());
  const auto val = validation_from_flags(a, val_frac, data.held_out, B, T);
  ro.eval_every =
      a.integer("--eval-every", std::max<int64_t>(1, ro.steps / 10), 1, int64_t{1} << 40);
  // Steps done / total and tokens/s: a live line on a terminal (the step lines print above it),
  // a plain line every 10 s in a log; the summary below replaces its final line.
  ProgressOptions po;
  po.rate_unit = "tokens";
  po.rate_per_item = static_cast<double>(B * T);
  po.final_line = false;
  ProgressReporter progress("train", "steps", ro.steps, po);
  const train::TrainLog log =
      train::run_training(pool, model, *data.batches, opt, ro, val.get(),
                          {[&](const std::string& line) { progress.note(line); },
                           [&](int64_t step) { progress.update(step); }});
  progress.finish();
  std::fprintf(stderr, "%s\n", train::train_summary(log).c_str());
  if (a.has("--json")) write_train_json(a.str("--json"), argc, argv, model, log);
  if (a.has("-o")) {
    train::export_hf_dir(model, data.export_options, a.str("-o"));
    std::fprintf(stderr, "wrote %s\n", a.str("-o").c_str());
  }
  return 0;
}

}  // namespace lc::cli
