// The syntax tree of a parsed chat template: statements (text, {{ }} output, if, for, set,
// macro, ...) holding expressions. Built by template_parser.cc, walked by template_eval.cc.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/template_value.h"

namespace lc::jinja {

// A filter (x|name(args)) and a test (x is name(args)); resolved while parsing, so a template
// naming an unsupported one fails to parse.
using FilterFn = Value (*)(Evaluator& ev, const Value& subject, CallArgs& args, int line);
using TestFn = bool (*)(Evaluator& ev, const Value& subject, CallArgs& args, int line);

enum class ExprKind : uint8_t {
  Literal,   // value
  Name,      // name
  List,      // args
  Tuple,     // args
  Dict,      // args: key0, value0, key1, value1, ...
  GetAttr,   // args[0] . name
  GetItem,   // args[0] [ args[1] ]
  Slice,     // args[0] [ args[1] : args[2] : args[3] ]; omitted parts are null
  Call,      // args[0] ( args[1..], kwargs )
  Filter,    // args[0] | name ( args[1..], kwargs ); args[0] is null in {% filter %}
  Test,      // args[0] is [not] name ( args[1..], kwargs )
  Not,       // args[0]
  Neg,       // args[0]
  Pos,       // args[0]
  Binary,    // args[0] name args[1]; name one of + - * / // % ** ~
  And,       // args[0] and args[1]
  Or,        // args[0] or args[1]
  Compare,   // args[0] ops[0] args[1] ops[1] args[2] ...; ops == != < <= > >= in notin
  CondExpr,  // args[1] if args[0] else args[2] (null: undefined)
};

struct Expr {
  ExprKind kind = ExprKind::Literal;
  int line = 0;
  std::string name;
  Value value;
  std::vector<std::unique_ptr<Expr>> args;
  std::vector<std::pair<std::string, std::unique_ptr<Expr>>> kwargs;
  std::vector<std::string> ops;
  bool negated = false;  // Test: `is not`
  FilterFn filter = nullptr;
  TestFn test = nullptr;
};
using ExprPtr = std::unique_ptr<Expr>;

enum class StmtKind : uint8_t {
  Text,         // text
  Output,       // {{ expr }}
  If,           // if expr: body else else_body (an elif is an If alone in else_body)
  For,          // for targets in expr [if cond]: body, else_body when nothing was iterated
  Set,          // set targets = expr; with attr: set targets[0].attr = expr (a namespace)
  SetBlock,     // set targets[0]: body captured as a string
  Macro,        // macro name(params): body
  Break,        // break
  Continue,     // continue
  FilterBlock,  // filter expr (a Filter with a null subject): body
  With,         // with params: body (a scope of its own)
  Generation,   // generation: body (transformers' assistant-mask marker; renders the body)
};

struct Stmt {
  StmtKind kind = StmtKind::Text;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr cond;
  std::vector<std::string> targets;
  std::string attr;
  std::string name;
  std::vector<std::pair<std::string, ExprPtr>> params;  // Macro (default may be null), With
  std::vector<std::unique_ptr<Stmt>> body;
  std::vector<std::unique_ptr<Stmt>> else_body;
  // For the scopes this statement opens (For: body and else; Macro, SetBlock, FilterBlock,
  // With, Generation: body): the names that start out undefined there (template_scopes.cc).
  std::vector<std::string> fresh;
  std::vector<std::string> else_fresh;
};
using StmtPtr = std::unique_ptr<Stmt>;

struct TemplateAst {
  std::vector<StmtPtr> body;
  std::vector<std::string> fresh;  // names undefined at the start of the top level
};

// jinja2 resolves names per scope when it compiles (jinja2/idtracking.py): a name whose first
// reference in a scope is an assignment -- not inside an if branch -- and that no enclosing
// scope mentions starts out undefined in that scope, hiding any outer or context value, e.g.
// {% for m in messages %}{{ x }}{% endfor %}{% set x = 1 %} prints nothing for a context x.
// Fills the `fresh` lists; the evaluator declares those names undefined on entering a scope.
void analyze_scopes(TemplateAst& ast);

}  // namespace lc::jinja
