// The chat-template parser: tokens -> TemplateAst, with jinja2's grammar and operator
// precedence (jinja2/parser.py is the model): conditional expressions, or, and, not,
// comparisons (== != < <= > >= in, not in), + -, ~, * / // %, **, unary - +, then postfix
// (.attr, [index], [a:b:c], calls), filters (|name(args)) and tests (is [not] name args).
// Statements: if/elif/else, for (targets, `if` filter, else), set (name, a, b, ns.attr, block
// form), macro, break/continue, filter, with, print, generation. Anything else -- include,
// import, extends, call, do, recursive loops, *args -- is an error naming the construct and
// the line, as are unsupported filters and tests and nesting deeper than kMaxNesting.
#pragma once
#include <algorithm>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chat/template_ast.h"
#include "chat/template_lexer.h"

namespace lc::jinja {

// Nesting the parser accepts, counted in grammar levels (a bare name in {{ }} is about ten, each
// pair of parentheses about ten more, each wrapping statement one). It bounds the parser's
// recursion and the depth of the tree, hence the evaluator's recursion within one macro.
constexpr int kMaxNesting = 256;

// Throws lc::Error "chat template line N: what".
std::unique_ptr<TemplateAst> parse_template(std::string_view source);

// The token stream, shared by the statement and the expression parser.
class TokenCursor {
 public:
  explicit TokenCursor(std::vector<Token> tokens) : t_(std::move(tokens)) {}
  const Token& cur() const { return t_[i_]; }
  const Token& peek(size_t k = 1) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
  const Token& next() { return t_[i_ < t_.size() - 1 ? i_++ : i_]; }
  bool is_op(std::string_view op) const { return cur().type == Tok::Op && cur().text == op; }
  bool is_name(std::string_view name) const {
    return cur().type == Tok::Name && cur().text == name;
  }
  bool skip_op(std::string_view op);
  bool skip_name(std::string_view name);
  void expect_op(std::string_view op);
  std::string expect_name(const char* what);
  [[noreturn]] void error(const std::string& what) const;
  [[noreturn]] void unexpected(const char* expected) const;
  // Recursion guard: enter() throws past kMaxNesting.
  void enter();
  void leave() { --depth_; }

 private:
  std::vector<Token> t_;
  size_t i_ = 0;
  int depth_ = 0;
};

// Describes a token for messages: 'endfor', end of tag '%}', end of template.
std::string describe(const Token& t);

// A comma-separated expression list (a tuple when there is a comma, else the one expression).
// Stops before '}}', '%}', ')' or a name in extra_end.
ExprPtr parse_tuple(TokenCursor& c, bool with_condexpr,
                    std::initializer_list<std::string_view> extra_end = {},
                    bool explicit_parens = false);
ExprPtr parse_expression(TokenCursor& c, bool with_condexpr = true);
// The filter name and arguments after '|' (or after {% filter), applied to `subject`.
ExprPtr parse_filter_call(TokenCursor& c, ExprPtr subject);

}  // namespace lc::jinja
