// Perplexity evaluations (../shared/specs/evals.md, "Per-position perplexity on long
// documents"): each document scored as one continuous sequence (no restart at the trained
// length), a single long stream made by cycling the documents, and the usual strided-window
// perplexity for comparison with other tools. All of them accumulate NLL sums on the fly
// (eval/nll.h); no logits beyond one block are ever held.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "attention/config.h"
#include "eval/nll.h"
#include "runtime/session.h"

namespace lc {

// Rejects input that cannot be a text document: empty, containing NUL bytes, or with more than
// 1% of its bytes in invalid UTF-8 sequences. `name` (a path) appears in the message.
void check_text_input(const std::string& name, const std::string& bytes);
// Bytes that are not part of a valid UTF-8 sequence (overlongs, surrogates and > U+10FFFF count
// as invalid).
int64_t invalid_utf8_bytes(const std::string& bytes);

// Session options for an evaluation of sequences up to `max_tokens` long: an unbounded (full)
// cache gets exactly max_tokens positions; bounded policies and recurrent states ignore ctx.
SessionOptions eval_session_options(const AttentionConfig& attn, int64_t max_tokens, int n_threads);

// Called after each block with (tokens scored so far, total to score).
using Progress = std::function<void(int64_t done, int64_t total)>;

// Each scorer is a Session appended block by block (Session::forward_all).
// Scores tokens[0..n) as one sequence from position 0 (tokens[0] is normally BOS): adds the NLL
// of tokens[1..n) at positions 1..n-1, then stats.end_sequence(n).
void score_sequence(Session& scorer, const int* tokens, int64_t n, NllStats& stats,
                    const Progress& progress = {});

// The same scores as a vector: nll[p - 1] is the NLL of tokens[p] at position p (1 <= p < n).
// For callers that score documents apart and merge later (the Python sweeps).
std::vector<double> sequence_nll(Session& scorer, const int* tokens, int64_t n,
                                 const Progress& progress = {});
// Adds such a vector of an n_tokens-long sequence to stats exactly as score_sequence would have.
void add_sequence_nll(NllStats& stats, const double* nll, int64_t n_tokens);

// A stream of n tokens: BOS, then the concatenation of `docs` (tokenized without BOS), cycled as
// often as needed. Scored as one sequence like score_sequence.
void score_stream(Session& scorer, int bos, const std::vector<std::vector<int>>& docs, int64_t n,
                  NllStats& stats, const Progress& progress = {});

// Windowed perplexity as in Hugging Face's "perplexity of fixed-length models": windows of
// `window` tokens starting at 0, stride, 2*stride, ...; each window is a fresh sequence and only
// the tokens not scored by an earlier window are scored (the first token of a window never is).
// Positions are indices in the document. stride <= window.
void score_strided(Session& scorer, const int* tokens, int64_t n, int64_t window, int64_t stride,
                   NllStats& stats, const Progress& progress = {});

}  // namespace lc
