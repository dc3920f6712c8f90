// What a chat template can call: jinja2's filters and tests (the subset real chat templates
// use), the globals transformers provides (range, namespace, dict, raise_exception,
// strftime_now), Python's str and dict methods, and transformers' tojson. Each is written from
// the Python it imitates (jinja2/filters.py, jinja2/tests.py, transformers'
// _compile_jinja_template, Python's str/dict/json.dumps).
#pragma once
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/template_ast.h"
#include "chat/template_value.h"

namespace lc::jinja {

// nullptr when the name is not a supported filter / test.
FilterFn find_filter(std::string_view name);
TestFn find_test(std::string_view name);

// Internal to the builtins: the filters that work item by item (template_filters_seq.cc), and
// jinja2's attribute getter ("a.b.0": getitem a, then b, then 0; `def` replaces undefined).
FilterFn find_sequence_filter(std::string_view name);
FilterFn find_number_filter(std::string_view name);  // template_filters_num.cc
Value get_attribute_path(Evaluator& ev, const Value& item, const Value& attribute, const Value* def,
                         int line);

// What jinja2's generator-returning filters give: a generator whose items are
// eager(x, a).items(), computed when it is first iterated (template_filters_seq.cc).
Value make_generator(const Value& x, const CallArgs& a, int line, FilterFn eager);

// The global functions every template sees.
std::vector<std::pair<std::string, Value>> global_functions();

// self.name for a str, dict, list or tuple when Python has such a method: a bound method (one
// this engine does not implement throws "unsupported method" when called). nullopt when Python
// has no such attribute.
std::optional<Value> find_method(const Value& self, const std::string& name);

// json.dumps(v, ensure_ascii, indent, separators, sort_keys) as transformers' tojson filter
// calls it. indent: nullopt = None (one line), else the per-level indentation string. Throws
// ValueError for values JSON cannot hold (undefined, namespaces, callables, tuple keys).
struct JsonOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
};
std::string to_json(const Value& v, const JsonOptions& opt);

// Binds a call's arguments to parameter names with Python's rules: positional in order, then
// keywords by name. Absent ones are nullopt. Throws lc::Error naming `fname` and the line on too
// many, unknown or repeated arguments.
std::vector<std::optional<Value>> bind_args(Evaluator& ev, const CallArgs& a, const char* fname,
                                            std::initializer_list<const char*> names, int line);

// Python's str helpers on UTF-8 strings.
std::string py_strip(const std::string& s, const std::optional<Value>& chars, bool left,
                     bool right);
std::string py_lower(std::string s);  // ASCII letters only
std::string py_upper(std::string s);  // ASCII letters only
std::vector<Value> py_split(const std::string& s, const std::optional<Value>& sep, int64_t maxsplit,
                            bool from_right);
// fmt % args (args: a tuple of values, a dict for %(key)s, or one value). Throws ValueError.
std::string py_percent_format(const std::string& fmt, const Value& args);
std::string py_replace(const std::string& s, const std::string& old, const std::string& repl,
                       int64_t count);

}  // namespace lc::jinja
