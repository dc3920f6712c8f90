// Expressions, following jinja2/parser.py's parse_* functions one for one.
#include "chat/template_builtins.h"
#include "chat/template_parser.h"
#include "core/error.h"

namespace lc::jinja {
namespace {

ExprPtr make(ExprKind kind, int line) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->line = line;
  return e;
}

ExprPtr make(ExprKind kind, int line, ExprPtr a, ExprPtr b = nullptr) {
  auto e = make(kind, line);
  e->args.push_back(std::move(a));
  if (b) e->args.push_back(std::move(b));
  return e;
}

// Counts nesting against kMaxNesting and gives it back on every exit: one level on entry, and
// one more for each node a loop wraps around the previous one (a + b + c is a tree as deep as
// it is long, so long chains are bounded like deep parentheses).
struct Nest {
  explicit Nest(TokenCursor& c) : c(c) { add(); }
  ~Nest() {
    for (; n > 0; --n) c.leave();
  }
  void add() {
    c.enter();
    ++n;
  }
  TokenCursor& c;
  int n = 0;
};

ExprPtr parse_or(TokenCursor& c);
ExprPtr parse_unary(TokenCursor& c, bool with_filter);
ExprPtr parse_primary(TokenCursor& c);
ExprPtr parse_postfix(TokenCursor& c, ExprPtr node);

// ( args, name=kwargs ) after the '(' was seen; appends to e.
void parse_call_args(TokenCursor& c, Expr& e) {
  c.expect_op("(");
  bool require_comma = false;
  while (!c.is_op(")")) {
    if (require_comma) {
      c.expect_op(",");
      if (c.is_op(")")) break;
    }
    if (c.is_op("*") || c.is_op("**")) c.error("unsupported argument unpacking '*' / '**'");
    if (c.cur().type == Tok::Name && c.peek().type == Tok::Op && c.peek().text == "=") {
      std::string key = c.next().text;
      c.next();
      e.kwargs.emplace_back(std::move(key), parse_expression(c));
    } else {
      if (!e.kwargs.empty()) c.error("positional argument after a keyword argument");
      e.args.push_back(parse_expression(c));
    }
    require_comma = true;
  }
  c.expect_op(")");
}

ExprPtr parse_condexpr(TokenCursor& c) {
  Nest nest(c);
  ExprPtr expr1 = parse_or(c);
  while (c.is_name("if")) {
    nest.add();
    const int line = c.next().line;
    ExprPtr cond = parse_or(c);
    ExprPtr otherwise = c.skip_name("else") ? parse_condexpr(c) : nullptr;
    auto e = make(ExprKind::CondExpr, line);
    e->args.push_back(std::move(cond));
    e->args.push_back(std::move(expr1));
    e->args.push_back(std::move(otherwise));
    expr1 = std::move(e);
  }
  return expr1;
}

ExprPtr parse_not(TokenCursor& c);

ExprPtr parse_and(TokenCursor& c) {
  Nest nest(c);
  ExprPtr left = parse_not(c);
  while (c.is_name("and")) {
    nest.add();
    const int line = c.next().line;
    left = make(ExprKind::And, line, std::move(left), parse_not(c));
  }
  return left;
}

ExprPtr parse_or(TokenCursor& c) {
  Nest nest(c);
  ExprPtr left = parse_and(c);
  while (c.is_name("or")) {
    nest.add();
    const int line = c.next().line;
    left = make(ExprKind::Or, line, std::move(left), parse_and(c));
  }
  return left;
}

// A left-associative level of binary operators over `operand`.
template <typename Operand>
ExprPtr binary_level(TokenCursor& c, std::initializer_list<std::string_view> ops, Operand operand) {
  Nest nest(c);
  ExprPtr left = operand(c);
  for (;;) {
    std::string_view op;
    for (std::string_view o : ops)
      if (c.is_op(o)) op = o;
    if (op.empty()) return left;
    nest.add();
    const int line = c.next().line;
    auto e = make(ExprKind::Binary, line, std::move(left), operand(c));
    e->name = std::string(op);
    left = std::move(e);
  }
}

ExprPtr parse_pow(TokenCursor& c) {
  return binary_level(c, {"**"}, [](TokenCursor& t) { return parse_unary(t, true); });
}
ExprPtr parse_math2(TokenCursor& c) { return binary_level(c, {"*", "/", "//", "%"}, parse_pow); }
ExprPtr parse_concat(TokenCursor& c) { return binary_level(c, {"~"}, parse_math2); }
ExprPtr parse_math1(TokenCursor& c) { return binary_level(c, {"+", "-"}, parse_concat); }

ExprPtr parse_compare(TokenCursor& c) {
  const int line = c.cur().line;
  ExprPtr first = parse_math1(c);
  ExprPtr cmp;
  for (;;) {
    std::string op;
    for (const char* o : {"==", "!=", "<", "<=", ">", ">="})
      if (c.is_op(o)) op = o;
    if (!op.empty()) {
      c.next();
    } else if (c.is_name("in")) {
      c.next();
      op = "in";
    } else if (c.is_name("not") && c.peek().type == Tok::Name && c.peek().text == "in") {
      c.next();
      c.next();
      op = "notin";
    } else {
      break;
    }
    if (!cmp) {
      cmp = make(ExprKind::Compare, line, std::move(first));
    }
    cmp->ops.push_back(op);
    cmp->args.push_back(parse_math1(c));
  }
  return cmp ? std::move(cmp) : std::move(first);
}

ExprPtr parse_not(TokenCursor& c) {
  if (c.is_name("not")) {
    Nest nest(c);
    const int line = c.next().line;
    return make(ExprKind::Not, line, parse_not(c));
  }
  return parse_compare(c);
}

ExprPtr parse_test(TokenCursor& c, ExprPtr subject) {
  const int line = c.next().line;  // 'is'
  const bool negated = c.skip_name("not");
  auto e = make(ExprKind::Test, line, std::move(subject));
  e->name = c.expect_name("a test name after 'is'");
  if (c.is_op(".")) c.error("unsupported test '" + e->name + ".'");
  e->test = find_test(e->name);
  if (!e->test) c.error("unsupported test '" + e->name + "'");
  const Token& t = c.cur();
  const bool arg_start = t.type == Tok::Name || t.type == Tok::String || t.type == Tok::Int ||
                         t.type == Tok::Float ||
                         (t.type == Tok::Op && (t.text == "(" || t.text == "[" || t.text == "{"));
  if (c.is_op("(")) {
    parse_call_args(c, *e);
  } else if (arg_start && !c.is_name("else") && !c.is_name("or") && !c.is_name("and")) {
    if (c.is_name("is")) c.error("cannot chain tests with 'is'");
    e->args.push_back(parse_postfix(c, parse_primary(c)));
  }
  e->negated = negated;
  return e;
}

ExprPtr parse_filter_expr(TokenCursor& c, ExprPtr node) {
  Nest nest(c);
  for (;;) {
    nest.add();
    if (c.is_op("|")) {
      c.next();
      node = parse_filter_call(c, std::move(node));
    } else if (c.is_name("is")) {
      node = parse_test(c, std::move(node));
    } else if (c.is_op("(")) {
      auto call = make(ExprKind::Call, c.cur().line, std::move(node));
      parse_call_args(c, *call);
      node = std::move(call);
    } else {
      return node;
    }
  }
}

ExprPtr parse_unary(TokenCursor& c, bool with_filter) {
  Nest nest(c);
  ExprPtr node;
  if (c.is_op("-") || c.is_op("+")) {
    const bool neg = c.is_op("-");
    const int line = c.next().line;
    node = make(neg ? ExprKind::Neg : ExprKind::Pos, line, parse_unary(c, false));
  } else {
    node = parse_primary(c);
  }
  node = parse_postfix(c, std::move(node));
  return with_filter ? parse_filter_expr(c, std::move(node)) : std::move(node);
}

// [a], [a:b:c] after the '['.
ExprPtr parse_subscript(TokenCursor& c, ExprPtr node, int line) {
  std::vector<ExprPtr> parts;  // a slice's start, stop, step
  bool slice = false;
  if (!c.is_op(":")) {
    ExprPtr index = parse_expression(c);
    if (!c.is_op(":")) {
      if (c.is_op(",")) c.error("unsupported tuple subscript [a, b]");
      c.expect_op("]");
      return make(ExprKind::GetItem, line, std::move(node), std::move(index));
    }
    parts.push_back(std::move(index));
  } else {
    parts.push_back(nullptr);
  }
  slice = c.skip_op(":");
  parts.push_back(c.is_op(":") || c.is_op("]") ? nullptr : parse_expression(c));
  if (slice && c.skip_op(":")) {
    parts.push_back(c.is_op("]") ? nullptr : parse_expression(c));
  } else {
    parts.push_back(nullptr);
  }
  c.expect_op("]");
  auto e = make(ExprKind::Slice, line, std::move(node));
  for (auto& p : parts) e->args.push_back(std::move(p));
  return e;
}

ExprPtr parse_postfix(TokenCursor& c, ExprPtr node) {
  Nest nest(c);
  for (;;) {
    nest.add();
    if (c.is_op(".")) {
      const int line = c.next().line;
      if (c.cur().type == Tok::Int) {
        auto index = make(ExprKind::Literal, line);
        index->value = Value::integer(c.next().int_value);
        node = make(ExprKind::GetItem, line, std::move(node), std::move(index));
      } else {
        auto e = make(ExprKind::GetAttr, line, std::move(node));
        e->name = c.expect_name("a name or number after '.'");
        node = std::move(e);
      }
    } else if (c.is_op("[")) {
      const int line = c.next().line;
      node = parse_subscript(c, std::move(node), line);
    } else if (c.is_op("(")) {
      auto call = make(ExprKind::Call, c.cur().line, std::move(node));
      parse_call_args(c, *call);
      node = std::move(call);
    } else {
      return node;
    }
  }
}

ExprPtr parse_primary(TokenCursor& c) {
  const Token& t = c.cur();
  const int line = t.line;
  if (t.type == Tok::Name) {
    auto e = make(ExprKind::Literal, line);
    const std::string& n = t.text;
    if (n == "true" || n == "True") {
      e->value = Value::boolean(true);
    } else if (n == "false" || n == "False") {
      e->value = Value::boolean(false);
    } else if (n == "none" || n == "None") {
      e->value = Value::none();
    } else {
      e->kind = ExprKind::Name;
      e->name = n;
    }
    c.next();
    return e;
  }
  if (t.type == Tok::String) {
    std::string s;
    while (c.cur().type == Tok::String) s += c.next().text;  // 'a' 'b' is 'ab'
    auto e = make(ExprKind::Literal, line);
    e->value = Value::string(std::move(s));
    return e;
  }
  if (t.type == Tok::Int || t.type == Tok::Float) {
    auto e = make(ExprKind::Literal, line);
    e->value = t.type == Tok::Int ? Value::integer(t.int_value) : Value::number(t.float_value);
    c.next();
    return e;
  }
  if (c.skip_op("(")) {
    ExprPtr e = parse_tuple(c, true, {}, true);
    c.expect_op(")");
    return e;
  }
  if (c.skip_op("[")) {
    auto e = make(ExprKind::List, line);
    while (!c.is_op("]")) {
      if (!e->args.empty()) c.expect_op(",");
      if (c.is_op("]")) break;
      e->args.push_back(parse_expression(c));
    }
    c.expect_op("]");
    return e;
  }
  if (c.skip_op("{")) {
    auto e = make(ExprKind::Dict, line);
    while (!c.is_op("}")) {
      if (!e->args.empty()) c.expect_op(",");
      if (c.is_op("}")) break;
      e->args.push_back(parse_expression(c));
      c.expect_op(":");
      e->args.push_back(parse_expression(c));
    }
    c.expect_op("}");
    return e;
  }
  c.unexpected("an expression");
}

}  // namespace

ExprPtr parse_filter_call(TokenCursor& c, ExprPtr subject) {
  const int line = c.cur().line;
  auto e = make(ExprKind::Filter, line);
  e->args.push_back(std::move(subject));
  e->name = c.expect_name("a filter name");
  if (c.is_op(".")) c.error("unsupported filter '" + e->name + ".'");
  e->filter = find_filter(e->name);
  if (!e->filter) c.error("unsupported filter '" + e->name + "'");
  if (c.is_op("(")) parse_call_args(c, *e);
  return e;
}

ExprPtr parse_expression(TokenCursor& c, bool with_condexpr) {
  return with_condexpr ? parse_condexpr(c) : parse_or(c);
}

ExprPtr parse_tuple(TokenCursor& c, bool with_condexpr,
                    std::initializer_list<std::string_view> extra_end, bool explicit_parens) {
  const int line = c.cur().line;
  auto at_end = [&] {
    const Token& t = c.cur();
    if (t.type == Tok::VarEnd || t.type == Tok::BlockEnd || t.type == Tok::Eof || c.is_op(")"))
      return true;
    for (std::string_view n : extra_end)
      if (c.is_name(n)) return true;
    return false;
  };
  std::vector<ExprPtr> items;
  bool is_tuple = false;
  for (;;) {
    if (!items.empty()) c.expect_op(",");
    if (at_end()) break;
    items.push_back(parse_expression(c, with_condexpr));
    if (!c.is_op(",")) break;
    is_tuple = true;
  }
  if (!is_tuple) {
    if (!items.empty()) return std::move(items[0]);
    if (!explicit_parens) c.unexpected("an expression");
  }
  auto e = make(ExprKind::Tuple, line);
  e->args = std::move(items);
  return e;
}

}  // namespace lc::jinja
