// The OpenAI API on top of the scheduler: a checked request (server/request.h) becomes jobs (one
// per prompt: tokenized, chat-templated, its policy parsed), and jobs' outputs become response
// bodies -- whole, or server-sent-event chunks for "stream": true.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "attention/config.h"
#include "chat/chat_template_source.h"
#include "chat/template.h"
#include "model/model.h"
#include "server/job.h"
#include "server/request.h"
#include "tokenizer/tokenizer.h"

namespace lc::server {

class Scheduler;

// What the server serves: one model, its tokenizer and (optional) chat template.
struct ServedModel {
  ServedModel(std::string id, const Model& model, const Tokenizer& tok,
              std::optional<ChatTemplateSource> tmpl, AttentionConfig default_attn);
  std::string id;  // the name clients pass as "model" (the file's base name)
  const Model& model;
  const Tokenizer& tok;
  std::optional<ChatTemplateSource> tmpl;
  std::optional<jinja::Template> parsed;  // tmpl, parsed once
  std::vector<int> chat_stop_ids;         // EOS and end-of-turn tokens
  AttentionConfig default_attn;           // the server's policy (a request's items start from it)
  int64_t created = 0;                    // unix time of start-up
};

struct JobDefaults {
  double timeout_seconds = 0;     // the server's per-request timeout
  int64_t max_prompt_tokens = 0;  // 0 = the context of the request's policy
};

// The jobs of a request; throws ApiError (404 unknown model, 400 prompt too long, bad attention,
// a chat template that refuses the messages, ...).
std::vector<JobParams> make_jobs(const ApiRequest& r, const ServedModel& m, const Scheduler& sched,
                                 const JobDefaults& d);

// {"error": {"message", "type", "param", "code"}}
std::string error_json(const ApiError& e);

// Identity of one response: "cmpl-..." / "chatcmpl-..." id and its creation time.
struct ResponseId {
  std::string id;
  int64_t created = 0;
};

// The whole response (non-streaming), one choice per job.
std::string response_json(const ApiRequest& r, const ServedModel& m, const ResponseId& rid,
                          const std::vector<const JobOutput*>& outs);

// Streaming: what job `index` produced since the last call (text and tokens after *sent_text /
// *sent_tokens, which advance) as one "data: {...}\n\n" event, or "" when nothing is new; with
// final = true the chunk carries finish_reason. first_chat: the chat stream's opening delta
// {"role": "assistant"}.
std::string stream_event(const ApiRequest& r, const ServedModel& m, const ResponseId& rid,
                         const JobOutput& out, size_t* sent_text, size_t* sent_tokens, bool final,
                         bool first_chat);
// The closing events: usage (when asked) and "data: [DONE]".
std::string stream_end(const ApiRequest& r, const ServedModel& m, const ResponseId& rid,
                       const std::vector<const JobOutput*>& outs);

// GET /v1/models
std::string models_json(const ServedModel& m, const Scheduler& sched);

}  // namespace lc::server
