#include "bench_batch.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "attention_flags.h"
#include "based_cli.h"
#include "common.h"
#include "core/cpu.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "core/timer.h"
#include "eval/json_writer.h"
#include "git_commit.h"
#include "linear/taylor.h"
#include "model/based.h"
#include "model/llama.h"
#include "runtime/based_session.h"
#include "runtime/batch_session.h"
#include "runtime/sampler.h"
#include "runtime/session.h"

namespace lc::cli {

namespace {

struct Summary {
  double median = 0, p10 = 0, p90 = 0;
};

Summary summarize(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  auto q = [&](double p) {
    double idx = p * static_cast<double>(v.size() - 1);
    size_t lo = static_cast<size_t>(std::floor(idx)), hi = static_cast<size_t>(std::ceil(idx));
    return v[lo] + (v[hi] - v[lo]) * (idx - static_cast<double>(lo));
  };
  return {q(0.5), q(0.1), q(0.9)};
}

struct Spec {
  int64_t batch, n_prompt, n_gen, reps, fill;
  uint64_t seed;
  int threads;
};

Spec read_spec(const Args& a) {
  Spec s;
  s.batch = a.integer("--batch", 1, 1, 1 << 20);
  // --prompt 0 (batch runs after --fill): no per-sequence prefill; decoding starts from random
  // tokens, so a large batch is not prefilled sequence by sequence.
  s.n_prompt = a.integer("--prompt", 128, 0, 1 << 24);
  s.n_gen = a.integer("--gen", 64, 1, 1 << 24);
  s.reps = a.integer("--reps", 5, 1, 10000);
  s.fill = a.integer("--fill", 0, 0, int64_t{1} << 40);
  s.seed = static_cast<uint64_t>(a.integer("--seed", 1, 0, INT64_MAX));
  s.threads = threads_flag(a);
  return s;
}

std::vector<int> random_prompt(int64_t n, int64_t vocab, uint64_t seed) {
  Rng rng(seed);
  std::vector<int> p(static_cast<size_t>(n));
  for (auto& t : p) t = static_cast<int>(rng.next_u32() % static_cast<uint32_t>(vocab));
  return p;
}

double rel_diff(const float* a, const float* b, int64_t n) {
  double mx = 0, d = 0;
  for (int64_t i = 0; i < n; ++i) {
    mx = std::max(mx, static_cast<double>(std::fabs(b[i])));
    d = std::max(d, static_cast<double>(std::fabs(a[i] - b[i])));
  }
  return d / std::max(mx, 1e-30);
}

// Correctness before timing: 3 sequences decoded together, after prompts of 5, 6 and 7 tokens,
// give the logits that a lone session computes by prefilling the same 6, 7 and 8 tokens.
template <class BatchS, class Alone>
double batch_check(BatchS& batch, Alone& alone, int64_t vocab, uint64_t seed) {
  const std::vector<int> toks = random_prompt(8, vocab, seed + 99);
  int next[3];
  for (int64_t s = 0; s < 3; ++s) {
    batch.prefill(s, toks.data(), 5 + s);
    next[s] = toks[5 + s];
  }
  const float* l = batch.decode(next);
  std::vector<float> rows(l, l + 3 * vocab);
  double worst = 0;
  for (int64_t s = 0; s < 3; ++s) {
    alone.reset();
    const float* want = alone.prefill(toks.data(), 6 + s);
    worst = std::max(worst, rel_diff(rows.data() + s * vocab, want, vocab));
  }
  return worst;
}

int prompt_free_token(int64_t seq, int64_t vocab) {
  return static_cast<int>((seq * 7919 + 13) % vocab);
}

struct Timings {
  Summary prefill, decode;  // tokens/s over all sequences
  double fill_seconds = 0;  // median per rep
};

// reps after one warm-up: reset, fill every sequence to --fill, prefill each sequence's prompt
// (sequence after sequence), then --gen decode steps, each one forward over all sequences.
template <class BatchS>
Timings time_batch(BatchS& s, const Spec& sp, int64_t vocab) {
  const std::vector<int> prompt = random_prompt(sp.n_prompt, vocab, sp.seed);
  std::vector<int> next(static_cast<size_t>(sp.batch));
  std::vector<double> pre, dec, fills;
  for (int64_t r = -1; r < sp.reps; ++r) {  // r == -1 is the warm-up
    s.reset();
    const double tf = now_seconds();
    if (sp.fill > 0)
      for (int64_t q = 0; q < sp.batch; ++q)
        s.fill_random(q, sp.fill, sp.seed + 17 + static_cast<uint64_t>((r + 1) * sp.batch + q));
    const double t0 = now_seconds();
    for (int64_t q = 0; q < sp.batch; ++q)
      next[q] = sp.n_prompt > 0 ? Sampler::argmax(s.prefill(q, prompt.data(), sp.n_prompt), vocab)
                                : prompt_free_token(q, vocab);
    const double t1 = now_seconds();
    for (int64_t i = 0; i < sp.n_gen; ++i) {
      const float* l = s.decode(next.data());
      for (int64_t q = 0; q < sp.batch; ++q) next[q] = Sampler::argmax(l + q * vocab, vocab);
    }
    const double t2 = now_seconds();
    if (r >= 0) {
      fills.push_back(t0 - tf);
      if (sp.n_prompt > 0) pre.push_back(static_cast<double>(sp.batch * sp.n_prompt) / (t1 - t0));
      dec.push_back(static_cast<double>(sp.batch * sp.n_gen) / (t2 - t1));
    }
  }
  return {summarize(pre), summarize(dec), summarize(fills).median};
}

double n_params(const ModelFile& f) {
  double n = 0;
  for (const TensorRef& t : f.tensors) n += static_cast<double>(t.numel());
  return n;
}

struct Report {
  std::string arch, label, fill_kind, taylor;
  const ModelFile* file;
  Spec spec;
  int64_t ctx;
  size_t state_per_seq, workspace;
  double check;
  Timings t;
  bool has_decode = true;
};

void print_report(const Args& a, const Report& r) {
  const double mib = 1 << 20;
  std::printf("model       %s (%s, %.1f M params, %.1f MiB weights, dtype %s)\n",
              r.file->path.c_str(), r.arch.c_str(), n_params(*r.file) / 1e6,
              static_cast<double>(r.file->weight_bytes()) / mib,
              a.has("--dtype") ? a.str("--dtype").c_str() : "as stored");
  std::printf("mixer       %s\n", r.label.c_str());
  std::printf("state       %zu bytes per sequence (%.2f MiB%s); batch %lld: %.2f MiB total; "
              "block scratch %.2f MiB\n",
              r.state_per_seq, static_cast<double>(r.state_per_seq) / mib,
              r.arch == "based" ? ", independent of context length" : ", KV cache",
              static_cast<long long>(r.spec.batch),
              static_cast<double>(r.state_per_seq) * static_cast<double>(r.spec.batch) / mib,
              static_cast<double>(r.workspace) / mib);
  std::printf("threads %d, isa %s, correctness check (batched decode, or quadratic vs chunked) %.1e\n", r.spec.threads,
              isa_name(selected_isa()), r.check);
  if (r.spec.fill > 0)
    std::printf("context     --fill %lld: %s (%.2f s per rep, untimed)\n",
                static_cast<long long>(r.spec.fill), r.fill_kind.c_str(), r.t.fill_seconds);
  std::printf("| test          | tokens (all seqs) | tok/s median | p10      | p90      |\n");
  std::printf("|---------------|-------------------|--------------|----------|----------|\n");
  if (r.spec.n_prompt > 0)
    std::printf("| prefill       | %17lld | %12.1f | %8.1f | %8.1f |\n",
              static_cast<long long>(r.spec.batch * r.spec.n_prompt), r.t.prefill.median,
              r.t.prefill.p10, r.t.prefill.p90);
  if (r.has_decode)
    std::printf("| decode        | %17lld | %12.1f | %8.1f | %8.1f |\n",
                static_cast<long long>(r.spec.batch * r.spec.n_gen), r.t.decode.median,
                r.t.decode.p10, r.t.decode.p90);
  std::printf("peak RSS    %.1f MiB (%lld reps after 1 warm-up)\n",
              static_cast<double>(peak_rss_bytes()) / mib, static_cast<long long>(r.spec.reps));
  const std::string json = a.str("--json");
  if (json.empty()) return;
  const std::string tmp = json + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) fail("--json: cannot open '", json, "' for writing");
  auto sm = [](const Summary& s) {
    char b[160];
    std::snprintf(b, sizeof b, "{\"tok_s_median\": %.3f, \"tok_s_p10\": %.3f, \"tok_s_p90\": %.3f}",
                  s.median, s.p10, s.p90);
    return std::string(b);
  };
  std::fprintf(
      f,
      "{\"model\": %s, \"arch\": \"%s\", \"mixer\": %s, \"n_params\": %.0f, \"weight_bytes\": "
      "%zu, \"dtype\": %s, \"threads\": %d, \"isa\": \"%s\", \"commit\": \"%s\",\n"
      " \"batch\": %lld, \"fill\": %lld, \"fill_kind\": %s, \"ctx\": %lld, \"taylor\": %s,\n"
      " \"state_bytes_per_seq\": %zu, \"state_bytes_total\": %zu, \"workspace_bytes\": %zu,\n"
      " \"prompt_tokens_per_seq\": %lld, \"gen_tokens_per_seq\": %lld, \"reps\": %lld,\n"
      " \"prefill\": %s,\n \"decode\": %s,\n \"peak_rss_bytes\": %zu, \"check_rel_err\": %.3e}\n",
      json_quote(r.file->path).c_str(), r.arch.c_str(), json_quote(r.label).c_str(),
      n_params(*r.file), r.file->weight_bytes(),
      json_quote(a.has("--dtype") ? a.str("--dtype") : "as stored").c_str(), r.spec.threads,
      isa_name(selected_isa()), LONGCTX_GIT_COMMIT, static_cast<long long>(r.spec.batch),
      static_cast<long long>(r.spec.fill), json_quote(r.fill_kind).c_str(),
      static_cast<long long>(r.ctx), json_quote(r.taylor).c_str(), r.state_per_seq,
      r.state_per_seq * static_cast<size_t>(r.spec.batch), r.workspace,
      static_cast<long long>(r.spec.n_prompt), static_cast<long long>(r.spec.n_gen),
      static_cast<long long>(r.spec.reps), sm(r.t.prefill).c_str(),
      r.has_decode ? sm(r.t.decode).c_str() : "null", peak_rss_bytes(), r.check);
  const bool ok = std::fclose(f) == 0;
  if (!ok || std::rename(tmp.c_str(), json.c_str()) != 0) {
    std::remove(tmp.c_str());
    fail("--json: writing '", json, "' failed");
  }
}

// --taylor chunked|quadratic: prefill only, the whole prompt in one block from a fresh state, so
// that the two forms differ in nothing else. --mixer-only times just the linear-attention core at
// the model's shape (H heads, feature dim f, value dim d/H) on random q, k, v.
int bench_taylor(const Args& a, const ModelFile& file, const Spec& sp) {
  const std::string form = a.str("--taylor");
  if (form != "chunked" && form != "quadratic")
    fail("--taylor: expected chunked or quadratic, got '", form, "'");
  const bool quadratic = form == "quadratic";
  if (a.has("--fill") || a.has("--batch"))
    fail("--taylor: times a single fresh prefill (no --fill, no --batch)");
  BasedModel model(file);
  const ModelConfig& c = model.config();
  const int64_t vocab = model.vocab_size(), n = sp.n_prompt;
  BasedSessionOptions so;
  so.n_threads = sp.threads;
  // Correctness before timing: the two forms agree on a short prompt.
  double check;
  {
    const std::vector<int> toks = random_prompt(24, vocab, sp.seed + 5);
    so.block_tokens = 24;
    BasedSession chunked(model, so);
    std::vector<float> want(static_cast<size_t>(vocab));
    const float* l = chunked.prefill(toks.data(), 24);
    std::copy(l, l + vocab, want.begin());
    so.taylor = TaylorForm::Quadratic;
    BasedSession quad(model, so);
    check = rel_diff(quad.prefill(toks.data(), 24), want.data(), vocab);
    if (!(check < 1e-3))
      fail("correctness check failed: quadratic and chunked Taylor prefill differ (relative ",
           check, ")");
  }
  Report r{"based", "", "", form, &file, sp, n, 0, 0, check, {}, false};
  std::vector<double> tps;
  if (a.has("--mixer-only")) {
    const TaylorShape ts{c.based.linear_heads, c.based.feature_dim,
                         c.d_model / c.based.linear_heads};
    r.label = "linear-attention core only (" + std::to_string(ts.n_heads) + " heads, f " +
              std::to_string(ts.feature_dim) + ", dv " + std::to_string(ts.head_dim) + "), " +
              form;
    ThreadPool pool(sp.threads);
    Rng rng(sp.seed);
    const int64_t qk = ts.n_heads * ts.feature_dim, dv = ts.n_heads * ts.head_dim;
    AlignedBuffer<float> q(static_cast<size_t>(n * qk)), k(q.size()), v(static_cast<size_t>(n * dv)),
        out(v.size());
    for (size_t i = 0; i < q.size(); ++i) q[i] = rng.normal(), k[i] = rng.normal();
    for (size_t i = 0; i < v.size(); ++i) v[i] = rng.normal();
    TaylorState state(ts);
    AlignedBuffer<float> scratch(static_cast<size_t>(taylor_scratch_floats(ts, 64, sp.threads)));
    r.workspace = scratch.bytes();
    for (int64_t rep = -1; rep < sp.reps; ++rep) {
      state.reset();
      const double t0 = now_seconds();
      if (quadratic)
        taylor_quadratic(pool, ts, q.data(), k.data(), v.data(), n, out.data());
      else
        taylor_prefill(pool, state, q.data(), k.data(), v.data(), n, 64, out.data(),
                       scratch.data());
      if (rep >= 0) tps.push_back(static_cast<double>(n) / (now_seconds() - t0));
    }
  } else {
    so.block_tokens = n;
    so.taylor = quadratic ? TaylorForm::Quadratic : TaylorForm::Chunked;
    BasedSession s(model, so);
    r.label = "whole model, prompt in one block, Taylor " + form;
    r.state_per_seq = s.state_bytes();
    r.workspace = s.workspace_bytes();
    const std::vector<int> prompt = random_prompt(n, vocab, sp.seed);
    for (int64_t rep = -1; rep < sp.reps; ++rep) {
      s.reset();
      const double t0 = now_seconds();
      s.prefill(prompt.data(), n);
      if (rep >= 0) tps.push_back(static_cast<double>(n) / (now_seconds() - t0));
    }
  }
  r.spec.batch = 1;
  r.t.prefill = summarize(tps);
  print_report(a, r);
  return 0;
}

}  // namespace

const char* const kBenchFlags[] = {"-m",     "-t",     "--prompt", "--gen",  "--reps",
                                   "--json", "--ctx",  "--dtype",  "--seed", "--fill",
                                   "--batch", "--taylor", nullptr};

int bench_batch_llama(const Args& a, const ModelFile& file) {
  if (a.has("--taylor")) fail("--taylor: applies to BASED models only");
  const Spec sp = read_spec(a);
  if (sp.n_prompt == 0 && sp.fill == 0) fail("--prompt 0: needs --fill N (a context to decode)");
  const AttentionConfig attn = parse_attention(a, /*allow_many=*/false).front();
  LlamaModel model(file);
  const ModelConfig& c = model.config();
  const int64_t vocab = c.vocab_size;
  int64_t ctx = a.integer("--ctx", 0, 1, 1 << 26);
  if (ctx == 0) ctx = std::max(c.ctx_len, sp.fill + sp.n_prompt + sp.n_gen);
  SessionOptions so;
  so.n_threads = sp.threads;
  so.attn = attn;
  double check;
  {  // small caches: the check runs 8 positions
    so.ctx = 16;
    BatchSession small(model, so, 3);
    Session alone(model, so);
    check = batch_check(small, alone, vocab, sp.seed);
  }
  if (!(check < 1e-3))
    fail("correctness check failed: batched decode and a lone prefill differ (relative ", check,
         ")");
  so.ctx = ctx;
  BatchSession s(model, so, sp.batch);
  if (sp.fill + sp.n_prompt + sp.n_gen > s.capacity())
    fail("--fill + --prompt + --gen = ", sp.fill + sp.n_prompt + sp.n_gen,
         " exceeds the context of ", s.capacity(), " (raise --ctx)");
  Report r{"llama", s.policy().label(),
           "random keys/values stand in for positions [0, fill) of every sequence (no prefill)",
           "", &file, sp, ctx, s.cache_bytes_per_seq(), 0, check, {}, true};
  r.t = time_batch(s, sp, vocab);
  print_report(a, r);
  return 0;
}

int bench_batch_based(const Args& a, const ModelFile& file) {
  refuse_attention_flags_for_based(a);
  if (a.has("--ctx")) fail("--ctx: not supported for BASED models (no context limit)");
  const Spec sp = read_spec(a);
  if (a.has("--taylor")) {
    if (sp.n_prompt < 1) fail("--taylor: --prompt must be at least 1");
    return bench_taylor(a, file, sp);
  }
  if (sp.n_prompt == 0 && sp.fill == 0) fail("--prompt 0: needs --fill N (a context to decode)");
  BasedModel model(file);
  const int64_t vocab = model.vocab_size();
  BasedSessionOptions so;
  so.n_threads = sp.threads;
  double check;
  {
    BasedBatchSession small(model, so, 3);
    BasedSession alone(model, so);
    check = batch_check(small, alone, vocab, sp.seed);
  }
  if (!(check < 1e-3))
    fail("correctness check failed: batched decode and a lone prefill differ (relative ", check,
         ")");
  BasedBatchSession s(model, so, sp.batch);
  Report r{"based", "BASED (Taylor linear attention + sliding window + BaseConv)",
           "random recurrent state stands in for positions [0, fill) of every sequence (no "
           "prefill; fixed-size state, so a decode costs the same as after a real prefill)",
           "chunked", &file, sp, sp.fill + sp.n_prompt + sp.n_gen, s.state_bytes_per_seq(),
           s.workspace_bytes(), check, {}, true};
  r.t = time_batch(s, sp, vocab);
  print_report(a, r);
  return 0;
}

}  // namespace lc::cli
