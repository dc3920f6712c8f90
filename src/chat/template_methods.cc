// Python's str, dict and list methods as bound-method values, the str helpers the filters
// share, and argument binding. Case mapping is ASCII-only (documented in docs/design.md).
#include <algorithm>

#include "chat/template_builtins.h"
#include "chat/template_eval.h"
#include "core/error.h"

namespace lc::jinja {

std::vector<std::optional<Value>> bind_args(Evaluator& ev, const CallArgs& a, const char* fname,
                                            std::initializer_list<const char*> names, int line) {
  std::vector<std::optional<Value>> out(names.size());
  if (a.args.size() > names.size())
    ev.error(line, std::string(fname) + "() takes at most " + std::to_string(names.size()) +
                       " arguments (" + std::to_string(a.args.size()) + " given)");
  for (size_t i = 0; i < a.args.size(); ++i) out[i] = a.args[i];
  for (const auto& kw : a.kwargs) {
    size_t i = 0;
    for (const char* n : names) {
      if (kw.first == n) break;
      ++i;
    }
    if (i == names.size())
      ev.error(line,
               std::string(fname) + "() got an unexpected keyword argument '" + kw.first + "'");
    if (out[i])
      ev.error(line, std::string(fname) + "() got multiple values for argument '" + kw.first + "'");
    out[i] = kw.second;
  }
  return out;
}

std::string py_lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

std::string py_upper(std::string s) {
  for (char& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return s;
}

std::string py_strip(const std::string& s, const std::optional<Value>& chars, bool left,
                     bool right) {
  std::vector<uint32_t> set;
  const bool whitespace = !chars || chars->is_none();
  if (!whitespace) {
    if (!chars->is_string())
      throw ValueError(std::string("strip arg must be None or str, not ") + type_name(*chars));
    set = code_points(chars->str());
  }
  auto strip_it = [&](uint32_t cp) {
    return whitespace ? is_py_space(cp) : std::find(set.begin(), set.end(), cp) != set.end();
  };
  const auto offs = code_point_offsets(s);
  const auto cps = code_points(s);
  size_t b = 0, e = cps.size();
  if (left)
    while (b < e && strip_it(cps[b])) ++b;
  if (right)
    while (e > b && strip_it(cps[e - 1])) --e;
  return s.substr(offs[b], offs[e] - offs[b]);
}

std::vector<Value> py_split(const std::string& s, const std::optional<Value>& sep, int64_t maxsplit,
                            bool from_right) {
  std::vector<std::string> parts;
  if (maxsplit < 0) maxsplit = INT64_MAX;
  if (!sep || sep->is_none()) {  // runs of whitespace, ends ignored (Python's split_whitespace)
    const auto offs = code_point_offsets(s);
    const auto cps = code_points(s);
    const auto n = static_cast<int64_t>(cps.size());
    auto sp = [&](int64_t k) { return is_py_space(cps[static_cast<size_t>(k)]); };
    auto sub = [&](int64_t b, int64_t e) {
      return s.substr(offs[static_cast<size_t>(b)],
                      offs[static_cast<size_t>(e)] - offs[static_cast<size_t>(b)]);
    };
    if (!from_right) {
      int64_t i = 0;
      for (; maxsplit > 0; --maxsplit) {
        while (i < n && sp(i)) ++i;
        if (i == n) break;
        const int64_t j = i;
        while (i < n && !sp(i)) ++i;
        parts.push_back(sub(j, i));
      }
      while (i < n && sp(i)) ++i;
      if (i < n) parts.push_back(sub(i, n));
    } else {
      int64_t i = n;
      for (; maxsplit > 0; --maxsplit) {
        while (i > 0 && sp(i - 1)) --i;
        if (i == 0) break;
        const int64_t j = i;
        while (i > 0 && !sp(i - 1)) --i;
        parts.push_back(sub(i, j));
      }
      while (i > 0 && sp(i - 1)) --i;
      if (i > 0) parts.push_back(sub(0, i));
      std::reverse(parts.begin(), parts.end());
    }
  } else {
    if (!sep->is_string())
      throw ValueError(std::string("must be str or None, not ") + type_name(*sep));
    const std::string& d = sep->str();
    if (d.empty()) throw ValueError("empty separator");
    if (!from_right) {
      size_t i = 0;
      for (size_t j; maxsplit > 0 && (j = s.find(d, i)) != std::string::npos; --maxsplit) {
        parts.push_back(s.substr(i, j - i));
        i = j + d.size();
      }
      parts.push_back(s.substr(i));
    } else {
      size_t end = s.size();
      for (; maxsplit > 0 && end >= d.size(); --maxsplit) {
        const size_t j = s.rfind(d, end - d.size());
        if (j == std::string::npos) break;
        parts.push_back(s.substr(j + d.size(), end - j - d.size()));
        end = j;
      }
      parts.push_back(s.substr(0, end));
      std::reverse(parts.begin(), parts.end());
    }
  }
  std::vector<Value> out;
  for (auto& p : parts) out.push_back(Value::string(std::move(p)));
  return out;
}

std::string py_replace(const std::string& s, const std::string& old, const std::string& repl,
                       int64_t count) {
  if (count < 0) count = INT64_MAX;
  std::string out;
  if (old.empty()) {  // Python inserts repl before every character and at the end
    const auto offs = code_point_offsets(s);
    for (size_t k = 0; k + 1 < offs.size(); ++k) {
      if (count > 0) {
        out += repl;
        --count;
      }
      out.append(s, offs[k], offs[k + 1] - offs[k]);
    }
    if (count > 0) out += repl;
    return out;
  }
  size_t i = 0;
  for (size_t j; count > 0 && (j = s.find(old, i)) != std::string::npos; --count) {
    out.append(s, i, j - i);
    out += repl;
    i = j + old.size();
  }
  out.append(s, i, std::string::npos);
  return out;
}

namespace {

bool ascii_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool ascii_lower(char c) { return c >= 'a' && c <= 'z'; }

// Python's str.title (ASCII letters cased, everything else uncased).
std::string py_title(std::string s) {
  bool prev_cased = false;
  for (char& c : s) {
    if (prev_cased && ascii_upper(c)) c = static_cast<char>(c - 'A' + 'a');
    if (!prev_cased && ascii_lower(c)) c = static_cast<char>(c - 'a' + 'A');
    prev_cased = ascii_upper(c) || ascii_lower(c);
  }
  return s;
}

std::string py_capitalize(const std::string& s) {
  std::string out = py_lower(s);
  if (!out.empty() && ascii_lower(out[0])) out[0] = static_cast<char>(out[0] - 'a' + 'A');
  return out;
}

std::string need_str(const std::optional<Value>& v, const char* what) {
  if (!v || !v->is_string())
    throw ValueError(std::string(what) + " needs a string argument, got " +
                     (v ? type_name(*v) : "nothing"));
  return v->str();
}

int64_t opt_int(const std::optional<Value>& v, int64_t def, const char* what) {
  if (!v || v->is_none()) return def;
  if (!v->is_int()) throw ValueError(std::string(what) + " needs an integer");
  return v->as_int();
}

// startswith / endswith: a string or a tuple of strings.
bool affix(const std::string& s, const Value& arg, bool start) {
  auto one = [&](const Value& a) {
    if (!a.is_string())
      throw ValueError(std::string(start ? "startswith" : "endswith") +
                       " first arg must be str or a tuple of str, not " + type_name(a));
    const std::string& p = a.str();
    return p.size() <= s.size() && s.compare(start ? 0 : s.size() - p.size(), p.size(), p) == 0;
  };
  if (arg.kind() == Kind::Tuple) {
    for (const auto& a : arg.items())
      if (one(a)) return true;
    return false;
  }
  return one(arg);
}

Value str_method(Evaluator& ev, const std::string& s, const std::string& name, CallArgs& a,
                 int line) {
  const char* f = name.c_str();
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const auto p = bind_args(ev, a, f, {"chars"}, line);
    return ev.make_string(py_strip(s, p[0], name != "rstrip", name != "lstrip"), line);
  }
  if (name == "split" || name == "rsplit") {
    const auto p = bind_args(ev, a, f, {"sep", "maxsplit"}, line);
    return ev.make_list(py_split(s, p[0], opt_int(p[1], -1, f), name == "rsplit"), line);
  }
  if (name == "startswith" || name == "endswith") {
    const auto p = bind_args(ev, a, f, {"prefix"}, line);
    if (!p[0]) ev.error(line, name + "() takes exactly one argument");
    return Value::boolean(affix(s, *p[0], name == "startswith"));
  }
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize") {
    bind_args(ev, a, f, {}, line);
    return Value::string(name == "upper"   ? py_upper(s)
                         : name == "lower" ? py_lower(s)
                         : name == "title" ? py_title(s)
                                           : py_capitalize(s));
  }
  if (name == "replace") {
    const auto p = bind_args(ev, a, f, {"old", "new", "count"}, line);
    return ev.make_string(py_replace(s, need_str(p[0], f), need_str(p[1], f), opt_int(p[2], -1, f)),
                          line);
  }
  if (name == "find" || name == "rfind" || name == "count") {
    const auto p = bind_args(ev, a, f, {"sub"}, line);
    const std::string sub = need_str(p[0], f);
    if (name == "count") {
      if (sub.empty()) return Value::integer(static_cast<int64_t>(code_points(s).size()) + 1);
      int64_t n = 0;
      for (size_t i = s.find(sub); i != std::string::npos; i = s.find(sub, i + sub.size())) ++n;
      return Value::integer(n);
    }
    const size_t at = name == "find" ? s.find(sub) : s.rfind(sub);
    if (at == std::string::npos) return Value::integer(-1);
    return Value::integer(static_cast<int64_t>(code_points(s.substr(0, at)).size()));
  }
  if (name == "removeprefix" || name == "removesuffix") {
    const auto p = bind_args(ev, a, f, {"affix"}, line);
    const std::string x = need_str(p[0], f);
    const bool pre = name == "removeprefix";
    if (!affix(s, Value::string(x), pre)) return Value::string(s);
    return Value::string(pre ? s.substr(x.size()) : s.substr(0, s.size() - x.size()));
  }
  if (name == "join") {
    const auto p = bind_args(ev, a, f, {"iterable"}, line);
    if (!p[0]) ev.error(line, "join() takes exactly one argument");
    std::string out;
    bool first = true;
    for (const Value& item : ev.iterate(*p[0], line)) {
      if (!item.is_string())
        ev.error(line, std::string("sequence item: expected str instance, ") + type_name(item) +
                           " found");
      out += (first ? "" : s) + item.str();
      first = false;
    }
    return ev.make_string(std::move(out), line);
  }
  if (name == "splitlines") {
    bind_args(ev, a, f, {}, line);
    std::vector<Value> lines;
    size_t i = 0;
    while (i < s.size()) {
      size_t j = s.find_first_of("\n\r", i);
      if (j == std::string::npos) j = s.size();
      lines.push_back(Value::string(s.substr(i, j - i)));
      i = j + (s.compare(j, 2, "\r\n") == 0 ? 2 : 1);
    }
    return ev.make_list(std::move(lines), line);
  }
  ev.error(line, "unsupported method 'str." + name + "'");
}

Value dict_method(Evaluator& ev, const Value& d, const std::string& name, CallArgs& a, int line) {
  const char* f = name.c_str();
  if (name == "get") {
    const auto p = bind_args(ev, a, f, {"key", "default"}, line);
    if (!p[0]) ev.error(line, "get() takes at least one argument");
    const Value* v = d.dict().find(*p[0]);
    return v ? *v : p[1] ? *p[1] : Value::none();
  }
  bind_args(ev, a, f, {}, line);
  if (name == "copy") return d;
  std::vector<Value> out;
  for (const auto& kv : d.dict().items) {
    if (name == "keys") out.push_back(kv.first);
    if (name == "values") out.push_back(kv.second);
    if (name == "items") out.push_back(ev.make_list({kv.first, kv.second}, line, true));
  }
  if (name == "keys" || name == "values" || name == "items")
    return ev.make_list(std::move(out), line);
  if (name == "pop" || name == "popitem" || name == "setdefault" || name == "update" ||
      name == "clear")
    ev.error(line, "dict." + name + "() modifies a dict, which transformers' sandbox forbids");
  ev.error(line, "unsupported method 'dict." + name + "'");
}

Value list_method(Evaluator& ev, const Value& l, const std::string& name, CallArgs& a, int line) {
  const char* f = name.c_str();
  if (name == "count" || name == "index") {
    const auto p = bind_args(ev, a, f, {"value"}, line);
    if (!p[0]) ev.error(line, name + "() takes exactly one argument");
    int64_t n = 0;
    for (size_t i = 0; i < l.items().size(); ++i) {
      if (!equal(l.items()[i], *p[0])) continue;
      if (name == "index") return Value::integer(static_cast<int64_t>(i));
      ++n;
    }
    if (name == "index") ev.error(line, "list.index(x): x not in list");
    return Value::integer(n);
  }
  if (name == "copy") return l;
  ev.error(line, std::string(type_name(l)) + "." + name +
                     "() modifies a list, which transformers' sandbox forbids");
}

constexpr std::string_view kStrMethods[] = {
    "capitalize",   "casefold",    "center",    "count",      "encode",       "endswith",
    "expandtabs",   "find",        "format",    "format_map", "index",        "isalnum",
    "isalpha",      "isascii",     "isdecimal", "isdigit",    "isidentifier", "islower",
    "isnumeric",    "isprintable", "isspace",   "istitle",    "isupper",      "join",
    "ljust",        "lower",       "lstrip",    "maketrans",  "partition",    "removeprefix",
    "removesuffix", "replace",     "rfind",     "rindex",     "rjust",        "rpartition",
    "rsplit",       "rstrip",      "split",     "splitlines", "startswith",   "strip",
    "swapcase",     "title",       "translate", "upper",      "zfill"};
constexpr std::string_view kDictMethods[] = {"clear",      "copy",   "fromkeys", "get",
                                             "items",      "keys",   "pop",      "popitem",
                                             "setdefault", "update", "values"};
constexpr std::string_view kListMethods[] = {"append", "clear",   "copy",   "count",
                                             "extend", "index",   "insert", "pop",
                                             "remove", "reverse", "sort"};

template <size_t N>
bool among(const std::string_view (&names)[N], const std::string& n) {
  return std::find(std::begin(names), std::end(names), n) != std::end(names);
}

}  // namespace

std::optional<Value> find_method(const Value& self, const std::string& name) {
  const std::string label = std::string(type_name(self)) + "." + name;
  if (self.is_string() && among(kStrMethods, name))
    return Value::function(label, [self, name](Evaluator& ev, CallArgs& a, int line) {
      return str_method(ev, self.str(), name, a, line);
    });
  if (self.kind() == Kind::Dict && among(kDictMethods, name))
    return Value::function(label, [self, name](Evaluator& ev, CallArgs& a, int line) {
      return dict_method(ev, self, name, a, line);
    });
  if ((self.kind() == Kind::List && among(kListMethods, name)) ||
      (self.kind() == Kind::Tuple && (name == "count" || name == "index")))
    return Value::function(label, [self, name](Evaluator& ev, CallArgs& a, int line) {
      return list_method(ev, self, name, a, line);
    });
  return std::nullopt;
}

}  // namespace lc::jinja
