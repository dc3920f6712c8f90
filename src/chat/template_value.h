// The values a chat template computes with, modelled on the Python objects jinja2 sees when
// transformers renders a template: undefined, None, bool, int, float, str, list, tuple, dict, a
// namespace() object, callables (globals, macros, bound methods) and generators (what jinja2's
// map, select, selectattr, items, unique and reverse filters return: always true, no len(),
// single use -- a template that tests one for truth or iterates it twice sees what jinja2 sees).
// Lists, tuples and dicts are immutable once built (transformers renders in jinja2's
// ImmutableSandboxedEnvironment, which forbids list.append and dict.update), so a Value is cheap to
// copy: containers and strings are shared. Only a namespace is mutable ({% set ns.attr = ... %}),
// and it may not hold another namespace or a callable, so values never form cycles and their
// nesting depth stays bounded.
//
// Strings are UTF-8 bytes; where Python counts characters (len, indexing, slicing, iteration)
// these count code points, an invalid byte counting as one.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace lc::jinja {

// Thrown by value operations that do not know the template line (a type mismatch, a value
// nested too deep); the evaluator rethrows it as lc::Error "chat template line N: what".
class ValueError : public std::runtime_error {
 public:
  explicit ValueError(const std::string& what) : std::runtime_error(what) {}
};

class Value;
class Evaluator;

enum class Kind : uint8_t {
  Undefined,
  None,
  Bool,
  Int,
  Float,
  String,
  List,
  Tuple,
  Dict,
  Namespace,
  Function,
  Generator,
};

// Nesting depth a list, tuple, dict or namespace may reach (printing and tojson recurse over it).
constexpr int kMaxValueDepth = 128;

struct ListData {
  std::vector<Value> items;
  int depth = 1;
  bool has_object = false;  // a namespace or a callable is inside
};

struct DictData {
  std::vector<std::pair<Value, Value>> items;  // insertion order, as Python dicts keep it
  int depth = 1;
  bool has_object = false;
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
};

// namespace(...): the one mutable object (attributes are string keys).
struct NamespaceData {
  std::vector<std::pair<std::string, Value>> attrs;
  Value* find(std::string_view name);
};

// Positional and keyword arguments of a call.
struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;
};

// A global function, macro or bound method. `call` throws lc::Error (with the template line
// when it knows it) on bad arguments.
struct FunctionData {
  std::string name;
  std::function<Value(Evaluator& ev, CallArgs& a, int line)> call;
};

// A lazy sequence: `produce` runs on first use (its errors surface there, as in Python); the
// items are then handed out once.
struct GeneratorData {
  std::function<std::vector<Value>(Evaluator& ev)> produce;
  std::vector<Value> items;
  size_t next = 0;
  bool started = false;
  bool has_object = false;  // what it holds contains a namespace or a callable
};

class Value {
 public:
  Value() = default;  // undefined
  static Value undefined(std::string hint = {});
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double f);
  static Value string(std::string s);
  // Throw ValueError when the result would nest deeper than kMaxValueDepth.
  static Value list(std::vector<Value> items);
  static Value tuple(std::vector<Value> items);
  static Value dict(std::vector<std::pair<Value, Value>> items);
  static Value new_namespace();
  static Value function(std::string name,
                        std::function<Value(Evaluator&, CallArgs&, int line)> call);
  static Value generator(std::function<std::vector<Value>(Evaluator&)> produce, bool has_object);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_int() const { return kind_ == Kind::Int || kind_ == Kind::Bool; }  // Python: bool is int
  bool is_number() const { return is_int() || kind_ == Kind::Float; }
  bool is_sequence() const { return kind_ == Kind::List || kind_ == Kind::Tuple; }

  bool as_bool() const { return std::get<bool>(p_); }
  int64_t as_int() const;    // Int or Bool
  double as_double() const;  // any number
  const std::string& str() const { return *std::get<StrPtr>(p_); }
  const std::vector<Value>& items() const { return std::get<ListPtr>(p_)->items; }
  const DictData& dict() const { return *std::get<DictPtr>(p_); }
  NamespaceData& ns() const { return *std::get<NsPtr>(p_); }
  const FunctionData& fn() const { return *std::get<FnPtr>(p_); }
  GeneratorData& gen() const { return *std::get<GenPtr>(p_); }
  // Why an undefined value is undefined ("'x' is undefined"), for error messages.
  std::string undefined_hint() const;
  // Containers: depth (a namespace counts its current attributes) and whether a namespace or a
  // callable is inside (a bound method holds its object, which might hold a namespace).
  int depth() const;
  bool has_object() const;
  // Identity of shared objects (Python `is`), for namespaces, functions and generators.
  const void* identity() const;

 private:
  using StrPtr = std::shared_ptr<const std::string>;
  using ListPtr = std::shared_ptr<const ListData>;
  using DictPtr = std::shared_ptr<const DictData>;
  using NsPtr = std::shared_ptr<NamespaceData>;
  using FnPtr = std::shared_ptr<const FunctionData>;
  using GenPtr = std::shared_ptr<GeneratorData>;
  Kind kind_ = Kind::Undefined;
  std::variant<std::monostate, bool, int64_t, double, StrPtr, ListPtr, DictPtr, NsPtr, FnPtr,
               GenPtr>
      p_;
};

// Python's type name of a value, as its error messages spell it ('str', 'list', 'NoneType').
const char* type_name(const Value& v);
// Python truthiness (undefined is false).
bool truthy(const Value& v);
// str(v) as jinja2 prints it: undefined "", None "None", True "True", floats as repr, containers
// as Python repr.
std::string to_str(const Value& v);
// repr(v) (strings quoted the way Python chooses).
std::string repr(const Value& v);
// Python's repr of a float: shortest round-trip digits, exponent form below 1e-4 and from 1e16.
std::string float_repr(double f);
// ==, with Python's rules: 1 == 1.0 == True, [1] != (1,), dicts compare unordered.
bool equal(const Value& a, const Value& b);
// <, for numbers, strings (code point order) and sequences of them; other pairs throw
// ValueError "'<' not supported between instances of 'X' and 'Y'".
bool less(const Value& a, const Value& b);

// UTF-8 helpers: code points of s (an invalid byte decodes as itself, 0x80-0xFF), and back.
std::vector<uint32_t> code_points(std::string_view s);
void append_utf8(std::string& out, uint32_t cp);
// Byte offsets of each code point's start in s, plus s.size() at the end.
std::vector<size_t> code_point_offsets(std::string_view s);
// Python's str.isspace for one code point.
bool is_py_space(uint32_t cp);

}  // namespace lc::jinja
