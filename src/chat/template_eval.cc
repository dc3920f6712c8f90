// Statements, scopes, calls and the budget; expressions are in template_eval_expr.cc.
#include "chat/template_eval.h"

#include "chat/template_builtins.h"
#include "core/error.h"

namespace lc::jinja {

Value Evaluator::Scope::lookup(const std::string& name) const {
  for (const Scope* s = this; s; s = s->parent)
    for (const auto& v : s->vars)
      if (v.first == name) return v.second;
  return Value::undefined("'" + name + "' is undefined");
}

void Evaluator::Scope::set(const std::string& name, Value v) {
  for (auto& var : vars)
    if (var.first == name) {
      var.second = std::move(v);
      return;
    }
  vars.emplace_back(name, std::move(v));
}

std::shared_ptr<Evaluator::Scope> Evaluator::child(Scope& parent,
                                                   const std::vector<std::string>& fresh) {
  auto s = std::make_shared<Scope>();
  s->parent = &parent;
  for (const auto& name : fresh) s->set(name, Value::undefined("'" + name + "' is undefined"));
  return s;
}

Evaluator::Evaluator(const RenderOptions& opt, const Value& context)
    : opt_(opt), globals_(std::make_shared<Scope>()) {
  globals_->vars = global_functions();
  top_ = child(*globals_);
  if (context.kind() != Kind::Dict) throw ValueError("the template context must be a dict");
  for (const auto& kv : context.dict().items) {
    if (!kv.first.is_string()) throw ValueError("template variable names must be strings");
    top_->set(kv.first.str(), kv.second);
  }
}

std::string Evaluator::run(const TemplateAst& ast) {
  std::string out;
  out_ = &out;
  for (const auto& name : ast.fresh)  // assigned later at the top level: hidden until then
    top_->set(name, Value::undefined("'" + name + "' is undefined"));
  exec(ast.body, *top_);
  return out;
}

void Evaluator::error(int line, const std::string& what) const {
  std::string msg = what;
  for (char& ch : msg)
    if (ch == '\n' || ch == '\r') ch = ' ';  // one line
  fail("chat template line ", line, ": ", msg);
}

void Evaluator::charge(int64_t steps, int line) {
  steps_ += steps;
  if (steps_ > opt_.max_steps)
    error(line, "rendering took more than " + std::to_string(opt_.max_steps) +
                    " steps (RenderOptions::max_steps)");
}

Value Evaluator::make_string(std::string s, int line) {
  if (s.size() > opt_.max_output_bytes)
    error(line, "a string longer than " + std::to_string(opt_.max_output_bytes) +
                    " bytes (RenderOptions::max_output_bytes)");
  charge(static_cast<int64_t>(s.size() / 64), line);
  return Value::string(std::move(s));
}

Value Evaluator::make_list(std::vector<Value> items, int line, bool tuple) {
  if (items.size() > opt_.max_output_bytes)
    error(line, "a list longer than " + std::to_string(opt_.max_output_bytes) + " items");
  charge(static_cast<int64_t>(items.size()), line);
  try {
    return tuple ? Value::tuple(std::move(items)) : Value::list(std::move(items));
  } catch (const ValueError& e) {
    error(line, e.what());
  }
}

void Evaluator::emit(const std::string& s, int line) {
  if (out_->size() + s.size() > opt_.max_output_bytes)
    error(line, "output longer than " + std::to_string(opt_.max_output_bytes) +
                    " bytes (RenderOptions::max_output_bytes)");
  charge(static_cast<int64_t>(s.size() / 64), line);
  out_->append(s);
}

std::string Evaluator::capture(const std::vector<StmtPtr>& body, Scope& scope) {
  std::string buf;
  std::string* saved = out_;
  out_ = &buf;
  try {
    exec(body, scope);
  } catch (...) {
    out_ = saved;
    throw;
  }
  out_ = saved;
  return buf;
}

Evaluator::Flow Evaluator::exec(const std::vector<StmtPtr>& body, Scope& scope) {
  for (const auto& s : body) {
    const Flow f = exec(*s, scope);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Evaluator::Flow Evaluator::exec(const Stmt& s, Scope& scope) {
  DepthGuard guard(*this, s.line);
  charge(1, s.line);
  switch (s.kind) {
    case StmtKind::Text:
      emit(s.text, s.line);
      break;
    case StmtKind::Output:
      emit(to_str(eval(*s.expr, scope)), s.line);
      break;
    case StmtKind::If:
      return exec(truthy(eval(*s.expr, scope)) ? s.body : s.else_body, scope);
    case StmtKind::For:
      exec_for(s, scope);
      break;
    case StmtKind::Set:
    case StmtKind::SetBlock:
      exec_set(s, scope);
      break;
    case StmtKind::Macro: {
      const Stmt* macro = &s;
      std::weak_ptr<Scope> closure = scope.weak_from_this();
      scope.set(s.name,
                Value::function(s.name, [macro, closure](Evaluator& ev, CallArgs& a, int line) {
                  const std::shared_ptr<Scope> def = closure.lock();
                  if (!def) ev.error(line, "macro '" + macro->name + "' called outside its scope");
                  return ev.call_macro(*macro, def.get(), a, line);
                }));
      break;
    }
    case StmtKind::Break:
      return Flow::Break;
    case StmtKind::Continue:
      return Flow::Continue;
    case StmtKind::FilterBlock: {
      const auto inner = child(scope, s.fresh);
      const Value body = make_string(capture(s.body, *inner), s.line);
      emit(to_str(eval_filter(*s.expr, scope, &body)), s.line);
      break;
    }
    case StmtKind::With: {
      const auto inner = child(scope, s.fresh);
      for (const auto& p : s.params) inner->set(p.first, eval(*p.second, scope));
      return exec(s.body, *inner);
    }
    case StmtKind::Generation: {  // transformers renders it as a call block: its own scope
      const auto inner = child(scope, s.fresh);
      return exec(s.body, *inner);
    }
  }
  return Flow::Normal;
}

void Evaluator::bind_targets(const std::vector<std::string>& targets, const Value& v, Scope& scope,
                             int line) {
  if (targets.size() == 1) {
    scope.set(targets[0], v);
    return;
  }
  const std::vector<Value> parts = iterate(v, line);
  if (parts.size() != targets.size())
    error(line, "cannot unpack " + std::to_string(parts.size()) + " values into " +
                    std::to_string(targets.size()) + " names");
  for (size_t i = 0; i < parts.size(); ++i) scope.set(targets[i], parts[i]);
}

void Evaluator::exec_for(const Stmt& s, Scope& scope) {
  std::vector<Value> items = iterate(eval(*s.expr, scope), s.line);
  if (s.cond) {  // {% for x in xs if cond %}: loop.* count only the items kept
    std::vector<Value> kept;
    for (auto& item : items) {
      charge(1, s.line);
      const auto probe = child(scope);
      bind_targets(s.targets, item, *probe, s.line);
      if (truthy(eval(*s.cond, *probe))) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    const auto inner = child(scope, s.else_fresh);
    exec(s.else_body, *inner);
    return;
  }
  const auto n = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < n; ++i) {
    charge(1, s.line);
    const auto inner_ptr = child(scope, s.fresh);
    Scope& inner = *inner_ptr;
    bind_targets(s.targets, items[i], inner, s.line);
    std::vector<std::pair<Value, Value>> loop;
    auto add = [&](const char* key, Value v) { loop.emplace_back(Value::string(key), v); };
    add("index", Value::integer(i + 1));
    add("index0", Value::integer(i));
    add("revindex", Value::integer(n - i));
    add("revindex0", Value::integer(n - i - 1));
    add("first", Value::boolean(i == 0));
    add("last", Value::boolean(i == n - 1));
    add("length", Value::integer(n));
    add("depth", Value::integer(1));
    add("depth0", Value::integer(0));
    if (i > 0) add("previtem", items[i - 1]);
    if (i + 1 < n) add("nextitem", items[i + 1]);
    add("cycle", Value::function("loop.cycle", [i](Evaluator& ev, CallArgs& a, int line) {
          if (a.args.empty() || !a.kwargs.empty())
            ev.error(line, "loop.cycle() takes one or more positional arguments");
          return a.args[static_cast<size_t>(i) % a.args.size()];
        }));
    inner.set("loop", Value::dict(std::move(loop)));
    if (exec(s.body, inner) == Flow::Break) break;
  }
}

void Evaluator::exec_set(const Stmt& s, Scope& scope) {
  if (s.kind == StmtKind::SetBlock) {  // the block's own sets stay inside it (jinja2)
    const auto inner = child(scope, s.fresh);
    scope.set(s.targets[0], make_string(capture(s.body, *inner), s.line));
    return;
  }
  Value v = eval(*s.expr, scope);
  if (s.attr.empty()) {
    bind_targets(s.targets, v, scope, s.line);
    return;
  }
  const Value ns = scope.lookup(s.targets[0]);
  if (ns.kind() != Kind::Namespace)
    error(s.line, "cannot assign attribute '" + s.attr + "' on '" + s.targets[0] +
                      "', which is not a namespace()");
  if (v.kind() == Kind::Namespace || v.kind() == Kind::Function || v.has_object())
    error(s.line, "unsupported: a namespace attribute holding a namespace or a callable");
  if (v.depth() + 1 > kMaxValueDepth)
    error(s.line, "value nested deeper than " + std::to_string(kMaxValueDepth) + " levels");
  if (Value* slot = ns.ns().find(s.attr))
    *slot = std::move(v);
  else
    ns.ns().attrs.emplace_back(s.attr, std::move(v));
}

Value Evaluator::call(const Value& fn, CallArgs& args, int line) {
  charge(1, line);
  if (fn.is_undefined()) error(line, fn.undefined_hint());
  if (fn.kind() != Kind::Function)
    error(line, std::string("'") + type_name(fn) + "' object is not callable");
  return fn.fn().call(*this, args, line);
}

Value Evaluator::call_macro(const Stmt& macro, Scope* closure, CallArgs& args, int line) {
  DepthGuard guard(*this, line);
  if (args.args.size() > macro.params.size())
    error(line, "macro '" + macro.name + "' takes " + std::to_string(macro.params.size()) +
                    " arguments, " + std::to_string(args.args.size()) + " given");
  const auto inner_ptr = child(*closure, macro.fresh);
  Scope& inner = *inner_ptr;
  std::vector<bool> given(macro.params.size(), false);
  for (size_t i = 0; i < args.args.size(); ++i) {
    inner.set(macro.params[i].first, args.args[i]);
    given[i] = true;
  }
  for (auto& kw : args.kwargs) {
    size_t i = 0;
    while (i < macro.params.size() && macro.params[i].first != kw.first) ++i;
    if (i == macro.params.size())
      error(line, "macro '" + macro.name + "' has no parameter '" + kw.first + "'");
    if (given[i]) error(line, "macro '" + macro.name + "' got parameter '" + kw.first + "' twice");
    inner.set(kw.first, kw.second);
    given[i] = true;
  }
  for (size_t i = 0; i < macro.params.size(); ++i) {
    if (given[i]) continue;
    const auto& p = macro.params[i];
    inner.set(p.first, p.second ? eval(*p.second, inner)
                                : Value::undefined("parameter '" + p.first + "' of macro '" +
                                                   macro.name + "' was not given"));
  }
  return make_string(capture(macro.body, inner), line);
}

std::vector<Value> Evaluator::iterate(const Value& v, int line) {
  std::vector<Value> out;
  switch (v.kind()) {
    case Kind::Undefined:
      break;
    case Kind::List:
    case Kind::Tuple:
      out = v.items();
      break;
    case Kind::Dict:
      for (const auto& kv : v.dict().items) out.push_back(kv.first);
      break;
    case Kind::String: {
      const std::string& s = v.str();
      const auto offs = code_point_offsets(s);
      for (size_t k = 0; k + 1 < offs.size(); ++k)
        out.push_back(Value::string(s.substr(offs[k], offs[k + 1] - offs[k])));
      break;
    }
    case Kind::Generator: {  // single use: hands out what is left
      GeneratorData& g = v.gen();
      if (!g.started) {
        g.started = true;
        g.items = g.produce(*this);
        g.produce = nullptr;  // release what it captured
      }
      out.assign(g.items.begin() + static_cast<std::ptrdiff_t>(g.next), g.items.end());
      g.next = g.items.size();
      break;
    }
    default:
      error(line, std::string("'") + type_name(v) + "' object is not iterable");
  }
  charge(static_cast<int64_t>(out.size()), line);
  return out;
}

}  // namespace lc::jinja
