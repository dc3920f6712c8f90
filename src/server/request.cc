#include "server/request.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

namespace lc::server {

namespace {

using json = nlohmann::json;

[[noreturn]] void bad(const std::string& param, const std::string& msg) {
  throw ApiError(400, "invalid_request_error", "'" + param + "': " + msg, param);
}

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::string:
      return "a string";
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    case json::value_t::number_float:
      return "a number";
    default:
      return "an integer";
  }
}

bool get_bool(const json& v, const std::string& name) {
  if (!v.is_boolean()) bad(name, std::string("expected a boolean, got ") + type_name(v));
  return v.get<bool>();
}

double get_number(const json& v, const std::string& name, double lo, double hi) {
  if (!v.is_number()) bad(name, std::string("expected a number, got ") + type_name(v));
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    bad(name,
        "expected a number in [" + json(lo).dump() + ", " + json(hi).dump() + "], got " + v.dump());
  return x;
}

int64_t get_int(const json& v, const std::string& name, int64_t lo, int64_t hi) {
  if (v.is_number_float()) {
    const double x = v.get<double>();
    if (std::isfinite(x) && x == std::floor(x) && x >= static_cast<double>(lo) &&
        x <= static_cast<double>(hi))
      return static_cast<int64_t>(x);
  }
  if (!v.is_number()) bad(name, std::string("expected an integer, got ") + type_name(v));
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(hi) && static_cast<int64_t>(u) >= lo)
      return static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    const int64_t x = v.get<int64_t>();
    if (x >= lo && x <= hi) return x;
  }
  bad(name, "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                "], got " + v.dump());
}

const std::string& get_string(const json& v, const std::string& name) {
  if (!v.is_string()) bad(name, std::string("expected a string, got ") + type_name(v));
  return v.get_ref<const std::string&>();
}

std::vector<int> get_ids(const json& v, const std::string& name) {
  std::vector<int> ids;
  for (size_t i = 0; i < v.size(); ++i)
    ids.push_back(static_cast<int>(
        get_int(v[i], name + "[" + std::to_string(i) + "]", 0, std::numeric_limits<int>::max())));
  return ids;
}

void parse_prompt(const json& v, ApiRequest* r, const RequestLimits& lim) {
  if (v.is_string()) {
    r->prompt_texts.push_back(v.get<std::string>());
    return;
  }
  if (!v.is_array() || v.empty())
    bad("prompt", std::string("expected a string, a non-empty array of strings, of token ids, ") +
                      "or of arrays of token ids; got " + (v.is_array() ? "[]" : type_name(v)));
  if (v[0].is_number()) {
    r->prompts_are_ids = true;
    r->prompt_ids.push_back(get_ids(v, "prompt"));
    return;
  }
  if (static_cast<int64_t>(v.size()) > lim.max_prompts)
    bad("prompt", "at most " + std::to_string(lim.max_prompts) + " prompts per request, got " +
                      std::to_string(v.size()));
  r->prompts_are_ids = v[0].is_array();
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string name = "prompt[" + std::to_string(i) + "]";
    if (r->prompts_are_ids) {
      if (!v[i].is_array() || v[i].empty())
        bad(name, std::string("expected a non-empty array of token ids, got ") + type_name(v[i]));
      r->prompt_ids.push_back(get_ids(v[i], name));
    } else {
      r->prompt_texts.push_back(get_string(v[i], name));
    }
  }
}

std::string message_content(const json& c, const std::string& name) {
  if (c.is_string()) return c.get<std::string>();
  if (c.is_null()) return {};
  if (!c.is_array())
    bad(name, std::string("expected a string or an array of text parts, got ") + type_name(c));
  std::string text;
  for (size_t i = 0; i < c.size(); ++i) {
    const std::string part = name + "[" + std::to_string(i) + "]";
    if (!c[i].is_object()) bad(part, "expected an object {\"type\": \"text\", \"text\": ...}");
    auto t = c[i].find("type");
    if (t == c[i].end() || !t->is_string() || *t != "text")
      bad(part + ".type", "only \"text\" parts are supported");
    auto x = c[i].find("text");
    if (x == c[i].end()) bad(part + ".text", "missing");
    text += get_string(*x, part + ".text");
  }
  return text;
}

void parse_messages(const json& v, ApiRequest* r, const RequestLimits& lim) {
  if (!v.is_array() || v.empty())
    bad("messages", std::string("expected a non-empty array of {role, content}, got ") +
                        (v.is_array() ? "[]" : type_name(v)));
  if (static_cast<int64_t>(v.size()) > lim.max_messages)
    bad("messages", "at most " + std::to_string(lim.max_messages) + " messages, got " +
                        std::to_string(v.size()));
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string name = "messages[" + std::to_string(i) + "]";
    if (!v[i].is_object()) bad(name, std::string("expected an object, got ") + type_name(v[i]));
    auto role = v[i].find("role");
    if (role == v[i].end()) bad(name + ".role", "missing");
    const std::string& rs = get_string(*role, name + ".role");
    if (rs != "system" && rs != "user" && rs != "assistant" && rs != "developer")
      bad(name + ".role", "expected system, developer, user or assistant, got \"" + rs + "\"");
    auto content = v[i].find("content");
    if (content == v[i].end()) bad(name + ".content", "missing");
    if (v[i].contains("tool_calls") || rs == "tool")
      bad(name, "tool calls are not supported by this server");
    r->messages.push_back(
        {rs == "developer" ? "system" : rs, message_content(*content, name + ".content")});
  }
}

void parse_stop(const json& v, ApiRequest* r, const RequestLimits& lim) {
  if (v.is_null()) return;
  if (v.is_string()) {
    if (!v.get_ref<const std::string&>().empty()) r->stop.push_back(v.get<std::string>());
    return;
  }
  if (!v.is_array())
    bad("stop", std::string("expected a string or array of strings, got ") + type_name(v));
  if (static_cast<int64_t>(v.size()) > lim.max_stop)
    bad("stop", "at most " + std::to_string(lim.max_stop) + " stop strings, got " +
                    std::to_string(v.size()));
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string& s = get_string(v[i], "stop[" + std::to_string(i) + "]");
    if (s.empty()) bad("stop[" + std::to_string(i) + "]", "an empty stop string");
    r->stop.push_back(s);
  }
}

// Known OpenAI fields this server does not implement: refused unless at their neutral value.
void refuse_unsupported(const json& j) {
  for (const char* k : {"presence_penalty", "frequency_penalty"})
    if (j.contains(k) && !(j[k].is_null() || (j[k].is_number() && j[k].get<double>() == 0.0)))
      bad(k, "not supported by this server (only 0)");
  for (const char* k : {"n", "best_of"})
    if (j.contains(k) && !j[k].is_null() && get_int(j[k], k, 0, 1 << 20) != 1)
      bad(k, "only 1 is supported");
  if (j.contains("logit_bias") && !j["logit_bias"].is_null() &&
      !(j["logit_bias"].is_object() && j["logit_bias"].empty()))
    bad("logit_bias", "not supported by this server");
  if (j.contains("suffix") && !j["suffix"].is_null() &&
      !(j["suffix"].is_string() && j["suffix"].get_ref<const std::string&>().empty()))
    bad("suffix", "not supported by this server");
  for (const char* k : {"tools", "functions", "tool_choice", "function_call"})
    if (j.contains(k) && !j[k].is_null()) bad(k, "tool calling is not supported by this server");
  if (j.contains("response_format") && !j["response_format"].is_null()) {
    const json& f = j["response_format"];
    if (!f.is_object() || !f.contains("type") || f["type"] != "text")
      bad("response_format", "only {\"type\": \"text\"} is supported");
  }
}

}  // namespace

namespace {

ApiRequest parse_fields(const nlohmann::json& j, bool chat, const RequestLimits& lim);

}  // namespace

ApiRequest parse_request(const std::string& body, bool chat, const RequestLimits& lim) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e400
    std::string what = e.what();
    const size_t at = what.find("] ");
    throw ApiError(400, "invalid_request_error",
                   "the body is not valid JSON (" +
                       (at == std::string::npos ? what : what.substr(at + 2)) + ")");
  }
  if (!j.is_object())
    throw ApiError(400, "invalid_request_error",
                   std::string("the body must be a JSON object, got ") + type_name(j));
  try {
    return parse_fields(j, chat, lim);
  } catch (const json::exception& e) {  // a value the checks above let through by mistake
    throw ApiError(400, "invalid_request_error", std::string("bad request: ") + e.what());
  }
}

namespace {

ApiRequest parse_fields(const nlohmann::json& j, bool chat, const RequestLimits& lim) {
  ApiRequest r;
  r.chat = chat;
  r.max_tokens = chat ? lim.default_max_tokens : 16;
  refuse_unsupported(j);
  if (auto it = j.find("model"); it != j.end() && !it->is_null())
    r.model = get_string(*it, "model");
  if (chat) {
    auto it = j.find("messages");
    if (it == j.end()) bad("messages", "missing (a chat request needs messages)");
    parse_messages(*it, &r, lim);
    if (j.contains("prompt")) bad("prompt", "not a chat field (use messages)");
  } else {
    auto it = j.find("prompt");
    if (it == j.end()) bad("prompt", "missing");
    parse_prompt(*it, &r, lim);
    if (j.contains("messages")) bad("messages", "not a completions field (use prompt)");
  }
  for (const char* k : {"max_tokens", "max_completion_tokens"})
    if (auto it = j.find(k); it != j.end() && !it->is_null())
      r.max_tokens = get_int(*it, k, 0, lim.max_tokens);
  if (auto it = j.find("temperature"); it != j.end() && !it->is_null())
    r.sampler.temperature = static_cast<float>(get_number(*it, "temperature", 0.0, 100.0));
  if (auto it = j.find("top_p"); it != j.end() && !it->is_null()) {
    r.sampler.top_p = static_cast<float>(get_number(*it, "top_p", 0.0, 1.0));
    if (r.sampler.top_p <= 0.0f) bad("top_p", "expected a number in (0, 1], got 0");
  }
  if (auto it = j.find("top_k"); it != j.end() && !it->is_null())
    r.sampler.top_k = get_int(*it, "top_k", 0, 1 << 30);
  if (auto it = j.find("seed"); it != j.end() && !it->is_null()) {
    r.sampler.seed = static_cast<uint64_t>(get_int(*it, "seed", std::numeric_limits<int64_t>::min(),
                                                   std::numeric_limits<int64_t>::max()));
    r.seeded = true;
  }
  if (auto it = j.find("stop"); it != j.end()) parse_stop(*it, &r, lim);
  if (auto it = j.find("stream"); it != j.end() && !it->is_null())
    r.stream = get_bool(*it, "stream");
  if (auto it = j.find("stream_options"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) bad("stream_options", "expected an object");
    if (auto u = it->find("include_usage"); u != it->end())
      r.include_usage = get_bool(*u, "stream_options.include_usage");
  }
  if (chat) {
    bool want = false;
    if (auto it = j.find("logprobs"); it != j.end() && !it->is_null())
      want = get_bool(*it, "logprobs");
    int top = 0;
    if (auto it = j.find("top_logprobs"); it != j.end() && !it->is_null()) {
      top = static_cast<int>(get_int(*it, "top_logprobs", 0, lim.max_logprobs));
      if (!want) bad("top_logprobs", "needs \"logprobs\": true");
    }
    r.logprobs = want ? top : -1;
    if (j.contains("echo")) bad("echo", "not a chat field");
  } else {
    if (auto it = j.find("logprobs"); it != j.end() && !it->is_null())
      r.logprobs = static_cast<int>(get_int(*it, "logprobs", 0, lim.max_logprobs));
    if (auto it = j.find("echo"); it != j.end() && !it->is_null()) r.echo = get_bool(*it, "echo");
  }
  if (r.echo && r.stream) bad("echo", "not supported together with stream");
  if (r.stream && (r.prompt_texts.size() + r.prompt_ids.size()) > 1)
    bad("prompt", "a streamed request takes one prompt");
  if (r.max_tokens == 0 && !r.echo) bad("max_tokens", "0 is only meaningful with echo");
  if (auto it = j.find("attention"); it != j.end() && !it->is_null())
    r.attention = get_string(*it, "attention");
  if (auto it = j.find("timeout"); it != j.end() && !it->is_null())
    r.timeout_seconds = get_number(*it, "timeout", 0.001, 1e6);
  return r;
}

}  // namespace

}  // namespace lc::server
