// A parsed chat template (the Jinja subset of src/chat/, docs/design.md "Chat templates"):
// parse once, render many times. Rendering follows Python jinja2 as transformers configures it
// (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols; raise_exception,
// strftime_now and its own tojson) -- tests/data/chat_templates.json holds jinja2's output for
// the real templates and per-construct cases, which tests/chat_template_parity_test.cc compares
// byte for byte.
//
//   auto t = lc::jinja::Template::parse(source);               // lc::Error on a syntax error
//   std::string text = t.render(lc::jinja::Value::dict({...}));  // the variables
//
// Every error is an lc::Error with one line, "chat template line N: what" -- a syntax error, an
// unsupported statement / filter / test (at parse time) or method (when called), an undefined
// variable used where jinja2 raises, raise_exception("...") -- and rendering is bounded: no
// recursion past RenderOptions::max_depth, no output or string past max_output_bytes, no more
// than max_steps evaluation steps.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "chat/template_value.h"

namespace lc {
class Json;
}

namespace lc::jinja {

struct TemplateAst;

struct RenderOptions {
  size_t max_output_bytes = size_t{256} << 20;  // the output, and any one string or list
  int64_t max_steps = 100'000'000;  // expressions, statements, loop iterations, items built
  int max_depth = 512;              // nested evaluation (macro calls multiply the tree depth)
  // strftime_now's clock: -1 = now in local time, as transformers; else this instant in UTC
  // (reproducible renders).
  int64_t now_unix_seconds = -1;
};

class Template {
 public:
  // Throws lc::Error "chat template line N: what".
  static Template parse(std::string_view source);
  // context: a dict of variable name -> value. Throws lc::Error "chat template line N: what".
  std::string render(const Value& context, const RenderOptions& opt = {}) const;

 private:
  std::shared_ptr<const TemplateAst> ast_;
};

// JSON (as the project's strict parser reads it) to template values: objects keep their key
// order, integers stay integers. Throws ValueError past kMaxValueDepth.
Value value_from_json(const Json& j);

}  // namespace lc::jinja
