#include "eval/passkey.h"

#include <algorithm>
#include <cmath>

#include "chat/chat_format.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/timer.h"
#include "eval/nll.h"
#include "eval/perplexity.h"
#include "runtime/chat_session.h"
#include "runtime/sampler.h"
#include "runtime/session.h"

namespace lc {

const char* const kPasskeyTask =
    "There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. "
    "I will quiz you about the important information there.";
const char* const kPasskeyFiller =
    "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";
const char* const kPasskeyQuestion = "What is the pass key? The pass key is";

std::string passkey_needle(uint64_t key) {
  const std::string k = std::to_string(key);
  return "The pass key is " + k + ". Remember it. " + k + " is the pass key.";
}

std::string passkey_text(int64_t n_fillers, int64_t slot, uint64_t key) {
  check(n_fillers >= 0 && slot >= 0 && slot <= n_fillers, "passkey: slot ", slot, " outside [0, ",
        n_fillers, "]");
  const std::string filler = kPasskeyFiller, needle = passkey_needle(key);
  std::string s = kPasskeyTask;
  s.reserve(s.size() + (filler.size() + 1) * static_cast<size_t>(n_fillers) + 200);
  for (int64_t i = 0; i <= n_fillers; ++i) {
    if (i == slot) (s += ' ') += needle;
    if (i < n_fillers) (s += ' ') += filler;
  }
  (s += ' ') += kPasskeyQuestion;
  return s;
}

std::string passkey_chat_text(const ChatTemplateSource& chat, const std::string& body) {
  const std::string answer_start = "The pass key is";
  check(body.size() > answer_start.size() &&
            body.compare(body.size() - answer_start.size(), answer_start.size(), answer_start) == 0,
        "passkey: the prompt does not end with '", answer_start, "'");
  std::string user = body.substr(0, body.size() - answer_start.size());
  while (!user.empty() && user.back() == ' ') user.pop_back();
  ChatRenderOptions ro;
  ro.bos_token = chat.bos_token;
  ro.eos_token = chat.eos_token;
  return render_chat(chat.source, {{"user", user}}, ro) + answer_start;
}

std::vector<int> passkey_encode(const Tokenizer& tok, const std::string& text,
                                const ChatTemplateSource* chat) {
  return chat ? encode_chat_prompt(tok, text, chat->bos_token) : tok.encode(text, tok.adds_bos());
}

PasskeyPrompt build_passkey_prompt(const Tokenizer& tok, int64_t target_len, uint64_t key,
                                   double depth_u, const ChatTemplateSource* chat) {
  check(depth_u >= 0 && depth_u < 1, "passkey: depth draw ", depth_u, " outside [0, 1)");
  auto make = [&](int64_t n) {
    PasskeyPrompt p;
    p.n_fillers = n;
    p.slot = std::min<int64_t>(
        n, static_cast<int64_t>(std::floor(depth_u * static_cast<double>(n + 1))));
    p.depth = n > 0 ? static_cast<double>(p.slot) / static_cast<double>(n) : 0.0;
    p.text = passkey_text(n, p.slot, key);
    if (chat) p.text = passkey_chat_text(*chat, p.text);
    p.tokens = passkey_encode(tok, p.text, chat);
    return p;
  };
  auto fits = [&](const PasskeyPrompt& p) {
    return static_cast<int64_t>(p.tokens.size()) <= target_len;
  };
  PasskeyPrompt best = make(0);
  if (!fits(best))
    fail("--lengths: ", target_len, " is below the prompt overhead of ", best.tokens.size(),
         " tokens (task, needle and question without filler)");
  // Grow an upper bound that does not fit, then bisect: lo fits, hi does not.
  int64_t lo = 0, hi = 1;
  for (;;) {
    PasskeyPrompt p = make(hi);
    if (!fits(p)) break;
    best = std::move(p);
    lo = hi;
    check(hi < (int64_t{1} << 40), "passkey: target length ", target_len, " is too large");
    hi *= 2;
  }
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    PasskeyPrompt p = make(mid);
    if (fits(p)) {
      best = std::move(p);
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return best;
}

namespace {

// [begin, end) of the first maximal run of decimal digits in text; begin == npos when none.
void first_digit_run(const std::string& text, size_t* begin, size_t* end) {
  *begin = text.find_first_of("0123456789");
  *end = *begin;
  if (*begin == std::string::npos) return;
  while (*end < text.size() && text[*end] >= '0' && text[*end] <= '9') ++*end;
}

}  // namespace

std::string first_integer(const std::string& text) {
  size_t i, j;
  first_digit_run(text, &i, &j);
  if (i == std::string::npos) return "";
  size_t nz = text.find_first_not_of('0', i);
  if (nz == std::string::npos || nz >= j) return "0";
  return text.substr(nz, j - nz);
}

bool passkey_answer_correct(const std::string& output, uint64_t key) {
  return first_integer(output) == std::to_string(key);
}

bool first_integer_complete(const std::string& text) {
  size_t i, j;
  first_digit_run(text, &i, &j);
  return i != std::string::npos && j < text.size();
}

int64_t passkey_answer_budget(int64_t max_new_tokens, int64_t key_tokens) {
  return max_new_tokens + std::max<int64_t>(0, key_tokens - 1);
}

std::string passkey_answer(const Tokenizer& tok, int prev, int64_t budget,
                           const std::function<int(int64_t)>& next) {
  std::string out;
  for (int64_t g = 0; g < budget; ++g) {
    const int t = next(g);
    if (t == tok.eos_id() || t == tok.bos_id()) break;
    out += tok.decode(prev, t);
    prev = t;
    if (first_integer_complete(out)) break;
  }
  return out;
}

void passkey_draw(uint64_t seed, int64_t length, int64_t index, int digits, uint64_t* key,
                  double* depth_u) {
  // splitmix64 over (seed, length, index) so that every sample has its own stream.
  auto mix = [](uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  Rng rng(mix(mix(mix(seed) ^ static_cast<uint64_t>(length)) ^ static_cast<uint64_t>(index)));
  uint64_t hi = 1;
  for (int d = 0; d < digits; ++d) hi *= 10;
  *key = 1 + rng.next_u64() % (hi - 1);                              // [1, 10^digits - 1]
  *depth_u = static_cast<double>(rng.next_u64() >> 11) * 0x1.0p-53;  // [0, 1)
}

namespace {

// The tokens of " KEY" as they continue the prompt: the tail of encode(prompt + " " + KEY) when
// the prompt's tokens are its prefix (the usual case), else KEY encoded alone (the tokenizer's
// dummy-prefix space standing for the separating space).
std::vector<int> key_tokens(const Tokenizer& tok, const PasskeyPrompt& p, uint64_t key,
                            const ChatTemplateSource* chat) {
  std::vector<int> all = passkey_encode(tok, p.text + " " + std::to_string(key), chat);
  if (all.size() > p.tokens.size() && std::equal(p.tokens.begin(), p.tokens.end(), all.begin()))
    return std::vector<int>(all.begin() + static_cast<std::ptrdiff_t>(p.tokens.size()), all.end());
  return tok.encode(std::to_string(key), false);
}

}  // namespace

void check_passkey_lengths(const Tokenizer& tok, const PasskeyOptions& opt) {
  uint64_t max_key = 1;
  for (int d = 0; d < opt.digits; ++d) max_key *= 10;
  for (int64_t len : opt.lengths)
    build_passkey_prompt(tok, len, max_key - 1, 0.0, opt.chat ? &*opt.chat : nullptr);
}

SessionOptions passkey_session_options(const AttentionConfig& attn, const PasskeyOptions& opt) {
  check(!opt.lengths.empty(), "--lengths: no lengths given");
  check(opt.digits >= 1 && opt.digits <= 18, "--digits: expected 1..18, got ", opt.digits);
  check(opt.samples >= 1, "--samples: expected >= 1");
  check(opt.depth_buckets >= 1, "passkey: depth buckets must be >= 1");
  const int64_t longest = *std::max_element(opt.lengths.begin(), opt.lengths.end());
  // The answer's budget: max_new_tokens + up to one token per digit (passkey_answer_budget).
  const int64_t needed = longest + opt.max_new_tokens + opt.digits + 4;
  if (attn.policy == AttnPolicy::Full && opt.full_ctx > 0 && needed > opt.full_ctx)
    fail("--lengths: ", longest, " plus the answer (", needed - longest,
         " tokens) exceeds the context of ", opt.full_ctx, " tokens for ", attn.label(),
         " (raise --ctx or use a bounded policy)");
  return eval_session_options(attn, needed, opt.n_threads);
}

void check_passkey_depths(const std::vector<double>& depths, const std::string& what) {
  for (double d : depths)
    check(d >= 0.0 && d < 1.0, what,
          ": a needle depth must be in [0, 1) (0 = right after the task, ",
          "near 1 = right before the question), got ", d);
}

PasskeySample run_passkey_sample(Session& session, const Tokenizer& tok, const PasskeyOptions& opt,
                                 int64_t len, int64_t index) {
  const int64_t vocab = session.vocab_size();
  const int64_t tok_vocab = std::min<int64_t>(vocab, tok.vocab_size());
  PasskeySample s;
  double depth_u = 0;
  passkey_draw(opt.seed, len, index, opt.digits, &s.key, &depth_u);
  if (!opt.depths.empty()) depth_u = opt.depths[static_cast<size_t>(index) % opt.depths.size()];
  const ChatTemplateSource* chat = opt.chat ? &*opt.chat : nullptr;
  PasskeyPrompt p = build_passkey_prompt(tok, len, s.key, depth_u, chat);
  s.target_len = len;
  s.prompt_tokens = static_cast<int64_t>(p.tokens.size());
  s.n_fillers = p.n_fillers;
  s.slot = p.slot;
  s.depth = p.depth;

  // Greedy answer within the key's budget (passkey_answer_budget), and the teacher-forced NLL of
  // " KEY" after the prompt. While the answer's tokens are the key's, the two follow the same
  // path (the same tokens after the same prompt give the same logits), so each key token is
  // scored on the way; only an answer that leaves the key's tokens before the last one makes
  // the teacher-forced pass prefill the prompt again.
  const std::vector<int> kt = key_tokens(tok, p, s.key, chat);
  const int64_t n_key = static_cast<int64_t>(kt.size());
  session.reset();
  const float* logits = session.prefill(p.tokens.data(), s.prompt_tokens);
  int last = -1;
  double nll = 0;
  int64_t scored = 0;  // key tokens scored on the answer's path
  bool on_key = true;
  s.output = passkey_answer(tok, p.tokens.back(), passkey_answer_budget(opt.max_new_tokens, n_key),
                            [&](int64_t g) {
                              if (g > 0) logits = session.decode(last);
                              if (on_key && g < n_key) {
                                nll += token_nll(logits, vocab, kt[g]);
                                scored = g + 1;
                              }
                              last = Sampler::argmax(logits, tok_vocab);
                              on_key = on_key && g < n_key && last == kt[g];
                              s.answer_tokens = g + 1;
                              return last;
                            });
  s.correct = passkey_answer_correct(s.output, s.key);
  if (scored < n_key) {
    session.reset();
    logits = session.prefill(p.tokens.data(), s.prompt_tokens);
    nll = 0;
    for (int64_t k = 0; k < n_key; ++k) {
      nll += token_nll(logits, vocab, kt[k]);
      if (k + 1 < n_key) logits = session.decode(kt[k]);
    }
  }
  s.key_tokens = static_cast<int64_t>(kt.size());
  s.key_nll = kt.empty() ? 0.0 : nll / static_cast<double>(kt.size());
  return s;
}

PasskeyResult passkey_result(const AttentionConfig& attn, const std::string& label,
                             std::vector<PasskeySample> samples, const PasskeyOptions& opt,
                             double seconds) {
  check(samples.size() == opt.lengths.size() * static_cast<size_t>(opt.samples),
        "passkey_result: ", samples.size(), " samples for ", opt.lengths.size(), " lengths x ",
        opt.samples);
  PasskeyResult res;
  res.attn = attn;
  res.label = label;
  res.seconds = seconds;
  size_t k = 0;
  for (int64_t len : opt.lengths) {
    PasskeyLengthResult lr;
    lr.target_len = len;
    lr.bucket_correct.assign(static_cast<size_t>(opt.depth_buckets), 0);
    lr.bucket_total.assign(static_cast<size_t>(opt.depth_buckets), 0);
    for (int64_t i = 0; i < opt.samples; ++i, ++k) {
      PasskeySample& s = samples[k];
      check(s.target_len == len, "passkey_result: sample ", k, " is of length ", s.target_len,
            ", expected ", len);
      const size_t bucket = std::min<size_t>(static_cast<size_t>(s.depth * opt.depth_buckets),
                                             static_cast<size_t>(opt.depth_buckets - 1));
      ++lr.total;
      ++lr.bucket_total[bucket];
      if (s.correct) {
        ++lr.correct;
        ++lr.bucket_correct[bucket];
      }
      lr.mean_prompt_tokens += static_cast<double>(s.prompt_tokens);
      lr.mean_key_nll += s.key_nll;
      res.samples.push_back(std::move(s));
    }
    lr.mean_prompt_tokens /= static_cast<double>(lr.total);
    lr.mean_key_nll /= static_cast<double>(lr.total);
    res.per_length.push_back(std::move(lr));
  }
  return res;
}

PasskeyResult run_passkey(const Model& model, const Tokenizer& tok, const AttentionConfig& attn,
                          const PasskeyOptions& opt,
                          const std::function<void(int64_t, int64_t)>& progress) {
  Session session(model, passkey_session_options(attn, opt));
  const double t0 = now_seconds();
  const int64_t total = static_cast<int64_t>(opt.lengths.size()) * opt.samples;
  std::vector<PasskeySample> samples;
  for (int64_t len : opt.lengths)
    for (int64_t i = 0; i < opt.samples; ++i) {
      samples.push_back(run_passkey_sample(session, tok, opt, len, i));
      if (progress) progress(static_cast<int64_t>(samples.size()), total);
    }
  return passkey_result(attn, session.label(), std::move(samples), opt, now_seconds() - t0);
}

}  // namespace lc
