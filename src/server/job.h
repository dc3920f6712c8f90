// One request's generation as the scheduler sees it (server/scheduler.h): what to do (JobParams,
// fixed at submission) and what has been produced so far (JobOutput, read by the HTTP thread
// under the channel's mutex while the scheduler thread appends to it).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "attention/config.h"
#include "runtime/sampler.h"

namespace lc::server {

// Where a job's progress is signalled. The jobs of one HTTP request (one per prompt) share one,
// so a handler waits on a single condition variable.
struct Channel {
  std::mutex mu;
  std::condition_variable cv;
};

struct JobParams {
  std::vector<int> prompt;  // token ids, BOS included when the model wants one
  int64_t max_tokens = 16;  // 0: only the prompt is processed (echo + logprobs scoring)
  SamplerOptions sampler;
  std::vector<std::string> stop;  // stop strings (never part of the returned text)
  std::vector<int> stop_ids;      // tokens that end the generation (EOS, end-of-turn markers)
  int logprobs = -1;              // -1: none; k >= 0: each token's log-probability and the top k
  bool echo = false;              // prompt tokens are returned (with log-probabilities if asked)
  std::optional<AttentionConfig> attn;  // this request's policy; nullopt = the server's
  double timeout_seconds = 0;           // from submission; 0 = none
};

struct TokenLogprob {
  int id = -1;
  std::string text;      // the token's text (control tokens spelled out)
  bool scored = false;   // false: no log-probability (the first prompt token, or none asked)
  float logprob = 0.0f;  // log p(token | everything before it)
  std::vector<std::pair<std::string, float>> top;  // the k most likely tokens, best first
};

enum class Finish : uint8_t { None, Stop, Length, Cancelled, Timeout, Error };
const char* finish_name(Finish f);  // "stop", "length", "cancelled", "timeout", "error"

struct JobOutput {
  std::string text;                  // released text (stop strings removed), grows
  std::vector<TokenLogprob> prompt;  // echo: every prompt token, filled when the prompt is done
  std::vector<TokenLogprob> tokens;  // generated tokens, grows (text and, if asked, logprobs)
  // The control token (EOS, BOS, end of turn) that ended the generation, scored when logprobs
  // were asked; in neither `text` nor `tokens` (nor usage). /v1/completions lists it last in
  // its logprobs, as OpenAI lists "<|endoftext|>": echo + max_tokens 1 then always has one
  // entry after the prompt, which lm-evaluation-harness drops as the generated one.
  std::optional<TokenLogprob> stop_token;
  bool prompt_done = false;
  bool finished = false;
  Finish finish = Finish::None;
  std::string error;               // Finish::Error: why
  int64_t prompt_tokens = 0;       // tokens of the prompt
  int64_t reused_tokens = 0;       // of them, taken from the slot's cache instead of recomputed
  int64_t slot = -1;               // the slot that ran it
  double queued_seconds = 0;       // submission to admission
  double first_token_seconds = 0;  // submission to the first generated token
};

struct Job {
  Job(JobParams p, std::shared_ptr<Channel> ch) : params(std::move(p)), channel(std::move(ch)) {}
  const JobParams params;
  std::shared_ptr<Channel> channel;
  JobOutput out;                    // guarded by channel->mu
  std::atomic<bool> cancel{false};  // set by the client side (disconnect); the scheduler ends it
  double submitted_at = 0;          // now_seconds() at submission
};

}  // namespace lc::server
