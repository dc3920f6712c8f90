// One `ppl` evaluation (../shared/specs/evals.md): documents tokenized, each attention
// configuration scored over them (one continuous sequence per document, one cycled stream with
// resident-memory samples, or strided windows), and the reports: markdown tables, the JSON
// record and the NLL-by-position plot.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "attention/config.h"
#include "eval/nll.h"
#include "eval/report.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace lc {

struct PplOptions {
  int64_t bin = 128;    // NLL bin width in positions
  int64_t max_len = 0;  // tokens per document (0 = all)
  int64_t stream = 0;   // > 0: one stream of this many tokens
  int64_t stride = 0;   // > 0: strided windows advanced by this many tokens
  int64_t window = 0;   // strided window length (0 = the trained context)
  int n_threads = 2;
  // Strided window length for a model trained on ctx_len tokens.
  int64_t window_for(int64_t ctx_len) const { return window ? window : ctx_len; }
  const char* mode() const { return stream ? "stream" : stride ? "strided" : "documents"; }
};

struct PplDoc {
  std::string path;
  int64_t tokens_total = 0;  // before --max-len
  std::vector<int> tokens;
};

struct PplResult {
  AttentionConfig attn;
  std::string label;  // resolved
  NllStats stats;
  double seconds = 0;
  size_t state_bytes = 0, peak_rss = 0;
  // Stream mode: resident memory sampled at every 5% of the stream, to show it stays constant.
  std::vector<int64_t> rss_tokens, rss_bytes;
};

// Tokenizes each text (BOS first except in stream mode), truncated to max_len; fails naming a
// document with fewer than 2 tokens (nothing to score).
std::vector<PplDoc> tokenize_documents(const Tokenizer& tok, const std::vector<std::string>& paths,
                                       std::vector<std::string> texts, const PplOptions& opt);

// Scores every document under `attn` (a Session per configuration). progress(done, total) is
// called after each block.
PplResult run_ppl(const Model& model, const AttentionConfig& attn, const std::vector<PplDoc>& docs,
                  int bos, const PplOptions& opt,
                  const std::function<void(int64_t, int64_t)>& progress);

// The result run_ppl gives in documents mode, assembled from each document's NLL vector
// (sequence_nll, one per document in order) scored apart, e.g. by workers of a distributed sweep:
// every number equal to run_ppl's but the timing and memory, which the caller passes.
PplResult ppl_result_from_nll(const AttentionConfig& attn, const std::string& label,
                              const std::vector<PplDoc>& docs,
                              const std::vector<std::vector<double>>& nll, const PplOptions& opt,
                              size_t state_bytes, double seconds, size_t peak_rss);

// Summary per configuration (perplexity at landmark lengths, tok/s, state MiB) and mean NLL by
// position (bins merged to at most ~32 rows).
std::string ppl_tables(const std::vector<PplResult>& results, const char* mode);
std::string ppl_json(const RunInfo& info, const ModelConfig& cfg, bool takes_policy,
                     const PplOptions& opt, const std::vector<PplDoc>& docs,
                     const std::vector<PplResult>& results);
void write_ppl_plot(const std::string& path, const ModelConfig& cfg, const PplOptions& opt,
                    size_t n_docs, const std::vector<PplResult>& results);

}  // namespace lc
