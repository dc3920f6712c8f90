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
#include "runtime/batch_session.h"
#include "runtime/sampler.h"

namespace lc::cli {

void refuse_attention_flags_for_based(const Args& a) {
  for (const auto& f : attention_value_flags())
    if (a.has(f))
      fail(f, ": attention flags do not apply to BASED models (their sliding-window and linear "
              "attention layers are fixed by config.json)");
}

void print_batch(const std::string& prompt, const std::vector<std::string>& texts) {
  for (size_t s = 0; s < texts.size(); ++s) {
    std::printf("--- sequence %zu ---\n", s);
    std::fwrite(prompt.data(), 1, prompt.size(), stdout);
    std::fwrite(texts[s].data(), 1, texts[s].size(), stdout);
    std::fputc('\n', stdout);
  }
  std::fflush(stdout);
}

void print_batch_stats(const GenerateStats& st, int64_t batch) {
  std::fprintf(stderr, "prompt: %lld tokens x %lld sequences, %.1f tokens/s\n",
               static_cast<long long>(st.n_prompt), static_cast<long long>(batch),
               st.prefill_seconds > 0 ? st.n_prompt * batch / st.prefill_seconds : 0.0);
  std::fprintf(stderr, "generation: %lld tokens over %lld sequences, %.1f tokens/s in total\n",
               static_cast<long long>(st.n_generated), static_cast<long long>(batch),
               st.decode_seconds > 0 ? st.n_generated / st.decode_seconds : 0.0);
}

int run_based(const Args& a, const ModelFile& file, const std::string& prompt,
              const GenerateOptions& g) {
  refuse_attention_flags_for_based(a);
  auto tok = load_tokenizer_for(a, file);
  BasedModel model(file);
  BasedSessionOptions so;
  so.n_threads = threads_flag(a);
  if (a.has("--batch")) {
    const int64_t batch = a.integer("--batch", 1, 1, 1 << 16);
    BasedBatchSession batched(model, so, batch);
    std::vector<std::string> texts;
    const GenerateStats st =
        generate_batch(batched, *tok, tok->encode(prompt, /*add_bos=*/true), g, &texts);
    print_batch(prompt, texts);
    if (a.has("--verbose")) print_batch_stats(st, batch);
    return 0;
  }
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
