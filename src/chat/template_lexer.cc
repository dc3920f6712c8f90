#include "chat/template_lexer.h"

#include <cerrno>
#include <cstdlib>

#include "chat/template_value.h"
#include "core/error.h"

namespace lc::jinja {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

// Bytes of the Python whitespace character (str.isspace, what jinja2's \s matches) at s[pos],
// or 0.
size_t space_at(std::string_view s, size_t pos) {
  if (pos >= s.size()) return 0;
  const auto c = static_cast<unsigned char>(s[pos]);
  if (c < 0x80) return is_py_space(c) ? 1 : 0;
  const auto offs = code_point_offsets(s.substr(pos, 4));
  const size_t n = offs.size() > 1 ? offs[1] : 1;
  const auto cps = code_points(s.substr(pos, n));
  return n > 1 && !cps.empty() && is_py_space(cps[0]) ? n : 0;
}

size_t skip_spaces(std::string_view s, size_t pos) {
  while (size_t n = space_at(s, pos)) pos += n;
  return pos;
}

// Python's str.rstrip() of text.
std::string_view rstrip(std::string_view text) {
  const auto offs = code_point_offsets(text);
  size_t end = offs.size() - 1;  // index of the code point after the kept part
  while (end > 0 && space_at(text, offs[end - 1]) == offs[end] - offs[end - 1]) --end;
  return text.substr(0, offs[end]);
}

bool all_spaces(std::string_view text) {
  return !text.empty() && skip_spaces(text, 0) == text.size();
}

// \r\n and \r -> \n; one trailing \n dropped (keep_trailing_newline=False).
std::string normalize_newlines(std::string_view src) {
  std::string out;
  out.reserve(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] == '\r') {
      out += '\n';
      if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
    } else {
      out += src[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string_view src) : s_(normalize_newlines(src)) {}

  std::vector<Token> run() {
    bool line_starting = true;  // the last tag consumed ended with a newline (or none yet)
    while (pos_ < s_.size()) {
      const size_t tag = find_tag(pos_);
      if (tag == std::string::npos) {
        emit_text(s_.substr(pos_));
        break;
      }
      const char kind = s_[tag + 1];  // '{', '%' or '#'
      const char sign =
          tag + 2 < s_.size() && (s_[tag + 2] == '-' || s_[tag + 2] == '+') ? s_[tag + 2] : '\0';
      std::string_view text = std::string_view(s_).substr(pos_, tag - pos_);
      emit_text(strip_before(text, sign, kind != '{', line_starting));
      line_at(tag);
      size_t after = tag + 2 + (sign ? 1 : 0);
      if (kind == '#') {
        line_starting = comment(after);
      } else if (kind == '%' && raw_begin(after)) {
        line_starting = raw();
      } else {
        line_starting = tag_tokens(after, kind == '%');
      }
    }
    line_at(s_.size());
    out_.push_back(Token{Tok::Eof, "", 0, 0.0, line_});
    return std::move(out_);
  }

 private:
  [[noreturn]] void error(size_t pos, const std::string& what) {
    line_at(pos);
    fail("chat template line ", line_, ": ", what);
  }

  // Advances the line counter to byte position pos (positions only grow).
  void line_at(size_t pos) {
    for (; line_pos_ < pos && line_pos_ < s_.size(); ++line_pos_)
      if (s_[line_pos_] == '\n') ++line_;
  }

  size_t find_tag(size_t from) const {
    for (size_t p = s_.find('{', from); p != std::string::npos; p = s_.find('{', p + 1))
      if (p + 1 < s_.size() && (s_[p + 1] == '{' || s_[p + 1] == '%' || s_[p + 1] == '#')) return p;
    return std::string::npos;
  }

  // The text before a tag after whitespace control: '-' strips all trailing whitespace;
  // otherwise lstrip_blocks drops the spaces between the line start and a block/comment tag.
  static std::string_view strip_before(std::string_view text, char sign, bool block_or_comment,
                                       bool line_starting) {
    if (sign == '-') return rstrip(text);
    if (sign == '+' || !block_or_comment) return text;
    const size_t nl = text.rfind('\n');
    const size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
    if ((l_pos > 0 || line_starting) && all_spaces(text.substr(l_pos)))
      return text.substr(0, l_pos);
    return text;
  }

  void emit_text(std::string_view text) {
    if (text.empty()) return;
    line_at(static_cast<size_t>(text.data() - s_.data()));
    out_.push_back(Token{Tok::Text, std::string(text), 0, 0.0, line_});
  }

  void push(Tok t, size_t at, std::string text = {}) {
    line_at(at);
    out_.push_back(Token{t, std::move(text), 0, 0.0, line_});
  }

  // After the closing tag at pos (past the '}'): '-' eats all whitespace, '+' nothing, a plain
  // block or comment end one newline (trim_blocks). Returns whether a newline ended the match.
  bool after_end(size_t pos, char sign, bool trim) {
    if (sign == '-') {
      pos_ = skip_spaces(s_, pos);
    } else {
      pos_ = pos;
      if (sign != '+' && trim && pos_ < s_.size() && s_[pos_] == '\n') ++pos_;
    }
    return s_[pos_ - 1] == '\n';  // the last character this tag consumed
  }

  bool comment(size_t from) {
    const size_t end = s_.find("#}", from);
    if (end == std::string::npos) error(from, "missing end of comment tag '#}'");
    const char sign = end > from && (s_[end - 1] == '-' || s_[end - 1] == '+') ? s_[end - 1] : '\0';
    return after_end(end + 2, sign, true);
  }

  // {% raw %} (after {% and its sign): \s*raw\s*(-%}\s*|%}) -- no trim_blocks here (jinja2).
  bool raw_begin(size_t from) {
    size_t p = skip_spaces(s_, from);
    if (s_.compare(p, 3, "raw") != 0 || (p + 3 < s_.size() && is_name_char(s_[p + 3])))
      return false;
    p = skip_spaces(s_, p + 3);
    if (s_.compare(p, 3, "-%}") == 0) {
      pos_ = skip_spaces(s_, p + 3);
    } else if (s_.compare(p, 2, "%}") == 0) {
      pos_ = p + 2;
    } else {
      error(p, "expected '%}' after 'raw'");
    }
    return true;
  }

  bool raw() {
    const bool line_starting = pos_ > 0 && s_[pos_ - 1] == '\n';
    for (size_t p = s_.find("{%", pos_); p != std::string::npos; p = s_.find("{%", p + 1)) {
      const char sign =
          p + 2 < s_.size() && (s_[p + 2] == '-' || s_[p + 2] == '+') ? s_[p + 2] : '\0';
      size_t q = skip_spaces(s_, p + 2 + (sign ? 1 : 0));
      if (s_.compare(q, 6, "endraw") != 0) continue;
      q = skip_spaces(s_, q + 6);
      char end_sign = '\0';
      if (q < s_.size() && (s_[q] == '-' || s_[q] == '+')) end_sign = s_[q++];
      if (s_.compare(q, 2, "%}") != 0) continue;
      emit_text(
          strip_before(std::string_view(s_).substr(pos_, p - pos_), sign, true, line_starting));
      return after_end(q + 2, end_sign, true);
    }
    error(pos_, "missing end of raw directive '{% endraw %}'");
  }

  // The tokens of a {{ }} or {% %} tag starting at `from`, through its end marker.
  bool tag_tokens(size_t from, bool block) {
    push(block ? Tok::BlockBegin : Tok::VarBegin, from);
    std::string balance;  // closing brackets expected, innermost last
    size_t p = from;
    for (;;) {
      p = skip_spaces(s_, p);
      if (p >= s_.size())
        error(p,
              std::string("unexpected end of template, expected '") + (block ? "%}" : "}}") + "'");
      if (balance.empty()) {
        const char* end = block ? "%}" : "}}";
        for (const char sign : {'-', '+', '\0'}) {
          if (sign == '+' && !block) continue;
          const size_t at = p + (sign ? 1 : 0);
          if ((sign && s_[p] != sign) || s_.compare(at, 2, end) != 0) continue;
          push(block ? Tok::BlockEnd : Tok::VarEnd, p);
          return after_end(at + 2, sign, block);
        }
      }
      const char c = s_[p];
      if (is_digit(c)) {
        p = number(p);
      } else if (is_name_start(c)) {
        size_t e = p;
        while (e < s_.size() && is_name_char(s_[e])) ++e;
        push(Tok::Name, p, s_.substr(p, e - p));
        p = e;
      } else if (c == '\'' || c == '"') {
        p = string(p);
      } else {
        p = op(p, balance);
      }
    }
  }

  size_t op(size_t p, std::string& balance) {
    static const char* const kTwo[] = {"**", "//", "==", "!=", ">=", "<="};
    for (const char* two : kTwo)
      if (s_.compare(p, 2, two) == 0) {
        push(Tok::Op, p, two);
        return p + 2;
      }
    const char c = s_[p];
    if (std::string_view("+-/*%~[](){}><=.:|,;").find(c) == std::string_view::npos) {
      const auto cps = code_points(std::string_view(s_).substr(p, 4));
      std::string ch;
      append_utf8(ch, cps.empty() ? 0 : cps[0]);
      error(p, "unexpected character '" + ch + "'");
    }
    if (c == '(' || c == '[' || c == '{') balance += c == '(' ? ')' : c == '[' ? ']' : '}';
    if (c == ')' || c == ']' || c == '}') {
      if (balance.empty()) error(p, std::string("unexpected '") + c + "'");
      if (balance.back() != c)
        error(p, std::string("unexpected '") + c + "', expected '" + balance.back() + "'");
      balance.pop_back();
    }
    push(Tok::Op, p, std::string(1, c));
    return p + 1;
  }

  // Digits with single underscores between them (Python 3.6 literals) in `base`.
  size_t digits(size_t p, int base, std::string& out) {
    auto ok = [&](char c) {
      if (base == 16) return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      return c >= '0' && c < '0' + base;
    };
    while (p < s_.size()) {
      if (ok(s_[p])) {
        out += s_[p++];
      } else if (s_[p] == '_' && !out.empty() && p + 1 < s_.size() && ok(s_[p + 1])) {
        ++p;
      } else {
        break;
      }
    }
    return p;
  }

  size_t number(size_t start) {
    std::string text;
    if (s_[start] == '0' && start + 1 < s_.size() &&
        std::string_view("xXoObB").find(s_[start + 1]) != std::string_view::npos) {
      const char b = static_cast<char>(s_[start + 1] | 0x20);
      const int base = b == 'x' ? 16 : b == 'o' ? 8 : 2;
      const size_t e = digits(start + 2, base, text);
      if (text.empty()) error(start, "invalid number literal");
      errno = 0;
      const unsigned long long v = std::strtoull(text.c_str(), nullptr, base);
      if (errno == ERANGE || v > static_cast<unsigned long long>(INT64_MAX))
        error(start, "integer literal too large");
      push(Tok::Int, start);
      out_.back().int_value = static_cast<int64_t>(v);
      return e;
    }
    size_t p = digits(start, 10, text);
    bool is_float = false;
    if (p + 1 < s_.size() && s_[p] == '.' && is_digit(s_[p + 1])) {
      text += '.';
      p = digits(p + 1, 10, text);
      is_float = true;
    }
    if (p + 1 < s_.size() && (s_[p] == 'e' || s_[p] == 'E')) {
      size_t q = p + 1;
      std::string exp = "e";
      if (q < s_.size() && (s_[q] == '+' || s_[q] == '-')) exp += s_[q++];
      if (q < s_.size() && is_digit(s_[q])) {
        p = digits(q, 10, exp);
        text += exp;
        is_float = true;
      }
    }
    if (is_float) {
      push(Tok::Float, start);
      out_.back().float_value = std::strtod(text.c_str(), nullptr);
      return p;
    }
    errno = 0;
    const long long v = std::strtoll(text.c_str(), nullptr, 10);
    if (errno == ERANGE) error(start, "integer literal too large");
    push(Tok::Int, start);
    out_.back().int_value = v;
    return p;
  }

  size_t hex_escape(size_t p, int n, uint32_t& cp) {
    cp = 0;
    for (int i = 0; i < n; ++i, ++p) {
      const char c = p < s_.size() ? s_[p] : '\0';
      const int d = is_digit(c)              ? c - '0'
                    : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                             : -1;
      if (d < 0) error(p, "truncated \\x, \\u or \\U escape in a string");
      cp = cp * 16 + static_cast<uint32_t>(d);
    }
    if (cp > 0x10FFFF) error(p, "\\U escape beyond U+10FFFF in a string");
    return p;
  }

  // A quoted string with Python's unicode-escape rules (what jinja2 decodes literals with).
  size_t string(size_t start) {
    const char quote = s_[start];
    std::string value;
    size_t p = start + 1;
    for (;;) {
      if (p >= s_.size()) error(start, "unterminated string");
      const char c = s_[p];
      if (c == quote) break;
      if (c != '\\') {
        value += c;
        ++p;
        continue;
      }
      if (p + 1 >= s_.size()) error(start, "unterminated string");
      const char e = s_[p + 1];
      p += 2;
      uint32_t cp = 0;
      switch (e) {
        case '\n':
          break;  // line continuation
        case '\\':
        case '\'':
        case '"':
          value += e;
          break;
        case 'a':
          value += '\a';
          break;
        case 'b':
          value += '\b';
          break;
        case 'f':
          value += '\f';
          break;
        case 'n':
          value += '\n';
          break;
        case 'r':
          value += '\r';
          break;
        case 't':
          value += '\t';
          break;
        case 'v':
          value += '\v';
          break;
        case 'x':
          p = hex_escape(p, 2, cp);
          append_utf8(value, cp);
          break;
        case 'u':
          p = hex_escape(p, 4, cp);
          append_utf8(value, cp);
          break;
        case 'U':
          p = hex_escape(p, 8, cp);
          append_utf8(value, cp);
          break;
        case 'N':
          error(p - 2, "unsupported escape '\\N{...}' in a string");
        default:
          if (e >= '0' && e <= '7') {
            cp = static_cast<uint32_t>(e - '0');
            for (int i = 0; i < 2 && p < s_.size() && s_[p] >= '0' && s_[p] <= '7'; ++i, ++p)
              cp = cp * 8 + static_cast<uint32_t>(s_[p] - '0');
            append_utf8(value, cp);
          } else {
            value += '\\';  // Python keeps unknown escapes as they are
            value += e;
          }
      }
    }
    push(Tok::String, start, std::move(value));
    return p + 1;
  }

  std::string s_;
  size_t pos_ = 0;
  size_t line_pos_ = 0;
  int line_ = 1;
  std::vector<Token> out_;
};

}  // namespace

std::vector<Token> lex_template(std::string_view source) { return Lexer(source).run(); }

}  // namespace lc::jinja
