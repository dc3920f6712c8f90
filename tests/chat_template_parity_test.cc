// longctx's chat-template rendering against Python jinja2 as transformers configures it:
// tests/data/chat_templates.json (written by tests/parity/chat_template_parity.py) holds
// jinja2's output for real model templates x message sets and for one template per construct;
// every case must render byte-identical, and every case jinja2 rejects must raise lc::Error
// (carrying raise_exception's message where the template raised one). Also: the real SmolLM2
// GGUF's template read through the loader.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "chat/chat_format.h"
#include "chat/chat_template_source.h"
#include "chat/template.h"
#include "formats/json.h"
#include "test_util.h"

namespace lc {
namespace {

using jinja::Template;
using jinja::Value;

const Json& fixture() {
  static const Json j = [] {
    const std::string path = std::string(LONGCTX_SOURCE_DIR) + "/tests/data/chat_templates.json";
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse_json(ss.str(), path);
  }();
  return j;
}

const std::string& str(const Json& obj, const char* key) {
  const Json* v = obj.find(key);
  if (!v || !v->is_string()) throw std::runtime_error(std::string("fixture: missing ") + key);
  return v->str();
}

// The context of a "render" case: base_context updated with the case's own variables.
Value render_context(const Json& f, const Json& c) {
  std::vector<std::pair<Value, Value>> vars;
  auto put = [&](const Json& obj) {
    for (const auto& [k, v] : obj.members()) {
      bool replaced = false;
      for (auto& kv : vars)
        if (kv.first.str() == k) {
          kv.second = jinja::value_from_json(v);
          replaced = true;
        }
      if (!replaced) vars.emplace_back(Value::string(k), jinja::value_from_json(v));
    }
  };
  if (c.find("base_context")) put(*f.find("base_context"));
  put(*c.find("context"));
  return Value::dict(std::move(vars));
}

// Renders one case as longctx would; throws lc::Error like the library.
std::string render_case(const Json& f, const Json& c) {
  const int64_t now = f.find("strftime_now_unix_seconds")->integer();
  const Json* tname = c.find("template");
  const Json* tmpl = tname ? f.find("templates")->find(tname->str()) : nullptr;
  const std::string source = tmpl ? str(*tmpl, "source") : str(c, "source");
  const Template t = Template::parse(source);
  if (str(c, "kind") == "chat") {
    ChatRenderOptions opt;
    opt.add_generation_prompt = c.find("add_generation_prompt")->boolean();
    opt.bos_token = str(*tmpl, "bos_token");
    opt.eos_token = str(*tmpl, "eos_token");
    opt.limits.now_unix_seconds = now;
    const Json& messages = *f.find("message_sets")->find(str(c, "messages"));
    return render_chat(t, jinja::value_from_json(messages), opt);
  }
  jinja::RenderOptions opt;
  opt.now_unix_seconds = now;
  return t.render(render_context(f, c), opt);
}

// First differing byte, for failure messages.
std::string first_difference(const std::string& got, const std::string& want) {
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  return "first difference at byte " + std::to_string(i) + ": got \"" + got.substr(i, 40) +
         "\", want \"" + want.substr(i, 40) + "\"";
}

TEST(ChatTemplateParity, EveryCaseMatchesJinja2) {
  const Json& f = fixture();
  const auto& cases = f.find("cases")->items();
  ASSERT_GT(cases.size(), 300u);
  int identical = 0, errors = 0;
  std::vector<std::string> failures;
  for (const Json& c : cases) {
    const std::string& name = str(c, "name");
    const Json* expected = c.find("expected");
    std::string got, error;
    try {
      got = render_case(f, c);
    } catch (const Error& e) {
      error = e.what();
    }
    if (expected) {
      if (!error.empty())
        failures.push_back(name + ": error " + error);
      else if (got != expected->str())
        failures.push_back(name + ": " + first_difference(got, expected->str()));
      else
        ++identical;
      continue;
    }
    const Json* contains = c.find("error_contains");
    if (error.empty()) {
      failures.push_back(name + ": rendered, but jinja2 raised " + str(c, "error"));
    } else if (error.rfind("chat template", 0) != 0 || error.find('\n') != std::string::npos) {
      failures.push_back(name + ": error not one 'chat template ...' line: " + error);
    } else if (contains && error.find(contains->str()) == std::string::npos) {
      failures.push_back(name + ": error '" + error + "' lacks '" + contains->str() + "'");
    } else {
      ++errors;
    }
  }
  std::string all;
  for (const auto& s : failures) all += s + "\n";
  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << cases.size() << " cases differ:\n"
                                << all;
  std::cout << "[ chat templates ] " << cases.size() << " cases vs jinja2 "
            << str(f, "jinja2_version") << ": " << identical << " byte-identical renders, "
            << errors << " errors where jinja2 raises too\n";
}

// The fixture covers the model families issue 16 names (SmolLM2 read from its GGUF file).
TEST(ChatTemplateParity, RealTemplatesAreListed) {
  const Json& templates = *fixture().find("templates");
  for (const char* name :
       {"smollm2", "llama3", "llama3.1", "gemma3", "qwen2.5", "mistral", "chatml", "phi3"})
    EXPECT_NE(templates.find(name), nullptr) << name;
}

TEST(ChatTemplateSource, RealSmolLM2GgufTemplateRendersTwoTurns) {
  const std::string path = test::asset("real_models/SmolLM2-135M-Instruct.Q4_1.gguf");
  LC_REQUIRE_ASSET(path);
  const auto src = load_chat_template(path);
  ASSERT_TRUE(src.has_value());
  EXPECT_EQ(src->bos_token, "<|im_start|>");
  EXPECT_EQ(src->eos_token, "<|im_end|>");
  EXPECT_NE(src->origin.find("tokenizer.chat_template"), std::string::npos) << src->origin;
  ChatRenderOptions opt;
  opt.bos_token = src->bos_token;
  opt.eos_token = src->eos_token;
  const std::string got = render_chat(src->source,
                                      {{"user", "What is the capital of France?"},
                                       {"assistant", "Paris."},
                                       {"user", "And of Italy?"}},
                                      opt);
  EXPECT_EQ(got,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
            "Face<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
            "<|im_start|>assistant\nParis.<|im_end|>\n<|im_start|>user\nAnd of Italy?<|im_end|>\n"
            "<|im_start|>assistant\n");
  // The same file seen through the loaded-model entry point.
  ModelFile model;
  model.path = path;
  const auto again = chat_template_for_model(model);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->source, src->source);
}

}  // namespace
}  // namespace lc
