#include "eval/bench.h"

#include <algorithm>
#include <cmath>

#include "attention/flash.h"
#include "core/aligned.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "core/timer.h"
#include "git_commit.h"
#include "linear/taylor.h"
#include "ops/amx/amx.h"
#include "ops/amx/flash_amx.h"
#include "ops/ops.h"
#include "runtime/batch_session.h"
#include "runtime/sampler.h"

namespace lc {

namespace {

std::vector<int> random_prompt(int64_t n, int64_t vocab, uint64_t seed) {
  Rng rng(seed);
  std::vector<int> p(static_cast<size_t>(n));
  for (auto& t : p) t = static_cast<int>(rng.next_u32() % static_cast<uint32_t>(vocab));
  return p;
}

// max |a - b| / max |b|.
double rel_diff(const float* a, const float* b, int64_t n) {
  double mx = 0, d = 0;
  for (int64_t i = 0; i < n; ++i) {
    mx = std::max(mx, static_cast<double>(std::fabs(b[i])));
    d = std::max(d, static_cast<double>(std::fabs(a[i] - b[i])));
  }
  return d / std::max(mx, 1e-30);
}

// The checks compare two paths through the same model that differ in the order of some f32 sums
// (attention kernels, batching). Their logits agree to 1e-3 of the largest, except where the
// products round activations to bf16 (ops::activations_rounded_to_bf16: a bf16 model on AMX),
// which amplifies a last-bit difference into a moved rounding step: SmolLM2 bf16 measured 0.75%
// (batched decode vs a lone prefill) and 1.4% (decode vs prefill rows when they summed in different
// orders). A wrong cache row or sequence moves the logits by tens of percent, so 5% still catches
// those.
double check_tolerance() { return ops::activations_rounded_to_bf16() ? 5e-2 : 1e-3; }

void require(double check, const char* what) {
  if (!(check < check_tolerance()))
    fail("correctness check failed: ", what, " differ (relative ", check, ", tolerance ",
         check_tolerance(), ")");
}

// The last logits of a short prefix fed in different pieces, which must agree to rounding: one
// prefill vs two of half the rows (each block of >= kFlashMinRows rows takes the tiled attention
// kernel, whose result for a row does not depend on the rows beside it), and token-by-token
// decode vs prefills of fewer rows than that (the row kernels). The two kernels sum in different
// orders; with a quantized model's int8 activations a last-bit difference can move a rounding
// step and the logits by a few percent, so the tiled prefill is checked against decode by the
// attention tests (attention_flash_test.cc), not here.
double prefill_decode_check(Session& s, const std::vector<int>& toks) {
  const int64_t n = std::min<int64_t>(2 * kFlashMinRows, static_cast<int64_t>(toks.size()));
  const int64_t V = s.vocab_size(), half = n / 2;
  auto pieces = [&](int64_t piece) {
    s.reset();
    const float* l = nullptr;
    for (int64_t i = 0; i < n; i += piece) {
      const int64_t m = std::min(piece, n - i);
      l = m == 1 ? s.decode(toks[i]) : s.prefill(toks.data() + i, m);
    }
    return std::vector<float>(l, l + V);
  };
  const std::vector<float> whole = pieces(n), halves = pieces(std::max<int64_t>(1, half));
  const std::vector<float> rows = pieces(kFlashMinRows - 1), decode = pieces(1);
  return std::max(rel_diff(halves.data(), whole.data(), V),
                  rel_diff(decode.data(), rows.data(), V));
}

// 3 sequences decoded together, after prompts of 5, 6 and 7 tokens, give the logits that a lone
// session computes by prefilling the same 6, 7 and 8 tokens.
double batch_check(const Model& model, SessionOptions so, uint64_t seed) {
  so.ctx = std::min<int64_t>(so.ctx, 16);  // small caches: the check runs 8 positions
  BatchSession batch(model, so, 3);
  Session alone(model, so);
  const int64_t V = model.vocab_size();
  const std::vector<int> toks = random_prompt(8, V, seed + 99);
  int next[3];
  for (int64_t s = 0; s < 3; ++s) {
    batch.prefill(s, toks.data(), 5 + s);
    next[s] = toks[5 + s];
  }
  const float* l = batch.decode(next);
  const std::vector<float> rows(l, l + 3 * V);
  double worst = 0;
  for (int64_t s = 0; s < 3; ++s) {
    alone.reset();
    worst = std::max(worst, rel_diff(rows.data() + s * V, alone.prefill(toks.data(), 6 + s), V));
  }
  return worst;
}

// A sequence's first decode token when there is no prompt (--prompt 0 after --fill).
int prompt_free_token(int64_t seq, int64_t vocab) {
  return static_cast<int>((seq * 7919 + 13) % vocab);
}

// reps after one warm-up: reset, fill every sequence to --fill, prefill each sequence's prompt
// (one after another), then --gen decode steps, each one forward over all sequences.
template <class Run>
void time_reps(const BenchSpec& sp, int64_t seqs, BenchResult* r, Run&& run) {
  std::vector<double> pre, dec, fills;
  for (int64_t rep = -1; rep < sp.reps; ++rep) {  // rep == -1 is the warm-up
    double t[4];
    run(rep, t);
    if (sp.progress) sp.progress(rep + 2, sp.reps + 1);
    if (rep < 0) continue;
    fills.push_back(t[1] - t[0]);
    if (sp.n_prompt > 0) pre.push_back(static_cast<double>(seqs * sp.n_prompt) / (t[2] - t[1]));
    dec.push_back(static_cast<double>(seqs * sp.n_gen) / (t[3] - t[2]));
  }
  r->prefill = spread_of(pre);
  r->decode = spread_of(dec);
  r->fill_seconds = spread_of(fills).median;
}

BenchResult bench_one(const Model& model, const SessionOptions& so, const BenchSpec& sp) {
  if (sp.n_prompt < 1) fail("--prompt 0: only with --batch (after --fill)");
  Session s(model, so);
  const int64_t V = model.vocab_size();
  if (sp.fill + sp.n_prompt + sp.n_gen > s.capacity())
    fail("--fill + --prompt + --gen = ", sp.fill + sp.n_prompt + sp.n_gen,
         " exceeds the context of ", s.capacity(), " (raise --ctx)");
  const std::vector<int> prompt = random_prompt(sp.n_prompt, V, sp.seed);
  BenchResult r;
  r.check = prefill_decode_check(s, prompt);
  require(r.check, "prefill and decode logits");
  time_reps(sp, 1, &r, [&](int64_t rep, double* t) {
    t[0] = now_seconds();
    s.reset();
    if (sp.fill > 0) s.fill_random(sp.fill, sp.seed + 17 + static_cast<uint64_t>(rep + 1));
    t[1] = now_seconds();
    const float* l = s.prefill(prompt.data(), sp.n_prompt);
    t[2] = now_seconds();
    for (int64_t i = 0; i < sp.n_gen; ++i) l = s.decode(Sampler::argmax(l, V));
    t[3] = now_seconds();
  });
  r.label = s.label();
  r.cache_slots = s.cache_slots();
  r.kv_bytes_per_token = s.kv_bytes_per_token();
  r.state_bytes_per_seq = s.state_bytes();
  r.workspace_bytes = s.workspace_bytes();
  r.bounded = s.capacity() == INT64_MAX;
  return r;
}

BenchResult bench_batched(const Model& model, const SessionOptions& so, const BenchSpec& sp) {
  if (sp.n_prompt == 0 && sp.fill == 0) fail("--prompt 0: needs --fill N (a context to decode)");
  BenchResult r;
  r.check = batch_check(model, so, sp.seed);
  require(r.check, "batched decode and a lone prefill");
  BatchSession s(model, so, sp.batch);
  if (sp.fill + sp.n_prompt + sp.n_gen > s.capacity())
    fail("--fill + --prompt + --gen = ", sp.fill + sp.n_prompt + sp.n_gen,
         " exceeds the context of ", s.capacity(), " (raise --ctx)");
  const int64_t V = model.vocab_size();
  const std::vector<int> prompt = random_prompt(sp.n_prompt, V, sp.seed);
  std::vector<int> next(static_cast<size_t>(sp.batch));
  time_reps(sp, sp.batch, &r, [&](int64_t rep, double* t) {
    t[0] = now_seconds();
    s.reset();
    for (int64_t q = 0; q < sp.batch && sp.fill > 0; ++q)
      s.fill_random(q, sp.fill, sp.seed + 17 + static_cast<uint64_t>((rep + 1) * sp.batch + q));
    t[1] = now_seconds();
    for (int64_t q = 0; q < sp.batch; ++q)
      next[q] = sp.n_prompt > 0 ? Sampler::argmax(s.prefill(q, prompt.data(), sp.n_prompt), V)
                                : prompt_free_token(q, V);
    t[2] = now_seconds();
    for (int64_t i = 0; i < sp.n_gen; ++i) {
      const float* l = s.decode(next.data());
      for (int64_t q = 0; q < sp.batch; ++q) next[q] = Sampler::argmax(l + q * V, V);
    }
    t[3] = now_seconds();
  });
  r.label = s.label();
  r.state_bytes_per_seq = s.state_bytes_per_seq();
  r.workspace_bytes = s.workspace_bytes();
  r.bounded = s.capacity() == INT64_MAX;
  return r;
}

// The Taylor core alone at the model's shape, on random q, k, v.
void time_taylor_core(const ModelConfig& c, int n_threads, bool quadratic, const BenchSpec& sp,
                      BenchResult* r, std::vector<double>* tps) {
  const TaylorShape ts{c.based.linear_heads, c.based.feature_dim, c.d_model / c.based.linear_heads};
  const int64_t n = sp.n_prompt, qk = ts.n_heads * ts.feature_dim, dv = ts.n_heads * ts.head_dim;
  r->label = "linear-attention core only (" + std::to_string(ts.n_heads) + " heads, f " +
             std::to_string(ts.feature_dim) + ", dv " + std::to_string(ts.head_dim) + "), " +
             (quadratic ? "quadratic" : "chunked");
  ThreadPool pool(n_threads);
  Rng rng(sp.seed);
  AlignedBuffer<float> q(static_cast<size_t>(n * qk)), k(q.size()), v(static_cast<size_t>(n * dv)),
      out(v.size());
  for (size_t i = 0; i < q.size(); ++i) q[i] = rng.normal(), k[i] = rng.normal();
  for (size_t i = 0; i < v.size(); ++i) v[i] = rng.normal();
  TaylorState state(ts);
  AlignedBuffer<float> scratch(static_cast<size_t>(taylor_scratch_floats(ts, 64, n_threads)));
  r->workspace_bytes = scratch.bytes();
  for (int64_t rep = -1; rep < sp.reps; ++rep) {
    state.reset();
    const double t0 = now_seconds();
    if (quadratic)
      taylor_quadratic(pool, ts, q.data(), k.data(), v.data(), n, out.data());
    else
      taylor_prefill(pool, state, q.data(), k.data(), v.data(), n, 64, out.data(), scratch.data());
    if (rep >= 0) tps->push_back(static_cast<double>(n) / (now_seconds() - t0));
    if (sp.progress) sp.progress(rep + 2, sp.reps + 1);
  }
}

}  // namespace

Spread spread_of(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  auto q = [&](double p) {
    const double idx = p * static_cast<double>(v.size() - 1);
    const size_t lo = static_cast<size_t>(std::floor(idx)),
                 hi = static_cast<size_t>(std::ceil(idx));
    return v[lo] + (v[hi] - v[lo]) * (idx - static_cast<double>(lo));
  };
  return {q(0.5), q(0.1), q(0.9)};
}

BenchResult bench_generation(const Model& model, const SessionOptions& so, const BenchSpec& sp) {
  BenchResult r = sp.batch >= 1 ? bench_batched(model, so, sp) : bench_one(model, so, sp);
  r.ctx = so.ctx;
  return r;
}

BenchResult bench_taylor(const Model& model, int n_threads, const std::string& form,
                         bool mixer_only, const BenchSpec& sp) {
  if (form != "chunked" && form != "quadratic")
    fail("--taylor: expected chunked or quadratic, got '", form, "'");
  const ModelConfig& c = model.config();
  if (c.based.linear_layers.empty() || c.based.linear_heads <= 0 || c.based.feature_dim <= 0)
    fail("--taylor: the model (arch '", arch_name(c.arch),
         "') has no Taylor linear-attention layers");
  if (sp.fill > 0 || sp.batch > 0)
    fail("--taylor: times a single fresh prefill (no --fill, no --batch)");
  if (sp.n_prompt < 1) fail("--taylor: --prompt must be at least 1");
  const bool quadratic = form == "quadratic";
  const int64_t V = model.vocab_size(), n = sp.n_prompt;
  SessionOptions so;
  so.n_threads = n_threads;
  BenchResult r;
  {  // correctness before timing: the two forms agree on a short prompt
    const std::vector<int> toks = random_prompt(24, V, sp.seed + 5);
    so.block_tokens = 24;
    Session chunked(model, so);
    const float* l = chunked.prefill(toks.data(), 24);
    const std::vector<float> want(l, l + V);
    so.taylor = TaylorForm::Quadratic;
    Session quad(model, so);
    r.check = rel_diff(quad.prefill(toks.data(), 24), want.data(), V);
    require(r.check, "quadratic and chunked Taylor prefill");
  }
  r.has_decode = false;
  r.ctx = n;
  r.bounded = true;
  std::vector<double> tps;
  if (mixer_only) {
    time_taylor_core(c, n_threads, quadratic, sp, &r, &tps);
  } else {
    so.block_tokens = n;
    so.taylor = quadratic ? TaylorForm::Quadratic : TaylorForm::Chunked;
    Session s(model, so);
    r.label = "whole model, prompt in one block, Taylor " + form;
    r.state_bytes_per_seq = s.state_bytes();
    r.workspace_bytes = s.workspace_bytes();
    const std::vector<int> prompt = random_prompt(n, V, sp.seed);
    for (int64_t rep = -1; rep < sp.reps; ++rep) {
      s.reset();
      const double t0 = now_seconds();
      s.prefill(prompt.data(), n);
      if (rep >= 0) tps.push_back(static_cast<double>(n) / (now_seconds() - t0));
      if (sp.progress) sp.progress(rep + 2, sp.reps + 1);
    }
  }
  r.prefill = spread_of(tps);
  return r;
}

namespace {

void spread_member(JsonWriter& j, const char* key, const Spread& s, int64_t tokens) {
  j.key(key).begin_object();
  if (tokens >= 0) j.member("tokens", tokens);
  j.member("tok_s_median", s.median).member("tok_s_p10", s.p10).member("tok_s_p90", s.p90);
  j.end_object();
}

}  // namespace

std::string bench_json(const BenchRecord& rec, const BenchSpec& sp, const BenchResult& r) {
  JsonWriter j;
  j.begin_object();
  j.member("model", rec.model_path).member("arch", rec.arch).member("n_params", rec.n_params);
  j.member("weight_bytes", static_cast<uint64_t>(rec.weight_bytes)).member("dtype", rec.dtype);
  j.member("threads", rec.threads).member("isa", rec.isa).member("commit", LONGCTX_GIT_COMMIT);
  // Whether bf16/f16 weights may run on AMX tiles here (docs/design.md, "AMX").
  j.member("amx", ops::amx::enabled());
  // Whether the prefill's attention tiles over bf16 keys and values run on AMX (bf16 compute:
  // ops/amx/flash_amx.h; LONGCTX_AMX_ATTN=0 turns it off).
  j.member("amx_attention", ops::amx::flash_enabled());
  j.member("ctx", r.ctx).member("fill", sp.fill).member("reps", sp.reps);
  if (sp.batch == 0 && rec.taylor.empty()) {  // one sequence (docs/perf, bench/*.py)
    j.member("attn", r.label).member("bounded", r.bounded).member("cache_slots", r.cache_slots);
    j.member("kv_cache_bytes", static_cast<uint64_t>(r.state_bytes_per_seq));
    j.member("kv_bytes_per_token", r.kv_bytes_per_token);
    spread_member(j, "prefill", r.prefill, sp.n_prompt);
    spread_member(j, "decode", r.decode, sp.n_gen);
  } else {
    const int64_t seqs = std::max<int64_t>(1, sp.batch);
    j.member("mixer", r.label).member("batch", seqs).member("taylor", rec.taylor);
    j.member("state_bytes_per_seq", static_cast<uint64_t>(r.state_bytes_per_seq));
    j.member("state_bytes_total", static_cast<uint64_t>(r.state_bytes_per_seq * seqs));
    j.member("workspace_bytes", static_cast<uint64_t>(r.workspace_bytes));
    j.member("prompt_tokens_per_seq", sp.n_prompt).member("gen_tokens_per_seq", sp.n_gen);
    spread_member(j, "prefill", r.prefill, -1);
    if (r.has_decode)
      spread_member(j, "decode", r.decode, -1);
    else
      j.key("decode").null();
  }
  j.member("peak_rss_bytes", static_cast<uint64_t>(peak_rss_bytes()));
  j.member("check_rel_err", r.check).member("check_tolerance", check_tolerance());
  j.end_object();
  return j.str();
}

}  // namespace lc
