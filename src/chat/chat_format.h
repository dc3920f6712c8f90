// Chat messages -> the prompt text a model was trained on, through its chat template (the Jinja
// subset of src/chat/; docs/design.md "Chat templates"). The variables match what transformers'
// apply_chat_template passes to jinja2: messages (a list of {role, content} dicts),
// add_generation_prompt, bos_token, eos_token, tools = None and documents = None, plus any
// extra variables the caller names (date_string, enable_thinking, a tools list, ...).
//
//   lc::ChatRenderOptions opt;
//   opt.bos_token = "<|begin_of_text|>";
//   std::string prompt = lc::render_chat(source, {{"system", "Be brief."}, {"user", "Hi"}}, opt);
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "chat/template.h"
#include "chat/template_value.h"

namespace lc {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", ...
  std::string content;
};

struct ChatRenderOptions {
  bool add_generation_prompt = true;  // end with the header of the assistant's next turn
  std::string bos_token;              // the text of the model's BOS / EOS tokens
  std::string eos_token;
  // Further variables, e.g. {"date_string", Value::string("26 Jul 2024")},
  // {"enable_thinking", Value::boolean(false)}; one named like a variable above replaces it.
  std::vector<std::pair<std::string, jinja::Value>> variables;
  jinja::RenderOptions limits;
};

// Parses and renders; throws lc::Error "chat template line N: what".
std::string render_chat(const std::string& template_source,
                        const std::vector<ChatMessage>& messages, const ChatRenderOptions& opt);
// With a template parsed once (a conversation renders every turn).
std::string render_chat(const jinja::Template& tmpl, const std::vector<ChatMessage>& messages,
                        const ChatRenderOptions& opt);
// messages as template values: a list of dicts, which may carry content lists, tool_calls, ...
std::string render_chat(const jinja::Template& tmpl, const jinja::Value& messages,
                        const ChatRenderOptions& opt);

// The messages as the list of {"role", "content"} dicts a template iterates.
jinja::Value chat_messages_value(const std::vector<ChatMessage>& messages);

}  // namespace lc
