// libFuzzer target for the chat-template interpreter (src/chat/): the input is a template
// source, parsed and rendered over fixed messages (system, user, assistant, user, with content
// lists and a tool call in a second rendering) under small limits. It must give text or an
// lc::Error -- never a crash, a hang, unbounded recursion or memory, or a leak -- and the text
// must respect the output limit.
#include <cstddef>
#include <cstdint>
#include <string>

#include "chat/chat_format.h"
#include "chat/template.h"
#include "core/error.h"
#include "formats/json.h"

namespace {

const lc::jinja::Value& rich_messages() {
  static const lc::jinja::Value v = lc::jinja::value_from_json(lc::parse_json(
      R"([{"role": "system", "content": [{"type": "text", "text": "sys"}]},
          {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "what?"}]},
          {"role": "assistant", "content": null, "tool_calls": [{"id": "call12345",
           "type": "function", "function": {"name": "f", "arguments": {"x": 1.5, "y": [true]}}}]},
          {"role": "tool", "content": "{\"r\": 1}", "tool_call_id": "call12345"}])",
      "fuzz messages"));
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string source(reinterpret_cast<const char*>(data), size);
  lc::ChatRenderOptions opt;
  opt.bos_token = "<s>";
  opt.eos_token = "</s>";
  opt.variables = {{"date_string", lc::jinja::Value::string("26 Jul 2024")},
                   {"enable_thinking", lc::jinja::Value::boolean(false)}};
  opt.limits.max_output_bytes = 1 << 16;
  opt.limits.max_steps = 200000;
  opt.limits.now_unix_seconds = 0;
  try {
    const lc::jinja::Template t = lc::jinja::Template::parse(source);
    for (const bool agp : {false, true}) {
      opt.add_generation_prompt = agp;
      try {
        const std::string out = lc::render_chat(t,
                                                {{"system", "Be brief."},
                                                 {"user", "Hi \"there\"\n"},
                                                 {"assistant", "Hello!"},
                                                 {"user", "\xC3\xA9 \xF0\x9F\x99\x82"}},
                                                opt);
        if (out.size() > opt.limits.max_output_bytes) __builtin_trap();
      } catch (const lc::Error&) {
      }
    }
    try {
      lc::render_chat(t, rich_messages(), opt);
    } catch (const lc::Error&) {
    }
  } catch (const lc::Error&) {
  }
  return 0;
}
