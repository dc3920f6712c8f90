// The static part of jinja2's scoping (see analyze_scopes in template_ast.h). Frames are the
// top level, a for loop's body and its else block, a macro, and the bodies of set blocks,
// filter blocks, with and generation. In each, names are collected in jinja2's visiting order:
// expressions evaluated in the frame load names, set / set-block / macro store them, and the
// frames nested inside are analysed afterwards with this one as an enclosing frame.
#include <map>
#include <string>
#include <vector>

#include "chat/template_ast.h"

namespace lc::jinja {
namespace {

enum class Ref : uint8_t { Load, Store, BranchStore, Param };

struct Frame {
  std::map<std::string, Ref> first;  // the first reference to each name
  void add(const std::string& name, Ref r) { first.emplace(name, r); }
};

void loads(const Expr* e, Frame& f) {
  if (!e) return;
  if (e->kind == ExprKind::Name) f.add(e->name, Ref::Load);
  for (const auto& a : e->args) loads(a.get(), f);
  for (const auto& kw : e->kwargs) loads(kw.second.get(), f);
}

// The references statements make in the frame they belong to (not inside nested frames).
void collect(const std::vector<StmtPtr>& body, Frame& f, bool in_branch) {
  const Ref store = in_branch ? Ref::BranchStore : Ref::Store;
  for (const auto& s : body) {
    switch (s->kind) {
      case StmtKind::Output:
        loads(s->expr.get(), f);
        break;
      case StmtKind::If:
        loads(s->expr.get(), f);
        collect(s->body, f, true);  // a store in a branch resolves from outside (branch_update)
        collect(s->else_body, f, true);
        break;
      case StmtKind::For:
      case StmtKind::FilterBlock:
        loads(s->expr.get(), f);  // the iterable; the filter's arguments
        break;
      case StmtKind::Set:
        loads(s->expr.get(), f);
        if (!s->attr.empty()) {
          f.add(s->targets[0], Ref::Load);  // ns.attr = ... reads ns
        } else {
          for (const auto& t : s->targets) f.add(t, store);
        }
        break;
      case StmtKind::SetBlock:
        f.add(s->targets[0], store);
        break;
      case StmtKind::Macro:
        f.add(s->name, store);
        break;
      case StmtKind::With:
        for (const auto& p : s->params) loads(p.second.get(), f);
        break;
      default:
        break;
    }
  }
}

using Enclosing = std::vector<const Frame*>;

void analyze(const std::vector<StmtPtr>& body, const std::vector<std::string>& params,
             const std::vector<const Expr*>& frame_exprs, const Enclosing& enclosing,
             std::vector<std::string>& fresh);

// The frames nested in `body` (looking through if branches, which are not frames).
void children(const std::vector<StmtPtr>& body, const Enclosing& enclosing) {
  for (const auto& s : body) {
    switch (s->kind) {
      case StmtKind::If:
        children(s->body, enclosing);
        children(s->else_body, enclosing);
        break;
      case StmtKind::For: {
        std::vector<std::string> params = s->targets;
        params.push_back("loop");
        analyze(s->body, params, {}, enclosing, s->fresh);
        analyze(s->else_body, {}, {}, enclosing, s->else_fresh);
        break;
      }
      case StmtKind::Macro: {
        std::vector<std::string> params;
        std::vector<const Expr*> defaults;
        for (const auto& p : s->params) {
          params.push_back(p.first);
          defaults.push_back(p.second.get());
        }
        analyze(s->body, params, defaults, enclosing, s->fresh);
        break;
      }
      case StmtKind::With: {
        std::vector<std::string> params;
        for (const auto& p : s->params) params.push_back(p.first);
        analyze(s->body, params, {}, enclosing, s->fresh);
        break;
      }
      case StmtKind::SetBlock:
      case StmtKind::FilterBlock:
      case StmtKind::Generation:
        analyze(s->body, {}, {}, enclosing, s->fresh);
        break;
      default:
        break;
    }
  }
}

void analyze(const std::vector<StmtPtr>& body, const std::vector<std::string>& params,
             const std::vector<const Expr*>& frame_exprs, const Enclosing& enclosing,
             std::vector<std::string>& fresh) {
  Frame f;
  for (const auto& p : params) f.add(p, Ref::Param);
  for (const Expr* e : frame_exprs) loads(e, f);
  collect(body, f, false);
  for (const auto& [name, ref] : f.first) {
    if (ref != Ref::Store) continue;
    bool outer = false;
    for (const Frame* e : enclosing) outer = outer || e->first.count(name) > 0;
    if (!outer) fresh.push_back(name);
  }
  Enclosing inner = enclosing;
  inner.push_back(&f);
  children(body, inner);
}

}  // namespace

void analyze_scopes(TemplateAst& ast) { analyze(ast.body, {}, {}, {}, ast.fresh); }

}  // namespace lc::jinja
