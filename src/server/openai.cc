#include "server/openai.h"

#include <ctime>
#include <nlohmann/json.hpp>
#include <random>

#include "attention/parse.h"
#include "chat/chat_format.h"
#include "core/error.h"
#include "runtime/chat_session.h"
#include "server/scheduler.h"

namespace lc::server {

namespace {

using json = nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json usage_json(const std::vector<const JobOutput*>& outs) {
  int64_t p = 0, c = 0, reused = 0;
  for (const JobOutput* o : outs) {
    p += o->prompt_tokens;
    c += static_cast<int64_t>(o->tokens.size());
    reused += o->reused_tokens;
  }
  return {{"prompt_tokens", p},
          {"completion_tokens", c},
          {"total_tokens", p + c},
          {"prompt_tokens_details", {{"cached_tokens", reused}}}};
}

json finish_json(const JobOutput& o) {
  if (!o.finished) return nullptr;
  return o.finish == Finish::Stop ? "stop" : "length";
}

// Completions logprobs: parallel arrays over the tokens [begin, end) of `toks`, text offsets
// counted from *offset (which advances).
void append_completion_logprobs(json& lp, const std::vector<TokenLogprob>& toks, size_t begin,
                                size_t end, size_t* offset) {
  for (size_t i = begin; i < end; ++i) {
    const TokenLogprob& t = toks[i];
    lp["tokens"].push_back(t.text);
    lp["text_offset"].push_back(*offset);
    *offset += t.text.size();
    if (!t.scored) {
      lp["token_logprobs"].push_back(nullptr);
      lp["top_logprobs"].push_back(nullptr);
      continue;
    }
    lp["token_logprobs"].push_back(t.logprob);
    json top = json::object();
    for (const auto& [text, v] : t.top)
      if (!top.contains(text)) top[text] = v;
    lp["top_logprobs"].push_back(std::move(top));
  }
}

json bytes_of(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

json chat_logprobs(const std::vector<TokenLogprob>& toks, size_t begin, size_t end) {
  json content = json::array();
  for (size_t i = begin; i < end; ++i) {
    const TokenLogprob& t = toks[i];
    json top = json::array();
    for (const auto& [text, v] : t.top)
      top.push_back({{"token", text}, {"logprob", v}, {"bytes", bytes_of(text)}});
    content.push_back({{"token", t.text},
                       {"logprob", t.logprob},
                       {"bytes", bytes_of(t.text)},
                       {"top_logprobs", std::move(top)}});
  }
  return {{"content", std::move(content)}};
}

// The fields every response object and stream chunk carries.
json envelope(const ApiRequest& r, const ServedModel& m, const ResponseId& rid, bool chunk,
              json choices) {
  const char* object = !r.chat ? "text_completion"
                       : chunk ? "chat.completion.chunk"
                               : "chat.completion";
  return {{"id", rid.id},
          {"object", object},
          {"created", rid.created},
          {"model", m.id},
          {"choices", std::move(choices)}};
}

json empty_completion_logprobs() {
  return {{"tokens", json::array()},
          {"token_logprobs", json::array()},
          {"top_logprobs", json::array()},
          {"text_offset", json::array()}};
}

}  // namespace

ServedModel::ServedModel(std::string id_, const Model& model_, const Tokenizer& tok_,
                         std::optional<ChatTemplateSource> tmpl_, AttentionConfig default_attn_)
    : id(std::move(id_)),
      model(model_),
      tok(tok_),
      tmpl(std::move(tmpl_)),
      chat_stop_ids(lc::chat_stop_ids(tok_)),
      default_attn(std::move(default_attn_)),
      created(static_cast<int64_t>(std::time(nullptr))) {
  if (tmpl) parsed = jinja::Template::parse(tmpl->source);
}

std::vector<JobParams> make_jobs(const ApiRequest& r, const ServedModel& m, const Scheduler& sched,
                                 const JobDefaults& d) {
  if (!r.model.empty() && r.model != m.id)
    throw ApiError(404, "invalid_request_error",
                   "the model '" + r.model + "' does not exist; this server serves '" + m.id + "'",
                   "model", "model_not_found");
  JobParams base;
  base.max_tokens = r.max_tokens;
  base.sampler = r.sampler;
  if (!r.seeded) base.sampler.seed = std::random_device{}();
  base.stop = r.stop;
  base.logprobs = r.logprobs;
  base.echo = r.echo;
  base.timeout_seconds = d.timeout_seconds;
  if (r.timeout_seconds && (d.timeout_seconds <= 0 || *r.timeout_seconds < d.timeout_seconds))
    base.timeout_seconds = *r.timeout_seconds;
  int64_t capacity = sched.capacity();
  if (r.attention) {
    if (!m.model.takes_attention_policy())
      throw ApiError(400, "invalid_request_error",
                     "'attention': this model's mixers are fixed by its config", "attention");
    try {
      std::vector<AttentionConfig> a = parse_attention_list(*r.attention, m.default_attn, true);
      if (a.size() != 1)
        throw ApiError(400, "invalid_request_error",
                       "'attention': one policy expected, got " + std::to_string(a.size()),
                       "attention");
      base.attn = a[0];
      capacity = sched.capacity_for(*base.attn);
    } catch (const lc::Error& e) {
      throw ApiError(400, "invalid_request_error", std::string("'attention': ") + e.what(),
                     "attention");
    }
  }
  std::vector<std::vector<int>> prompts;
  if (r.chat) {
    if (!m.parsed)
      throw ApiError(400, "invalid_request_error",
                     "this model has no chat template; use /v1/completions", "messages");
    ChatRenderOptions ro;
    ro.bos_token = m.tmpl->bos_token;
    ro.eos_token = m.tmpl->eos_token;
    std::string text;
    try {
      text = render_chat(*m.parsed, r.messages, ro);
    } catch (const std::exception& e) {
      throw ApiError(400, "invalid_request_error",
                     std::string("the chat template refused the messages: ") + e.what(),
                     "messages");
    }
    prompts.push_back(encode_chat_prompt(m.tok, text, m.tmpl->bos_token));
    base.stop_ids = m.chat_stop_ids;
  } else if (r.prompts_are_ids) {
    for (const auto& ids : r.prompt_ids) {
      for (int id : ids)
        if (id >= m.tok.vocab_size() || id >= m.model.vocab_size())
          throw ApiError(400, "invalid_request_error",
                         "token id " + std::to_string(id) + " is outside the vocabulary of " +
                             std::to_string(m.tok.vocab_size()),
                         "prompt");
      prompts.push_back(ids);
    }
  } else {
    for (const auto& t : r.prompt_texts) {
      std::vector<int> ids = m.tok.encode(t, m.tok.adds_bos());
      if (ids.empty())
        throw ApiError(400, "invalid_request_error",
                       "the prompt is empty and the model has no BOS token to start from",
                       "prompt");
      prompts.push_back(std::move(ids));
    }
  }
  const int64_t limit =
      d.max_prompt_tokens > 0 ? std::min(d.max_prompt_tokens, capacity) : capacity;
  std::vector<JobParams> jobs;
  for (auto& ids : prompts) {
    if (static_cast<int64_t>(ids.size()) > limit)
      throw ApiError(400, "invalid_request_error",
                     "the prompt has " + std::to_string(ids.size()) +
                         " tokens; this server takes at most " + std::to_string(limit) +
                         " (the context of a full-attention cache, or --max-prompt-tokens; a "
                         "bounded policy such as \"attention\": \"lambda\" has no context limit)",
                     "prompt", "context_length_exceeded");
    JobParams p = base;
    p.prompt = std::move(ids);
    jobs.push_back(std::move(p));
  }
  return jobs;
}

std::string error_json(const ApiError& e) {
  json err = {{"message", e.what()},
              {"type", e.type},
              {"param", e.param.empty() ? json(nullptr) : json(e.param)},
              {"code", e.code.empty() ? json(nullptr) : json(e.code)}};
  return dump(json{{"error", std::move(err)}});
}

std::string response_json(const ApiRequest& r, const ServedModel& m, const ResponseId& rid,
                          const std::vector<const JobOutput*>& outs) {
  json choices = json::array();
  for (size_t i = 0; i < outs.size(); ++i) {
    const JobOutput& o = *outs[i];
    json c = {{"index", i}, {"finish_reason", finish_json(o)}};
    if (r.chat) {
      c["message"] = {{"role", "assistant"}, {"content", o.text}};
      c["logprobs"] = r.logprobs >= 0 ? chat_logprobs(o.tokens, 0, o.tokens.size()) : json(nullptr);
    } else {
      std::string text;
      size_t offset = 0;
      json lp = empty_completion_logprobs();
      if (r.echo) {
        for (const TokenLogprob& t : o.prompt) text += t.text;
        append_completion_logprobs(lp, o.prompt, 0, o.prompt.size(), &offset);
      }
      text += o.text;
      append_completion_logprobs(lp, o.tokens, 0, o.tokens.size(), &offset);
      if (o.stop_token) append_completion_logprobs(lp, {*o.stop_token}, 0, 1, &offset);
      c["text"] = text;
      c["logprobs"] = r.logprobs >= 0 ? lp : json(nullptr);
    }
    choices.push_back(std::move(c));
  }
  json j = envelope(r, m, rid, false, std::move(choices));
  j["usage"] = usage_json(outs);
  return dump(j);
}

std::string stream_event(const ApiRequest& r, const ServedModel& m, const ResponseId& rid,
                         const JobOutput& out, size_t* sent_text, size_t* sent_tokens, bool final,
                         bool first_chat) {
  const size_t nt = out.text.size(), nk = out.tokens.size();
  if (!final && !first_chat && nt == *sent_text) return {};
  const std::string delta = out.text.substr(*sent_text);
  json c = {{"index", 0}, {"finish_reason", final ? finish_json(out) : json(nullptr)}};
  if (r.chat) {
    json d = json::object();
    if (first_chat) d["role"] = "assistant";
    if (!delta.empty() || !first_chat) d["content"] = delta;
    if (final && delta.empty()) d = json::object();
    c["delta"] = std::move(d);
    c["logprobs"] = r.logprobs >= 0 ? chat_logprobs(out.tokens, *sent_tokens, nk) : json(nullptr);
  } else {
    c["text"] = delta;
    size_t offset = *sent_text;
    json lp = empty_completion_logprobs();
    append_completion_logprobs(lp, out.tokens, *sent_tokens, nk, &offset);
    if (final && out.stop_token) append_completion_logprobs(lp, {*out.stop_token}, 0, 1, &offset);
    c["logprobs"] = r.logprobs >= 0 ? lp : json(nullptr);
  }
  *sent_text = nt;
  *sent_tokens = nk;
  return "data: " + dump(envelope(r, m, rid, true, json::array({std::move(c)}))) + "\n\n";
}

std::string stream_end(const ApiRequest& r, const ServedModel& m, const ResponseId& rid,
                       const std::vector<const JobOutput*>& outs) {
  std::string s;
  if (r.include_usage) {
    json j = envelope(r, m, rid, true, json::array());
    j["usage"] = usage_json(outs);
    s += "data: " + dump(j) + "\n\n";
  }
  return s + "data: [DONE]\n\n";
}

std::string models_json(const ServedModel& m, const Scheduler& sched) {
  const int64_t cap = sched.capacity();
  json model = {{"id", m.id},
                {"object", "model"},
                {"created", m.created},
                {"owned_by", "longctx"},
                {"meta",
                 {{"attention", sched.label()},
                  {"context", cap == INT64_MAX ? json(nullptr) : json(cap)},
                  {"trained_context", m.model.config().ctx_len},
                  {"slots", sched.slots()},
                  {"chat_template", m.tmpl.has_value()}}}};
  return dump(json{{"object", "list"}, {"data", json::array({std::move(model)})}});
}

}  // namespace lc::server
