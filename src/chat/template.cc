#include "chat/template.h"

#include "chat/template_eval.h"
#include "chat/template_parser.h"
#include "core/error.h"

namespace lc::jinja {

Template Template::parse(std::string_view source) {
  Template t;
  t.ast_ = parse_template(source);
  return t;
}

std::string Template::render(const Value& context, const RenderOptions& opt) const {
  check(ast_ != nullptr, "chat template: render() on a template that was never parsed");
  try {
    Evaluator ev(opt, context);
    return ev.run(*ast_);
  } catch (const ValueError& e) {  // raised outside any expression (the context itself)
    fail("chat template: ", e.what());
  }
}

}  // namespace lc::jinja
