// jinja2's filters (jinja2/filters.py), the subset chat templates use, plus transformers' tojson.
// Filters that return generators in jinja2 (map, select, selectattr, reverse, ...) return lists.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "chat/template_builtins.h"
#include "chat/template_eval.h"

namespace lc::jinja {
namespace {

using Args = std::vector<std::optional<Value>>;

bool flag(const std::optional<Value>& v) { return v && truthy(*v); }

Value f_trim(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  const Args p = bind_args(ev, a, "trim", {"chars"}, line);
  return ev.make_string(py_strip(to_str(x), p[0], true, true), line);
}

Value f_upper(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  bind_args(ev, a, "upper", {}, line);
  return ev.make_string(py_upper(to_str(x)), line);
}

Value f_lower(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  bind_args(ev, a, "lower", {}, line);
  return ev.make_string(py_lower(to_str(x)), line);
}

Value f_capitalize(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  bind_args(ev, a, "capitalize", {}, line);
  std::string s = py_lower(to_str(x));
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return ev.make_string(std::move(s), line);
}

// jinja2's title: words start after - space ( { [ <, first letter upper, the rest lower.
Value f_title(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  bind_args(ev, a, "title", {}, line);
  std::string s = to_str(x);
  bool word_start = true;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t sp = is_py_space(c) && c < 0x80 ? 1 : 0;
    if (sp || c == '-' || c == '(' || c == '{' || c == '[' || c == '<') {
      word_start = true;
      continue;
    }
    s[i] = static_cast<char>(word_start ? (c >= 'a' && c <= 'z' ? c - 32 : c)
                                        : (c >= 'A' && c <= 'Z' ? c + 32 : c));
    word_start = false;
  }
  return ev.make_string(std::move(s), line);
}

Value f_replace(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  const Args p = bind_args(ev, a, "replace", {"old", "new", "count"}, line);
  if (!p[0] || !p[1]) ev.error(line, "replace needs the old and new strings");
  int64_t count = -1;
  if (p[2] && !p[2]->is_none()) {
    if (!p[2]->is_int()) ev.error(line, "replace: count must be an integer");
    count = p[2]->as_int();
  }
  return ev.make_string(py_replace(to_str(x), to_str(*p[0]), to_str(*p[1]), count), line);
}

Value f_length(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  bind_args(ev, a, "length", {}, line);
  switch (x.kind()) {
    case Kind::Undefined:
      return Value::integer(0);
    case Kind::String:
      return Value::integer(static_cast<int64_t>(code_points(x.str()).size()));
    case Kind::List:
    case Kind::Tuple:
      return Value::integer(static_cast<int64_t>(x.items().size()));
    case Kind::Dict:
      return Value::integer(static_cast<int64_t>(x.dict().items.size()));
    default:
      ev.error(line, std::string("object of type '") + type_name(x) + "' has no len()");
  }
}

Value f_default(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  const Args p = bind_args(ev, a, "default", {"default_value", "boolean"}, line);
  if (x.is_undefined() || (flag(p[1]) && !truthy(x))) return p[0] ? *p[0] : Value::string("");
  return x;
}

// jinja2's make_attrgetter: "a.b.0" looks up a, then b, then item 0; `def` replaces undefined.
Value get_path(Evaluator& ev, Value item, const Value& attribute, const Value* def, int line) {
  std::vector<Value> parts;
  if (attribute.is_string()) {
    for (const Value& part : py_split(attribute.str(), Value::string("."), -1, false)) {
      const std::string& s = part.str();
      const bool digits = !s.empty() && std::all_of(s.begin(), s.end(),
                                                    [](char c) { return c >= '0' && c <= '9'; });
      parts.push_back(digits && s.size() < 18 ? Value::integer(std::atoll(s.c_str())) : part);
    }
  } else {
    parts.push_back(attribute);
  }
  for (const Value& part : parts) {
    item = ev.getitem(item, part, line);
    if (def && item.is_undefined()) item = *def;
  }
  return item;
}

Value f_join(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  const Args p = bind_args(ev, a, "join", {"d", "attribute"}, line);
  const std::string sep = p[0] ? to_str(*p[0]) : "";
  std::string out;
  bool first = true;
  for (Value item : ev.iterate(x, line)) {
    if (p[1] && !p[1]->is_none()) item = get_path(ev, item, *p[1], nullptr, line);
    out += (first ? "" : sep) + to_str(item);
    first = false;
    if (out.size() > ev.options().max_output_bytes) ev.make_string(std::move(out), line);
  }
  return ev.make_string(std::move(out), line);
}

Value f_first(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  bind_args(ev, a, "first", {}, line);
  if (x.kind() == Kind::Generator) {  // next(iter(gen)): takes one item
    const Value rest = ev.make_list(ev.iterate(x, line), line);
    GeneratorData& g = x.gen();
    g.items = rest.items();
    g.next = g.items.empty() ? 0 : 1;
    return g.items.empty() ? Value::undefined("No first item, sequence was empty.") : g.items[0];
  }
  const auto items = ev.iterate(x, line);
  return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

Value f_last(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  bind_args(ev, a, "last", {}, line);
  if (x.kind() == Kind::Generator) ev.error(line, "'generator' object is not reversible");
  const auto items = ev.iterate(x, line);
  return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}

Value f_string(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  bind_args(ev, a, "string", {}, line);
  return x.is_string() ? x : ev.make_string(to_str(x), line);
}

Value f_list(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  bind_args(ev, a, "list", {}, line);
  return ev.make_list(ev.iterate(x, line), line);
}

Value f_items_eager(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  bind_args(ev, a, "items", {}, line);
  if (x.is_undefined()) return ev.make_list({}, line);
  if (x.kind() != Kind::Dict) ev.error(line, "Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& kv : x.dict().items)
    out.push_back(ev.make_list({kv.first, kv.second}, line, true));
  return ev.make_list(std::move(out), line);
}

Value f_items(Evaluator&, const Value& x, CallArgs& a, int line) {
  return make_generator(x, a, line, f_items_eager);
}

Value f_reverse_eager(Evaluator& ev, const Value& x, CallArgs&, int line) {
  auto items = ev.iterate(x, line);
  std::reverse(items.begin(), items.end());
  return ev.make_list(std::move(items), line);
}

// A string reversed, anything else a reverse iterator (single use, like a generator).
Value f_reverse(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  bind_args(ev, a, "reverse", {}, line);
  if (x.is_string()) {
    const auto offs = code_point_offsets(x.str());
    std::string s;
    for (size_t k = offs.size() - 1; k > 0; --k)
      s.append(x.str(), offs[k - 1], offs[k] - offs[k - 1]);
    return ev.make_string(std::move(s), line);
  }
  if (x.kind() == Kind::Generator) return f_reverse_eager(ev, x, a, line);  // list(gen) reversed
  if (x.kind() != Kind::Undefined && !x.is_sequence() && x.kind() != Kind::Dict)
    ev.error(line, "argument must be iterable");
  return make_generator(x, a, line, f_reverse_eager);
}

Value f_tojson(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  const Args p =
      bind_args(ev, a, "tojson", {"ensure_ascii", "indent", "separators", "sort_keys"}, line);
  JsonOptions opt;
  opt.ensure_ascii = flag(p[0]);
  opt.sort_keys = flag(p[3]);
  if (p[1] && !p[1]->is_none()) {
    if (p[1]->is_string())
      opt.indent = p[1]->str();
    else if (p[1]->is_int())
      opt.indent =
          std::string(static_cast<size_t>(std::clamp<int64_t>(p[1]->as_int(), 0, 64)), ' ');
    else
      ev.error(line, "tojson: indent must be an integer or a string");
    opt.item_separator = ",";
  }
  if (p[2] && !p[2]->is_none()) {
    const Value& sep = *p[2];
    if (!sep.is_sequence() || sep.items().size() != 2 || !sep.items()[0].is_string() ||
        !sep.items()[1].is_string())
      ev.error(line, "tojson: separators must be a pair of strings");
    opt.item_separator = sep.items()[0].str();
    opt.key_separator = sep.items()[1].str();
  }
  return ev.make_string(to_json(x, opt), line);
}

// "%s, %s"|format(a, b) or "%(x)s"|format(x=1): printf-style formatting.
Value f_format(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  if (!a.args.empty() && !a.kwargs.empty())
    ev.error(line, "format: can't handle positional and keyword arguments at the same time");
  Value args;
  if (!a.kwargs.empty()) {
    std::vector<std::pair<Value, Value>> kv;
    for (auto& [k, v] : a.kwargs) kv.emplace_back(Value::string(k), v);
    args = Value::dict(std::move(kv));
  } else {
    args = ev.make_list(a.args, line, true);
  }
  return ev.make_string(py_percent_format(to_str(x), args), line);
}

Value f_escape(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  bind_args(ev, a, "escape", {}, line);
  std::string out;
  for (char c : to_str(x)) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return ev.make_string(std::move(out), line);
}

Value f_safe(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  bind_args(ev, a, "safe", {}, line);
  return x.is_string() ? x : ev.make_string(to_str(x), line);
}

Value f_indent(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  const Args p = bind_args(ev, a, "indent", {"width", "first", "blank"}, line);
  if (x.is_undefined()) ev.error(line, x.undefined_hint());  // jinja2 appends "\n" to it
  if (!x.is_string())
    ev.error(line,
             std::string("unsupported operand type(s) for +=: '") + type_name(x) + "' and 'str'");
  std::string ind = "    ";
  if (p[0] && p[0]->is_string()) ind = p[0]->str();
  if (p[0] && p[0]->is_int())
    ind = std::string(static_cast<size_t>(std::clamp<int64_t>(p[0]->as_int(), 0, 256)), ' ');
  std::vector<std::string> lines;
  const std::string s = x.str() + "\n";
  for (size_t i = 0; i < s.size();) {  // str.splitlines on \n, \r\n, \r
    size_t j = s.find_first_of("\r\n", i);
    lines.push_back(s.substr(i, j - i));
    i = j + (s.compare(j, 2, "\r\n") == 0 ? 2 : 1);
  }
  std::string out;
  for (size_t k = 0; k < lines.size(); ++k) {
    if (k) out += "\n";
    const bool indent_it = k == 0 ? flag(p[1]) : (flag(p[2]) || !lines[k].empty());
    out += (indent_it ? ind : "") + lines[k];
  }
  return ev.make_string(std::move(out), line);
}

}  // namespace

FilterFn find_filter(std::string_view name) {
  static const std::pair<std::string_view, FilterFn> kFilters[] = {
      {"trim", f_trim},       {"upper", f_upper},
      {"lower", f_lower},     {"capitalize", f_capitalize},
      {"title", f_title},     {"replace", f_replace},
      {"length", f_length},   {"count", f_length},
      {"default", f_default}, {"d", f_default},
      {"join", f_join},       {"first", f_first},
      {"last", f_last},       {"string", f_string},
      {"list", f_list},       {"items", f_items},
      {"reverse", f_reverse},

      {"tojson", f_tojson},   {"format", f_format},
      {"escape", f_escape},   {"e", f_escape},
      {"safe", f_safe},       {"indent", f_indent},
  };
  for (const auto& f : kFilters)
    if (f.first == name) return f.second;
  if (FilterFn f = find_number_filter(name)) return f;
  return find_sequence_filter(name);
}

Value get_attribute_path(Evaluator& ev, const Value& item, const Value& attribute, const Value* def,
                         int line) {
  return get_path(ev, item, attribute, def, line);
}

}  // namespace lc::jinja
