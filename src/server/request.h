// OpenAI-style request bodies -> a checked ApiRequest (no HTTP here; fuzz/server_request_fuzz.cc
// feeds it arbitrary bytes). Every field is checked for type and range; a bad one is an ApiError
// (HTTP 400) whose message names the field and what was expected. Unknown fields are ignored, as
// OpenAI-compatible servers do, but known fields this server cannot honour (n > 1, penalties,
// logit_bias, tools, ...) are refused rather than silently dropped.
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "chat/chat_format.h"
#include "runtime/sampler.h"

namespace lc::server {

// An error for the client: its HTTP status and OpenAI error type ("invalid_request_error", ...).
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string type, const std::string& message, std::string param = {},
           std::string code = {})
      : std::runtime_error(message),
        status(status),
        type(std::move(type)),
        param(std::move(param)),
        code(std::move(code)) {}
  int status;
  std::string type, param, code;
};

// Limits the server enforces on every request.
struct RequestLimits {
  int64_t max_tokens = 4096;         // most generated tokens one request may ask for
  int64_t default_max_tokens = 256;  // chat requests without max_tokens (completions: 16)
  int64_t max_prompts = 64;          // prompts in one completions request (a batch)
  int64_t max_messages = 4096;
  int64_t max_stop = 16;
  int64_t max_logprobs = 20;
};

struct ApiRequest {
  bool chat = false;
  std::string model;  // "" = not given
  // Completions: one or more prompts, each text or token ids.
  std::vector<std::string> prompt_texts;
  std::vector<std::vector<int>> prompt_ids;  // used when prompts are token ids
  bool prompts_are_ids = false;
  // Chat: the conversation.
  std::vector<ChatMessage> messages;
  int64_t max_tokens = 16;
  SamplerOptions sampler;  // temperature default 1, top_p 1, top_k 0 (off), seed
  bool seeded = false;     // a seed was given (else the server draws one)
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  int logprobs = -1;  // -1: none; else top-k count (completions: logprobs; chat: top_logprobs)
  bool echo = false;
  std::optional<std::string> attention;   // extension: this request's attention policy
  std::optional<double> timeout_seconds;  // extension: shorter than the server's
};

// Parses a /v1/completions (chat = false) or /v1/chat/completions body; throws ApiError.
ApiRequest parse_request(const std::string& body, bool chat, const RequestLimits& limits);

}  // namespace lc::server
