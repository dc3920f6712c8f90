// The chat-template evaluator: walks a TemplateAst over a context of variables and writes the
// output. Scopes follow jinja2: the template's top level holds the context variables and its
// {% set %}s; each for-loop iteration, macro call and {% with %} gets a child scope, so a set
// inside a loop body is gone after the iteration (namespace attributes are how templates carry
// state across iterations); if/elif/else have no scope of their own.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/template.h"
#include "chat/template_ast.h"
#include "chat/template_value.h"

namespace lc::jinja {

class Evaluator {
 public:
  Evaluator(const RenderOptions& opt, const Value& context);
  std::string run(const TemplateAst& ast);

  // For the builtins.
  [[noreturn]] void error(int line, const std::string& what) const;
  // Spends `steps` of the budget; throws when it is exhausted.
  void charge(int64_t steps, int line);
  // A new string value, checked against max_output_bytes and charged by its size.
  Value make_string(std::string s, int line);
  // A new list or tuple, charged by its length.
  Value make_list(std::vector<Value> items, int line, bool tuple = false);
  Value getattr(const Value& obj, const std::string& name, int line);
  Value getitem(const Value& obj, const Value& key, int line);
  Value call(const Value& fn, CallArgs& args, int line);
  // The items a for loop over v visits: list/tuple items, dict keys, a string's characters;
  // undefined gives none; anything else throws.
  std::vector<Value> iterate(const Value& v, int line);
  const RenderOptions& options() const { return opt_; }

 private:
  // Scopes live on the heap so that a macro can hold its defining scope weakly (a macro is a
  // closure over the scope it was defined in, as in jinja2); parents outlive their children.
  struct Scope : std::enable_shared_from_this<Scope> {
    Scope* parent = nullptr;
    std::vector<std::pair<std::string, Value>> vars;
    Value lookup(const std::string& name) const;
    void set(const std::string& name, Value v);
  };
  enum class Flow : uint8_t { Normal, Break, Continue };
  // Counts nested evaluation against RenderOptions::max_depth.
  struct DepthGuard {
    DepthGuard(Evaluator& ev, int line) : ev(ev) {
      if (++ev.depth_ > ev.opt_.max_depth)
        ev.error(line, "evaluation nested deeper than " + std::to_string(ev.opt_.max_depth) +
                           " levels (a macro that calls itself?)");
    }
    ~DepthGuard() { --ev.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;
    Evaluator& ev;
  };

  Flow exec(const std::vector<StmtPtr>& body, Scope& scope);
  Flow exec(const Stmt& s, Scope& scope);
  void exec_for(const Stmt& s, Scope& scope);
  void exec_set(const Stmt& s, Scope& scope);
  std::string capture(const std::vector<StmtPtr>& body, Scope& scope);
  Value call_macro(const Stmt& macro, Scope* closure, CallArgs& args, int line);
  // A new scope under `parent` where the names in `fresh` start out undefined.
  static std::shared_ptr<Scope> child(Scope& parent, const std::vector<std::string>& fresh = {});
  void bind_targets(const std::vector<std::string>& targets, const Value& v, Scope& scope,
                    int line);
  void emit(const std::string& s, int line);

  Value eval(const Expr& e, Scope& scope);
  Value eval_node(const Expr& e, Scope& scope);
  Value eval_filter(const Expr& e, Scope& scope, const Value* block_subject);
  void eval_args(const Expr& e, size_t first, Scope& scope, CallArgs& out);
  Value binary(const std::string& op, const Value& a, const Value& b, int line);
  bool compare(const std::string& op, const Value& a, const Value& b, int line);
  Value slice(const Value& obj, const Expr& e, Scope& scope);

  RenderOptions opt_;
  std::shared_ptr<Scope> globals_;
  std::shared_ptr<Scope> top_;
  std::string* out_ = nullptr;
  int64_t steps_ = 0;
  int depth_ = 0;
};

}  // namespace lc::jinja
