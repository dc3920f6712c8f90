#include "chat/chat_format.h"

namespace lc {

jinja::Value chat_messages_value(const std::vector<ChatMessage>& messages) {
  using jinja::Value;
  std::vector<Value> items;
  items.reserve(messages.size());
  for (const ChatMessage& m : messages)
    items.push_back(Value::dict({{Value::string("role"), Value::string(m.role)},
                                 {Value::string("content"), Value::string(m.content)}}));
  return Value::list(std::move(items));
}

std::string render_chat(const jinja::Template& tmpl, const jinja::Value& messages,
                        const ChatRenderOptions& opt) {
  using jinja::Value;
  std::vector<std::pair<Value, Value>> vars = {
      {Value::string("messages"), messages},
      {Value::string("tools"), Value::none()},
      {Value::string("documents"), Value::none()},
      {Value::string("add_generation_prompt"), Value::boolean(opt.add_generation_prompt)},
      {Value::string("bos_token"), Value::string(opt.bos_token)},
      {Value::string("eos_token"), Value::string(opt.eos_token)},
  };
  for (const auto& [name, value] : opt.variables) {
    bool replaced = false;
    for (auto& v : vars)
      if (v.first.str() == name) {
        v.second = value;
        replaced = true;
      }
    if (!replaced) vars.emplace_back(Value::string(name), value);
  }
  return tmpl.render(Value::dict(std::move(vars)), opt.limits);
}

std::string render_chat(const jinja::Template& tmpl, const std::vector<ChatMessage>& messages,
                        const ChatRenderOptions& opt) {
  return render_chat(tmpl, chat_messages_value(messages), opt);
}

std::string render_chat(const std::string& template_source,
                        const std::vector<ChatMessage>& messages, const ChatRenderOptions& opt) {
  return render_chat(jinja::Template::parse(template_source), messages, opt);
}

}  // namespace lc
