#include "eval/perplexity.h"

#include <algorithm>

#include "core/error.h"

namespace lc {

namespace {

// Feeds positions [0, n_in) of a sequence whose token at index i is given by fill(start, count,
// out) and scores the predictions of tokens 1..n_in (n_in + 1 tokens in all): sink(position,
// nll) for each, in position order.
template <typename Fill, typename Sink>
void score_blocks(Session& scorer, int64_t n_tokens, int64_t score_from, Sink&& sink,
                  int64_t position_offset, const Progress& progress, Fill&& fill) {
  const int64_t vocab = scorer.vocab_size(), block = scorer.max_block(), n_in = n_tokens - 1;
  std::vector<int> buf(static_cast<size_t>(block + 1));
  for (int64_t start = 0; start < n_in;) {
    const int64_t b = std::min(block, n_in - start);
    fill(start, b + 1, buf.data());
    const float* logits = scorer.forward_all(buf.data(), b);
    for (int64_t r = 0; r < b; ++r) {
      const int64_t target = start + r + 1;
      if (target < score_from) continue;
      sink(position_offset + target, token_nll(logits + r * vocab, vocab, buf[r + 1]));
    }
    start += b;
    if (progress) progress(start, n_in);
  }
}

// NllStats::add as a score_blocks sink.
auto adder(NllStats& stats) {
  return [&stats](int64_t position, double nll) { stats.add(position, nll); };
}

}  // namespace

SessionOptions eval_session_options(const AttentionConfig& attn, int64_t max_tokens,
                                    int n_threads) {
  check(max_tokens >= 1, "evaluation: max_tokens must be >= 1");
  SessionOptions so;
  so.n_threads = n_threads;
  so.attn = attn;
  so.ctx = max_tokens;
  return so;
}

int64_t invalid_utf8_bytes(const std::string& s) {
  int64_t bad = 0;
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = len > 0 && i + len <= n;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; ok && k < len; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      ok = (d >> 6) == 2;
      cp = (cp << 6) | (d & 0x3F);
    }
    if (ok) {
      static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= min_cp[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    }
    if (ok) {
      i += static_cast<size_t>(len);
    } else {
      ++bad;
      ++i;
    }
  }
  return bad;
}

void check_text_input(const std::string& name, const std::string& bytes) {
  if (bytes.empty()) fail("'", name, "' is empty (expected a text document)");
  if (bytes.find('\0') != std::string::npos)
    fail("'", name, "' looks binary (contains NUL bytes); expected a UTF-8 text document");
  const int64_t bad = invalid_utf8_bytes(bytes);
  if (bad * 100 > static_cast<int64_t>(bytes.size()))
    fail("'", name, "' looks binary: ", bad, " of ", bytes.size(),
         " bytes are not valid UTF-8 (more than 1%); expected a UTF-8 text document");
}

void score_sequence(Session& scorer, const int* tokens, int64_t n, NllStats& stats,
                    const Progress& progress) {
  check(n >= 2, "a sequence to score needs at least 2 tokens (BOS and one more), got ", n);
  scorer.reset();
  score_blocks(scorer, n, 1, adder(stats), 0, progress,
               [&](int64_t start, int64_t count, int* out) {
                 std::copy(tokens + start, tokens + start + count, out);
               });
  stats.end_sequence(n);
}

std::vector<double> sequence_nll(Session& scorer, const int* tokens, int64_t n,
                                 const Progress& progress) {
  check(n >= 2, "a sequence to score needs at least 2 tokens (BOS and one more), got ", n);
  std::vector<double> nll;
  nll.reserve(static_cast<size_t>(n - 1));
  scorer.reset();
  score_blocks(
      scorer, n, 1, [&](int64_t, double v) { nll.push_back(v); }, 0, progress,
      [&](int64_t start, int64_t count, int* out) {
        std::copy(tokens + start, tokens + start + count, out);
      });
  return nll;
}

void add_sequence_nll(NllStats& stats, const double* nll, int64_t n_tokens) {
  for (int64_t p = 1; p < n_tokens; ++p) stats.add(p, nll[p - 1]);
  stats.end_sequence(n_tokens);
}

void score_stream(Session& scorer, int bos, const std::vector<std::vector<int>>& docs, int64_t n,
                  NllStats& stats, const Progress& progress) {
  check(n >= 2, "--stream: needs at least 2 tokens, got ", n);
  int64_t total = 0;
  for (const auto& d : docs) total += static_cast<int64_t>(d.size());
  check(total > 0, "--stream: the documents have no tokens");
  // A cursor over the cycled concatenation; fill() is called with increasing starts, and each
  // call re-reads the previous block's last token (the first target of the next block).
  size_t doc = 0, off = 0;
  int last = bos;
  int64_t next_index = 1;  // stream index of the token at (doc, off)
  auto next_token = [&]() {
    while (off >= docs[doc].size()) {
      doc = (doc + 1) % docs.size();
      off = 0;
    }
    return docs[doc][off++];
  };
  scorer.reset();
  score_blocks(scorer, n, 1, adder(stats), 0, progress,
               [&](int64_t start, int64_t count, int* out) {
                 // out[0] is the token at `start`: BOS at 0, otherwise the last token handed out.
                 out[0] = start == 0 ? bos : last;
                 check(start == 0 || start + 1 == next_index, "score_stream: non-sequential read");
                 for (int64_t i = 1; i < count; ++i) out[i] = next_token();
                 next_index = start + count;
                 last = out[count - 1];
               });
  stats.end_sequence(n);
}

void score_strided(Session& scorer, const int* tokens, int64_t n, int64_t window, int64_t stride,
                   NllStats& stats, const Progress& progress) {
  check(n >= 2, "a sequence to score needs at least 2 tokens, got ", n);
  check(window >= 2 && stride >= 1 && stride <= window, "--stride: need 1 <= stride (", stride,
        ") <= window (", window, ")");
  int64_t prev_end = 0;
  for (int64_t begin = 0; prev_end < n; begin += stride) {
    const int64_t end = std::min(begin + window, n);
    scorer.reset();
    // Targets are the window's tokens at document index >= prev_end (window index >= 1).
    const int64_t score_from = std::max<int64_t>(1, prev_end - begin);
    score_blocks(scorer, end - begin, score_from, adder(stats), begin, {},
                 [&](int64_t start, int64_t count, int* out) {
                   std::copy(tokens + begin + start, tokens + begin + start + count, out);
                 });
    prev_end = end;
    if (progress) progress(end - 1, n - 1);
  }
  stats.end_sequence(n);
}

}  // namespace lc
