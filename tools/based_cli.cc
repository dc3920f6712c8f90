#include "based_cli.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "attention_flags.h"
#include "common.h"
#include "core/aligned.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/rng.h"
#include "core/timer.h"
#include "model/based.h"
#include "runtime/based_session.h"
#include "runtime/sampler.h"

namespace lc::cli {

void refuse_attention_flags_for_based(const Args& a) {
  for (const auto& f : attention_value_flags())
    if (a.has(f))
      fail(f, ": attention flags do not apply to BASED models (their sliding-window and linear "
              "attention layers are fixed by config.json)");
}

int run_based(const Args& a, const ModelFile& file, const std::string& prompt,
              const GenerateOptions& g) {
  refuse_attention_flags_for_based(a);
  auto tok = load_tokenizer_for(a, file);
  BasedModel model(file);
  BasedSessionOptions so;
  so.n_threads = threads_flag(a);
  BasedSession session(model, so);
  std::vector<int> tokens = tok->encode(prompt, /*add_bos=*/true);
  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  GenerateStats st = generate(session, *tok, tokens, g, [](const std::string& piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  });
  std::fputc('\n', stdout);
  std::fflush(stdout);
  if (a.has("--verbose")) {
    std::fprintf(stderr, "prompt: %lld tokens, %.1f tokens/s\n",
                 static_cast<long long>(st.n_prompt),
                 st.prefill_seconds > 0 ? st.n_prompt / st.prefill_seconds : 0.0);
    std::fprintf(stderr, "generation: %lld tokens, %.1f tokens/s\n",
                 static_cast<long long>(st.n_generated),
                 st.decode_seconds > 0 ? st.n_generated / st.decode_seconds : 0.0);
  }
  return 0;
}

int bench_based(const Args& a, const ModelFile& file) {
  refuse_attention_flags_for_based(a);
  for (const char* f : {"--fill", "--json", "--ctx"})
    if (a.has(f)) fail(f, ": not supported for BASED models");
  const int64_t n_prompt = a.integer("--prompt", 128, 1, 1 << 24);
  const int64_t n_gen = a.integer("--gen", 64, 1, 1 << 24);
  const int64_t reps = a.integer("--reps", 5, 1, 10000);
  const uint64_t seed = static_cast<uint64_t>(a.integer("--seed", 1, 0, INT64_MAX));
  BasedModel model(file);
  BasedSessionOptions so;
  so.n_threads = threads_flag(a);
  BasedSession session(model, so);
  const int64_t vocab = model.vocab_size();
  Rng rng(seed);
  std::vector<int> prompt(static_cast<size_t>(n_prompt));
  for (auto& t : prompt) t = static_cast<int>(rng.next_u32() % static_cast<uint32_t>(vocab));
  // Correctness before timing: prefill's last logits == token-by-token decode's.
  const int64_t nc = std::min<int64_t>(8, n_prompt);
  std::vector<float> full(static_cast<size_t>(vocab));
  const float* l = session.prefill(prompt.data(), nc);
  std::copy(l, l + vocab, full.begin());
  session.reset();
  for (int64_t i = 0; i < nc; ++i) l = session.decode(prompt[i]);
  double mx = 0, diff = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    mx = std::max(mx, static_cast<double>(std::fabs(full[i])));
    diff = std::max(diff, static_cast<double>(std::fabs(full[i] - l[i])));
  }
  const double mismatch = diff / std::max(mx, 1e-30);
  if (!(mismatch < 1e-3))
    fail("correctness check failed: prefill and decode logits differ (relative ", mismatch, ")");
  std::vector<double> pre, dec;
  for (int64_t r = -1; r < reps; ++r) {  // r == -1 is the warm-up
    session.reset();
    const double t0 = now_seconds();
    const float* logits = session.prefill(prompt.data(), n_prompt);
    const double t1 = now_seconds();
    for (int64_t i = 0; i < n_gen; ++i) logits = session.decode(Sampler::argmax(logits, vocab));
    const double t2 = now_seconds();
    if (r >= 0) {
      pre.push_back(static_cast<double>(n_prompt) / (t1 - t0));
      dec.push_back(static_cast<double>(n_gen) / (t2 - t1));
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  };
  std::printf("model       %s (BASED, %.1f MiB weights)\n", file.path.c_str(),
              static_cast<double>(file.weight_bytes()) / (1 << 20));
  std::printf("state       %zu bytes per sequence (%.2f MiB, independent of context length)\n",
              session.state_bytes(), static_cast<double>(session.state_bytes()) / (1 << 20));
  std::printf("threads %d, prefill/decode check %.1e\n", so.n_threads, mismatch);
  std::printf("| test          | tokens | tok/s median |\n");
  std::printf("|---------------|--------|--------------|\n");
  std::printf("| prefill       | %6lld | %12.1f |\n", static_cast<long long>(n_prompt), median(pre));
  std::printf("| decode        | %6lld | %12.1f |\n", static_cast<long long>(n_gen), median(dec));
  std::printf("peak RSS    %.1f MiB (%lld reps after 1 warm-up)\n",
              static_cast<double>(peak_rss_bytes()) / (1 << 20), static_cast<long long>(reps));
  return 0;
}

int logits_based(const Args& a, const ModelFile& file, const std::vector<int64_t>& ids) {
  BasedModel model(file);
  std::vector<int> tokens;
  if (a.has("-p")) {
    tokens = load_tokenizer_for(a, file)->encode(a.str("-p"), true);
  } else {
    for (int64_t id : ids) {
      if (id >= model.vocab_size())
        fail("--tokens: id ", id, " is out of range [0, ", model.vocab_size(), ")");
      tokens.push_back(static_cast<int>(id));
    }
  }
  BasedSessionOptions so;
  so.n_threads = threads_flag(a);
  BasedSession session(model, so);
  const int64_t n = static_cast<int64_t>(tokens.size());
  AlignedBuffer<float> logits(static_cast<size_t>(n * model.vocab_size()));
  session.all_logits(tokens.data(), n, logits.data());
  const std::string out = a.str("--out");
  if (out.empty()) {
    if (std::fwrite(logits.data(), sizeof(float), logits.size(), stdout) != logits.size())
      fail("logits: write to stdout failed");
    return 0;
  }
  write_file_atomic("--out", out, {{logits.data(), logits.bytes()}});
  std::fprintf(stderr, "wrote %lld x %lld logits to %s\n", static_cast<long long>(n),
               static_cast<long long>(model.vocab_size()), out.c_str());
  return 0;
}

}  // namespace lc::cli
