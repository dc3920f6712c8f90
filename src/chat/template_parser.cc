// Statements (jinja2/parser.py's subparse and parse_* statement functions), and the token
// cursor both parsers share.
#include "chat/template_parser.h"

#include "core/error.h"

namespace lc::jinja {

bool TokenCursor::skip_op(std::string_view op) {
  if (!is_op(op)) return false;
  next();
  return true;
}

bool TokenCursor::skip_name(std::string_view name) {
  if (!is_name(name)) return false;
  next();
  return true;
}

void TokenCursor::expect_op(std::string_view op) {
  if (!is_op(op)) unexpected(("'" + std::string(op) + "'").c_str());
  next();
}

std::string TokenCursor::expect_name(const char* what) {
  if (cur().type != Tok::Name) unexpected(what);
  return next().text;
}

void TokenCursor::error(const std::string& what) const {
  fail("chat template line ", cur().line, ": ", what);
}

void TokenCursor::unexpected(const char* expected) const {
  error(std::string("expected ") + expected + ", got " + describe(cur()));
}

void TokenCursor::enter() {
  if (++depth_ > kMaxNesting)
    error("nesting deeper than " + std::to_string(kMaxNesting) + " levels");
}

std::string describe(const Token& t) {
  switch (t.type) {
    case Tok::Text:
      return "template text";
    case Tok::VarBegin:
      return "'{{'";
    case Tok::VarEnd:
      return "end of print statement '}}'";
    case Tok::BlockBegin:
      return "'{%'";
    case Tok::BlockEnd:
      return "end of statement '%}'";
    case Tok::Name:
    case Tok::Op:
      return "'" + t.text + "'";
    case Tok::String:
      return "a string";
    case Tok::Int:
    case Tok::Float:
      return "a number";
    case Tok::Eof:
      return "end of template";
  }
  return "?";
}

namespace {

class StmtParser {
 public:
  explicit StmtParser(std::string_view source) : c_(lex_template(source)) {}

  std::unique_ptr<TemplateAst> run() {
    auto ast = std::make_unique<TemplateAst>();
    ast->body = body({});
    return ast;
  }

 private:
  // Statements up to (not including) a {% tag named in `ends`, or the end of the template when
  // `ends` is empty.
  std::vector<StmtPtr> body(std::initializer_list<std::string_view> ends) {
    c_.enter();
    std::vector<StmtPtr> out;
    for (;;) {
      const Token& t = c_.cur();
      if (t.type == Tok::Eof) {
        if (ends.size() == 0) break;
        std::string names;
        for (std::string_view e : ends)
          names += (names.empty() ? "'" : " or '") + std::string(e) + "'";
        c_.error("unexpected end of template, expected " + names);
      }
      if (t.type == Tok::Text) {
        auto s = stmt(StmtKind::Text, t.line);
        s->text = c_.next().text;
        out.push_back(std::move(s));
      } else if (t.type == Tok::VarBegin) {
        auto s = stmt(StmtKind::Output, c_.next().line);
        s->expr = parse_tuple(c_, true);
        if (c_.cur().type != Tok::VarEnd) c_.unexpected("end of print statement '}}'");
        c_.next();
        out.push_back(std::move(s));
      } else if (t.type == Tok::BlockBegin) {
        const Token& name = c_.peek();
        for (std::string_view e : ends)
          if (name.type == Tok::Name && name.text == e) {
            c_.leave();
            return out;
          }
        c_.next();
        out.push_back(statement());
      } else {
        c_.unexpected("template text or a tag");
      }
    }
    c_.leave();
    return out;
  }

  static StmtPtr stmt(StmtKind kind, int line) {
    auto s = std::make_unique<Stmt>();
    s->kind = kind;
    s->line = line;
    return s;
  }

  void end_of_tag() {
    if (c_.cur().type != Tok::BlockEnd) c_.unexpected("end of statement '%}'");
    c_.next();
  }

  // Consumes `{% name` of an end/else tag that body() stopped at; returns the name.
  std::string tag_name() {
    c_.next();
    return c_.next().text;
  }

  std::string target_name() {
    const std::string n = c_.expect_name("a variable name");
    if (n == "true" || n == "false" || n == "none" || n == "True" || n == "False" || n == "None")
      c_.error("cannot assign to '" + n + "'");
    return n;
  }

  // name | name, name, ... | (name, ...) before `stop` (for: 'in', set: '=' or '%}').
  std::vector<std::string> targets() {
    std::vector<std::string> out;
    const bool parens = c_.skip_op("(");
    do {
      if (parens && c_.is_op(")")) break;
      out.push_back(target_name());
    } while (c_.skip_op(","));
    if (parens) c_.expect_op(")");
    return out;
  }

  StmtPtr statement() {
    const Token& t = c_.cur();
    if (t.type != Tok::Name) c_.unexpected("a statement name");
    const std::string name = t.text;
    const int line = t.line;
    c_.next();
    if (name == "if") return if_stmt(line);
    if (name == "for") return for_stmt(line);
    if (name == "set") return set_stmt(line);
    if (name == "macro") return macro_stmt(line);
    if (name == "print") {
      auto s = stmt(StmtKind::Output, line);
      s->expr = parse_tuple(c_, true);
      end_of_tag();
      return s;
    }
    if (name == "break" || name == "continue") {
      if (loop_depth_ == 0) c_.error("'" + name + "' outside of a loop");
      end_of_tag();
      return stmt(name == "break" ? StmtKind::Break : StmtKind::Continue, line);
    }
    if (name == "filter") {
      auto s = stmt(StmtKind::FilterBlock, line);
      s->expr = parse_filter_call(c_, nullptr);
      while (c_.skip_op("|")) s->expr = parse_filter_call(c_, std::move(s->expr));
      end_of_tag();
      s->body = block_body("endfilter");
      return s;
    }
    if (name == "with") {
      auto s = stmt(StmtKind::With, line);
      while (c_.cur().type != Tok::BlockEnd) {
        if (!s->params.empty()) c_.expect_op(",");
        std::string target = target_name();
        c_.expect_op("=");
        s->params.emplace_back(std::move(target), parse_expression(c_));
      }
      end_of_tag();
      s->body = block_body("endwith");
      return s;
    }
    if (name == "generation") {
      end_of_tag();
      auto s = stmt(StmtKind::Generation, line);
      s->body = block_body("endgeneration");
      return s;
    }
    for (const char* end : {"elif", "else", "endif", "endfor", "endset", "endmacro", "endfilter",
                            "endwith", "endgeneration", "endraw"})
      if (name == end) c_.error("unexpected '" + name + "'");
    c_.error("unsupported statement '" + name + "'");
  }

  std::vector<StmtPtr> block_body(const char* end) {
    auto out = body({end});
    tag_name();
    end_of_tag();
    return out;
  }

  StmtPtr if_stmt(int line) {
    c_.enter();  // an elif nests one level deeper in the tree
    auto s = stmt(StmtKind::If, line);
    s->expr = parse_tuple(c_, false);
    end_of_tag();
    s->body = body({"elif", "else", "endif"});
    const int tag_line = c_.cur().line;
    const std::string tag = tag_name();
    if (tag == "elif") {
      s->else_body.push_back(if_stmt(tag_line));  // consumes through endif
    } else {
      end_of_tag();
      if (tag == "else") s->else_body = block_body("endif");
    }
    c_.leave();
    return s;
  }

  StmtPtr for_stmt(int line) {
    auto s = stmt(StmtKind::For, line);
    s->targets = targets();
    if (!c_.skip_name("in")) c_.unexpected("'in'");
    s->expr = parse_tuple(c_, false, {"recursive"});
    if (c_.skip_name("if")) s->cond = parse_expression(c_);
    if (c_.is_name("recursive")) c_.error("unsupported recursive for loop");
    end_of_tag();
    ++loop_depth_;
    s->body = body({"endfor", "else"});
    --loop_depth_;
    if (tag_name() == "else") {
      end_of_tag();
      s->else_body = block_body("endfor");
    } else {
      end_of_tag();
    }
    return s;
  }

  StmtPtr set_stmt(int line) {
    auto s = stmt(StmtKind::Set, line);
    if (c_.cur().type == Tok::Name && c_.peek().type == Tok::Op && c_.peek().text == ".") {
      s->targets.push_back(c_.next().text);  // set ns.attr = ...
      c_.next();
      s->attr = c_.expect_name("an attribute name");
      if (!c_.is_op("=")) c_.unexpected("'='");
    } else {
      s->targets = targets();
    }
    if (c_.skip_op("=")) {
      s->expr = parse_tuple(c_, true);
      end_of_tag();
      return s;
    }
    if (s->targets.size() != 1 || !s->attr.empty()) c_.unexpected("'='");
    if (c_.is_op("|")) c_.error("unsupported filter on a {% set %} block");
    end_of_tag();
    s->kind = StmtKind::SetBlock;
    s->body = block_body("endset");
    return s;
  }

  StmtPtr macro_stmt(int line) {
    auto s = stmt(StmtKind::Macro, line);
    s->name = target_name();
    c_.expect_op("(");
    while (!c_.is_op(")")) {
      if (!s->params.empty()) c_.expect_op(",");
      if (c_.is_op(")")) break;
      std::string param = target_name();
      ExprPtr def = c_.skip_op("=") ? parse_expression(c_) : nullptr;
      if (!def && !s->params.empty() && s->params.back().second)
        c_.error("macro parameter '" + param + "' without a default follows one with a default");
      s->params.emplace_back(std::move(param), std::move(def));
    }
    c_.expect_op(")");
    end_of_tag();
    const int saved = loop_depth_;
    loop_depth_ = 0;  // break/continue cannot leave a macro
    s->body = block_body("endmacro");
    loop_depth_ = saved;
    return s;
  }

  TokenCursor c_;
  int loop_depth_ = 0;
};

}  // namespace

std::unique_ptr<TemplateAst> parse_template(std::string_view source) {
  auto ast = StmtParser(source).run();
  analyze_scopes(*ast);
  return ast;
}

}  // namespace lc::jinja
