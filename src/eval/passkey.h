// Passkey retrieval (../shared/specs/evals.md; Mohtashami & Jaggi 2023; LM-Infinite Table 2):
// a key hidden at a random depth in repeated filler text, asked for at the end. Accuracy of
// greedy answers per target length and needle depth, plus the teacher-forced NLL of the key
// tokens, which shows the length trend even for models that cannot answer.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "attention/config.h"
#include "chat/chat_template_source.h"
#include "model/model.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"

namespace lc {

extern const char* const kPasskeyTask;
extern const char* const kPasskeyFiller;
extern const char* const kPasskeyQuestion;
std::string passkey_needle(uint64_t key);

// The prompt text: task, n fillers with the needle inserted before filler `slot` (slot == n: after
// the last), question; joined with single spaces.
std::string passkey_text(int64_t n_fillers, int64_t slot, uint64_t key);

struct PasskeyPrompt {
  std::string text;
  std::vector<int> tokens;  // BOS first
  int64_t n_fillers = 0;
  int64_t slot = 0;  // needle position among the n_fillers + 1 slots
  double depth = 0;  // slot / n_fillers (0 = right after the task, 1 = right before the question)
};

// An instruct model's prompt through its chat template: one user message (the task, the filler
// with the needle, "What is the pass key?") and the assistant's turn begun with "The pass key
// is", which the answer continues. `body` is passkey_text()'s.
std::string passkey_chat_text(const ChatTemplateSource& chat, const std::string& body);
// text -> tokens: the tokenizer's encode with its BOS, or (chat) the rendered template's special
// tokens parsed and BOS added as the file asks (encode_chat_prompt).
std::vector<int> passkey_encode(const Tokenizer& tok, const std::string& text,
                                const ChatTemplateSource* chat);

// The prompt with the most fillers whose tokenization (BOS included) has at most target_len
// tokens; the needle slot is floor(depth_u * (n + 1)) for the chosen n (depth_u in [0, 1)).
// Binary search on n; throws lc::Error when even zero fillers exceed target_len. With `chat`
// the text is passkey_chat_text()'s.
PasskeyPrompt build_passkey_prompt(const Tokenizer& tok, int64_t target_len, uint64_t key,
                                   double depth_u, const ChatTemplateSource* chat = nullptr);

// The first maximal run of decimal digits in text, as a number string without leading zeros
// ("0" for all zeros); empty when the text has no digit.
std::string first_integer(const std::string& text);
// Whether the first integer in `output` equals key (leading zeros ignored).
bool passkey_answer_correct(const std::string& output, uint64_t key);
// Whether text's first integer is complete: a run of digits followed by another character.
bool first_integer_complete(const std::string& text);

// The answer's token budget: opt.max_new_tokens (the spec's 7) plus one for every token beyond
// the first that the tokenizer needs to write " KEY". A tokenizer that writes one digit per
// token (SmolLM2: a space and 7 digits, 8 tokens) would otherwise have its answer cut to the
// key's first 6 digits and scored wrong.
int64_t passkey_answer_budget(int64_t max_new_tokens, int64_t key_tokens);

// The greedy answer: next(g) gives the g-th generated token (g = 0, 1, ...); stops at EOS or
// BOS, as soon as the answer's first integer is complete, or after `budget` tokens.
std::string passkey_answer(const Tokenizer& tok, int prev, int64_t budget,
                           const std::function<int(int64_t)>& next);

struct PasskeyOptions {
  std::vector<int64_t> lengths;
  int64_t samples = 10;
  int digits = 7;  // key uniform in [1, 10^digits - 1]
  uint64_t seed = 1;
  int64_t max_new_tokens = 7;  // before passkey_answer_budget's extension
  int depth_buckets = 5;
  // Fixed needle depths in [0, 1) (empty: each sample draws its own): sample i takes
  // depths[i % size], its key still drawn per sample, so `samples` = seeds x depths.
  std::vector<double> depths;
  int n_threads = 2;
  int64_t full_ctx = 0;  // KV cache for full attention; 0 = what the longest prompt needs
  std::optional<ChatTemplateSource> chat;  // prompts through this chat template (instruct models)
};

struct PasskeySample {
  int64_t target_len = 0, prompt_tokens = 0, n_fillers = 0, slot = 0;
  double depth = 0;
  uint64_t key = 0;
  std::string output;
  int64_t answer_tokens = 0;  // tokens generated for the answer
  bool correct = false;
  double key_nll = 0;  // mean NLL per key token, teacher-forced after the prompt
  int64_t key_tokens = 0;
};

struct PasskeyLengthResult {
  int64_t target_len = 0;
  int64_t correct = 0, total = 0;
  double mean_prompt_tokens = 0, mean_key_nll = 0;
  std::vector<int64_t> bucket_correct, bucket_total;  // per depth bucket
};

struct PasskeyResult {
  AttentionConfig attn;
  std::string label;  // resolved, e.g. "lambda(G=10,L=512,D=512)"
  std::vector<PasskeySample> samples;
  std::vector<PasskeyLengthResult> per_length;
  double seconds = 0;
};

// The seeded key and depth draw of sample `index` at `length`: independent of the other
// lengths and sample counts, so adding a length does not change the others' prompts.
void passkey_draw(uint64_t seed, int64_t length, int64_t index, int digits, uint64_t* key,
                  double* depth_u);

// Fails (lc::Error naming `what`) unless every depth is in [0, 1).
void check_passkey_depths(const std::vector<double>& depths, const std::string& what);

// Fails (lc::Error, before anything runs) when a length is below the prompt's overhead for the
// largest key of opt.digits digits (which has the largest overhead), framed as opt.chat says.
void check_passkey_lengths(const Tokenizer& tok, const PasskeyOptions& opt);

// The session every sample of one configuration runs in (checks the options; a full cache holds
// the longest prompt and its answer).
SessionOptions passkey_session_options(const AttentionConfig& attn, const PasskeyOptions& opt);
// Sample `index` at `len` (the seeded draw, the greedy answer, the key's NLL) in `session`.
PasskeySample run_passkey_sample(Session& session, const Tokenizer& tok, const PasskeyOptions& opt,
                                 int64_t len, int64_t index);
// One configuration's result from its samples, ordered by length (opt.lengths) then index.
PasskeyResult passkey_result(const AttentionConfig& attn, const std::string& label,
                             std::vector<PasskeySample> samples, const PasskeyOptions& opt,
                             double seconds);

// Runs every length x sample for one attention configuration. progress(done, total) after each
// sample.
PasskeyResult run_passkey(const Model& model, const Tokenizer& tok, const AttentionConfig& attn,
                          const PasskeyOptions& opt,
                          const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace lc
