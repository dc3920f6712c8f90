// jinja2's tests (jinja2/tests.py) and the globals a transformers-rendered template sees:
// range (the sandbox's 100000-item limit), dict, namespace, raise_exception, strftime_now.
#include <cmath>
#include <ctime>

#include "chat/template_builtins.h"
#include "chat/template_eval.h"

namespace lc::jinja {
namespace {

// The one argument of a comparison test (x is eq 3, x is divisibleby(2)).
const Value& arg1(Evaluator& ev, CallArgs& a, const char* test, int line) {
  if (a.args.size() != 1 || !a.kwargs.empty())
    ev.error(line, std::string("test '") + test + "' takes one argument");
  return a.args[0];
}

void no_args(Evaluator& ev, CallArgs& a, const char* test, int line) {
  if (!a.args.empty() || !a.kwargs.empty())
    ev.error(line, std::string("test '") + test + "' takes no arguments");
}

#define LC_TEST0(fn, name, expr)                                  \
  bool fn(Evaluator& ev, const Value& x, CallArgs& a, int line) { \
    no_args(ev, a, name, line);                                   \
    return expr;                                                  \
  }

LC_TEST0(t_defined, "defined", !x.is_undefined())
LC_TEST0(t_undefined, "undefined", x.is_undefined())
LC_TEST0(t_none, "none", x.is_none())
LC_TEST0(t_boolean, "boolean", x.kind() == Kind::Bool)
LC_TEST0(t_true, "true", x.kind() == Kind::Bool && x.as_bool())
LC_TEST0(t_false, "false", x.kind() == Kind::Bool && !x.as_bool())
LC_TEST0(t_integer, "integer", x.kind() == Kind::Int)
LC_TEST0(t_float, "float", x.kind() == Kind::Float)
LC_TEST0(t_number, "number", x.is_number())
LC_TEST0(t_string, "string", x.is_string())
LC_TEST0(t_mapping, "mapping", x.kind() == Kind::Dict)
// Undefined has __len__, __getitem__ and __iter__, so jinja2 calls it a sequence and iterable.
LC_TEST0(t_sequence, "sequence",
         x.is_string() || x.is_sequence() || x.kind() == Kind::Dict || x.is_undefined())
LC_TEST0(t_iterable, "iterable",
         x.is_string() || x.is_sequence() || x.kind() == Kind::Dict || x.is_undefined() ||
             x.kind() == Kind::Generator)
// Undefined has __call__ (it raises when called), so Python's callable() says yes.
LC_TEST0(t_callable, "callable", x.kind() == Kind::Function || x.is_undefined())
#undef LC_TEST0

bool t_lower_upper(const Value& x, bool upper) {
  const std::string s = to_str(x);
  bool cased = false;
  for (char c : s) {
    if ((upper && c >= 'a' && c <= 'z') || (!upper && c >= 'A' && c <= 'Z')) return false;
    cased = cased || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  }
  return cased;
}

bool t_lower(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  no_args(ev, a, "lower", line);
  return t_lower_upper(x, false);
}
bool t_upper(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  no_args(ev, a, "upper", line);
  return t_lower_upper(x, true);
}

// value % m == r with Python's modulo (the sign of m), for ints and floats.
bool py_mod_is(Evaluator& ev, const Value& x, const Value& m, double r, const char* test,
               int line) {
  if (!x.is_number() || !m.is_number())
    ev.error(line, std::string("test '") + test + "' needs numbers, got '" + type_name(x) + "'");
  if (m.is_int() && m.as_int() == 0) ev.error(line, "integer modulo by zero");
  if (x.is_int() && m.is_int()) {
    const int64_t d = m.as_int();
    int64_t v = d == -1 ? 0 : x.as_int() % d;
    if (v != 0 && ((v < 0) != (d < 0))) v += d;
    return static_cast<double>(v) == r;
  }
  const double d = m.as_double();
  if (d == 0.0) ev.error(line, "float modulo");
  double v = std::fmod(x.as_double(), d);
  if (v != 0.0 && ((v < 0) != (d < 0))) v += d;
  return v == r;
}

bool t_odd(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  no_args(ev, a, "odd", line);
  return py_mod_is(ev, x, Value::integer(2), 1, "odd", line);
}
bool t_even(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  no_args(ev, a, "even", line);
  return py_mod_is(ev, x, Value::integer(2), 0, "even", line);
}
bool t_divisibleby(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  return py_mod_is(ev, x, arg1(ev, a, "divisibleby", line), 0, "divisibleby", line);
}

// x is sameas y: Python identity; None/True/False and small ints are singletons in CPython.
bool t_sameas(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  const Value& y = arg1(ev, a, "sameas", line);
  if (x.kind() != y.kind()) return false;
  switch (x.kind()) {
    case Kind::None:
    case Kind::Undefined:
      return x.kind() == Kind::None;
    case Kind::Bool:
      return x.as_bool() == y.as_bool();
    case Kind::Int:
      return x.as_int() == y.as_int() && x.as_int() >= -5 && x.as_int() <= 256;
    case Kind::Namespace:
    case Kind::Function:
    case Kind::Generator:
      return x.identity() == y.identity();
    default:
      return false;
  }
}

bool t_in(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  const Value& seq = arg1(ev, a, "in", line);
  if (seq.is_string()) {
    if (!x.is_string()) ev.error(line, "'in <string>' requires string as left operand");
    return seq.str().find(x.str()) != std::string::npos;
  }
  if (seq.kind() == Kind::Dict) return seq.dict().find(x) != nullptr;
  for (const Value& item : ev.iterate(seq, line))
    if (equal(item, x)) return true;
  return false;
}

template <int Op>  // 0 ==, 1 !=, 2 <, 3 <=, 4 >, 5 >=
bool t_compare(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  const Value& y = arg1(ev, a, "comparison", line);
  if (Op == 0) return equal(x, y);
  if (Op == 1) return !equal(x, y);
  if (x.is_undefined()) ev.error(line, x.undefined_hint());
  if (y.is_undefined()) ev.error(line, y.undefined_hint());
  if (Op == 2) return less(x, y);
  if (Op == 3) return less(x, y) || equal(x, y);
  if (Op == 4) return less(y, x);
  return less(y, x) || equal(x, y);
}

Value g_range(Evaluator& ev, CallArgs& a, int line) {
  if (a.args.empty() || a.args.size() > 3 || !a.kwargs.empty())
    ev.error(line, "range() takes 1 to 3 integer arguments");
  int64_t v[3] = {0, 0, 1};
  for (size_t i = 0; i < a.args.size(); ++i) {
    if (!a.args[i].is_int())
      ev.error(line, std::string("range() needs integers, got ") + type_name(a.args[i]));
    v[a.args.size() == 1 ? 1 : i] = a.args[i].as_int();
  }
  if (v[2] == 0) ev.error(line, "range() arg 3 must not be zero");
  // Items: ceil((stop - start) / step) when positive (long double avoids overflow).
  const long double span = static_cast<long double>(v[1]) - static_cast<long double>(v[0]);
  const long double n = span / static_cast<long double>(v[2]);
  if (n > 100000)
    ev.error(line, "range too big: transformers' sandbox allows at most 100000 items");
  std::vector<Value> out;
  for (int64_t i = v[0]; v[2] > 0 ? i < v[1] : i > v[1];) {
    out.push_back(Value::integer(i));
    if (__builtin_add_overflow(i, v[2], &i)) break;
  }
  return ev.make_list(std::move(out), line);
}

// Namespace attributes and dict() entries from namespace(d, k=v) / dict(k=v).
std::vector<std::pair<Value, Value>> entries(Evaluator& ev, CallArgs& a, const char* fn, int line) {
  std::vector<std::pair<Value, Value>> out;
  if (a.args.size() > 1)
    ev.error(line, std::string(fn) + "() takes at most one positional argument");
  if (!a.args.empty()) {
    const Value& d = a.args[0];
    if (d.kind() != Kind::Dict)
      ev.error(line, std::string(fn) + "() positional argument must be a dict");
    out = d.dict().items;
  }
  for (auto& kw : a.kwargs) out.emplace_back(Value::string(kw.first), kw.second);
  return out;
}

Value g_namespace(Evaluator& ev, CallArgs& a, int line) {
  Value ns = Value::new_namespace();
  for (auto& kv : entries(ev, a, "namespace", line)) {
    const Value& v = kv.second;
    if (!kv.first.is_string()) ev.error(line, "namespace() attribute names must be strings");
    if (v.kind() == Kind::Namespace || v.kind() == Kind::Function || v.has_object())
      ev.error(line, "unsupported: a namespace attribute holding a namespace or a callable");
    if (Value* slot = ns.ns().find(kv.first.str()))
      *slot = v;
    else
      ns.ns().attrs.emplace_back(kv.first.str(), v);
  }
  return ns;
}

Value g_dict(Evaluator& ev, CallArgs& a, int line) {
  return Value::dict(entries(ev, a, "dict", line));
}

Value g_raise_exception(Evaluator& ev, CallArgs& a, int line) {
  ev.error(line, "raise_exception: " + (a.args.empty() ? std::string() : to_str(a.args[0])));
}

Value g_strftime_now(Evaluator& ev, CallArgs& a, int line) {
  const auto p = bind_args(ev, a, "strftime_now", {"format"}, line);
  if (!p[0] || !p[0]->is_string()) ev.error(line, "strftime_now() needs a format string");
  const std::string& fmt = p[0]->str();
  if (fmt.size() > 256) ev.error(line, "strftime_now(): format longer than 256 bytes");
  const bool fixed = ev.options().now_unix_seconds >= 0;
  const std::time_t now =
      fixed ? static_cast<std::time_t>(ev.options().now_unix_seconds) : std::time(nullptr);
  std::tm tm{};
  if (fixed)
    gmtime_r(&now, &tm);
  else
    localtime_r(&now, &tm);
  std::string buf(fmt.size() * 64 + 64, '\0');
  const size_t n = fmt.empty() ? 0 : std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
  buf.resize(n);
  return ev.make_string(std::move(buf), line);
}

Value unsupported_global(Evaluator& ev, const char* name, int line) {
  ev.error(line, std::string("unsupported function '") + name + "'");
}

}  // namespace

TestFn find_test(std::string_view name) {
  static const std::pair<std::string_view, TestFn> kTests[] = {
      {"defined", t_defined},
      {"undefined", t_undefined},
      {"none", t_none},
      {"boolean", t_boolean},
      {"true", t_true},
      {"false", t_false},
      {"integer", t_integer},
      {"float", t_float},
      {"number", t_number},
      {"string", t_string},
      {"mapping", t_mapping},
      {"sequence", t_sequence},
      {"iterable", t_iterable},
      {"callable", t_callable},
      {"lower", t_lower},
      {"upper", t_upper},
      {"odd", t_odd},
      {"even", t_even},
      {"divisibleby", t_divisibleby},
      {"sameas", t_sameas},
      {"in", t_in},
      {"==", t_compare<0>},
      {"eq", t_compare<0>},
      {"equalto", t_compare<0>},
      {"!=", t_compare<1>},
      {"ne", t_compare<1>},
      {"<", t_compare<2>},
      {"lt", t_compare<2>},
      {"lessthan", t_compare<2>},
      {"<=", t_compare<3>},
      {"le", t_compare<3>},
      {">", t_compare<4>},
      {"gt", t_compare<4>},
      {"greaterthan", t_compare<4>},
      {">=", t_compare<5>},
      {"ge", t_compare<5>},
  };
  for (const auto& t : kTests)
    if (t.first == name) return t.second;
  return nullptr;
}

std::vector<std::pair<std::string, Value>> global_functions() {
  std::vector<std::pair<std::string, Value>> g;
  g.emplace_back("range", Value::function("range", g_range));
  g.emplace_back("namespace", Value::function("namespace", g_namespace));
  g.emplace_back("dict", Value::function("dict", g_dict));
  g.emplace_back("raise_exception", Value::function("raise_exception", g_raise_exception));
  g.emplace_back("strftime_now", Value::function("strftime_now", g_strftime_now));
  for (const char* name : {"lipsum", "cycler", "joiner"})
    g.emplace_back(name, Value::function(name, [name](Evaluator& ev, CallArgs&, int line) {
                     return unsupported_global(ev, name, line);
                   }));
  return g;
}

}  // namespace lc::jinja
