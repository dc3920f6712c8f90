// The chat-template lexer: template source -> tokens, with jinja2's whitespace rules as
// transformers configures them (trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=
// False; jinja2/lexer.py is the model):
//   - \r\n and \r become \n, and one trailing newline of the source is dropped;
//   - {%- / {{- / {#- strip all whitespace before the tag, -%} / -}} / -#} all after it;
//   - trim_blocks: a block or comment tag (not {{ }}) eats the one newline right after it,
//     unless it ends with +%};
//   - lstrip_blocks: spaces and tabs between the start of a line and a block or comment tag are
//     dropped, unless the tag starts with {%+;
//   - comments vanish; {% raw %}...{% endraw %} is text.
// Inside a tag: names, integers (0x/0o/0b, underscores), floats, strings with Python's escapes,
// and the operators; a }} or %} inside open brackets is two braces, not the end of the tag.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lc::jinja {

enum class Tok : uint8_t {
  Text,        // template text between tags
  VarBegin,    // {{
  VarEnd,      // }}
  BlockBegin,  // {%
  BlockEnd,    // %}
  Name,
  String,  // text: the decoded value
  Int,
  Float,
  Op,   // text: the operator
  Eof,  // end of the source
};

struct Token {
  Tok type = Tok::Eof;
  std::string text;
  int64_t int_value = 0;
  double float_value = 0.0;
  int line = 1;
};

// Throws lc::Error "chat template line N: what" on a malformed tag, string or number.
std::vector<Token> lex_template(std::string_view source);

}  // namespace lc::jinja
