#include "chat/template_value.h"

#include <algorithm>

namespace lc::jinja {

const Value* DictData::find(const Value& key) const {
  for (const auto& kv : items)
    if (equal(kv.first, key)) return &kv.second;
  return nullptr;
}

const Value* DictData::find(std::string_view key) const {
  for (const auto& kv : items)
    if (kv.first.is_string() && kv.first.str() == key) return &kv.second;
  return nullptr;
}

Value* NamespaceData::find(std::string_view name) {
  for (auto& a : attrs)
    if (a.first == name) return &a.second;
  return nullptr;
}

Value Value::undefined(std::string hint) {
  Value v;
  if (!hint.empty()) v.p_ = std::make_shared<const std::string>(std::move(hint));
  return v;
}

Value Value::none() {
  Value v;
  v.kind_ = Kind::None;
  return v;
}

Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::Bool;
  v.p_ = b;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.kind_ = Kind::Int;
  v.p_ = i;
  return v;
}

Value Value::number(double f) {
  Value v;
  v.kind_ = Kind::Float;
  v.p_ = f;
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.kind_ = Kind::String;
  v.p_ = std::make_shared<const std::string>(std::move(s));
  return v;
}

namespace {

// Depth and namespace flag of a container holding `children`.
template <typename F>
void measure(int& depth, bool& has_ns, size_t n, F child) {
  depth = 1;
  has_ns = false;
  for (size_t i = 0; i < n; ++i) {
    const Value& c = child(i);
    depth = std::max(depth, c.depth() + 1);
    has_ns = has_ns || c.kind() == Kind::Namespace || c.kind() == Kind::Function || c.has_object();
  }
  if (depth > kMaxValueDepth)
    throw ValueError("value nested deeper than " + std::to_string(kMaxValueDepth) + " levels");
}

}  // namespace

Value Value::list(std::vector<Value> items) {
  auto d = std::make_shared<ListData>();
  measure(d->depth, d->has_object, items.size(),
          [&](size_t i) -> const Value& { return items[i]; });
  d->items = std::move(items);
  Value v;
  v.kind_ = Kind::List;
  v.p_ = ListPtr(std::move(d));
  return v;
}

Value Value::tuple(std::vector<Value> items) {
  Value v = list(std::move(items));
  v.kind_ = Kind::Tuple;
  return v;
}

Value Value::dict(std::vector<std::pair<Value, Value>> items) {
  auto d = std::make_shared<DictData>();
  measure(d->depth, d->has_object, 2 * items.size(), [&](size_t i) -> const Value& {
    return i % 2 ? items[i / 2].second : items[i / 2].first;
  });
  d->items = std::move(items);
  Value v;
  v.kind_ = Kind::Dict;
  v.p_ = DictPtr(std::move(d));
  return v;
}

Value Value::new_namespace() {
  Value v;
  v.kind_ = Kind::Namespace;
  v.p_ = std::make_shared<NamespaceData>();
  return v;
}

Value Value::function(std::string name,
                      std::function<Value(Evaluator&, CallArgs&, int line)> call) {
  auto d = std::make_shared<FunctionData>();
  d->name = std::move(name);
  d->call = std::move(call);
  Value v;
  v.kind_ = Kind::Function;
  v.p_ = FnPtr(std::move(d));
  return v;
}

Value Value::generator(std::function<std::vector<Value>(Evaluator&)> produce, bool has_object) {
  auto d = std::make_shared<GeneratorData>();
  d->produce = std::move(produce);
  d->has_object = has_object;
  Value v;
  v.kind_ = Kind::Generator;
  v.p_ = GenPtr(std::move(d));
  return v;
}

int64_t Value::as_int() const {
  return kind_ == Kind::Bool ? int64_t{std::get<bool>(p_)} : std::get<int64_t>(p_);
}

double Value::as_double() const {
  return kind_ == Kind::Float ? std::get<double>(p_) : static_cast<double>(as_int());
}

std::string Value::undefined_hint() const {
  const StrPtr* s = std::get_if<StrPtr>(&p_);
  return s && *s ? **s : "value is undefined";
}

int Value::depth() const {
  switch (kind_) {
    case Kind::List:
    case Kind::Tuple:
      return std::get<ListPtr>(p_)->depth;
    case Kind::Dict:
      return std::get<DictPtr>(p_)->depth;
    case Kind::Namespace: {
      int d = 1;
      for (const auto& a : ns().attrs) d = std::max(d, a.second.depth() + 1);
      return d;
    }
    default:
      return 0;
  }
}

bool Value::has_object() const {
  switch (kind_) {
    case Kind::List:
    case Kind::Tuple:
      return std::get<ListPtr>(p_)->has_object;
    case Kind::Dict:
      return std::get<DictPtr>(p_)->has_object;
    case Kind::Generator:
      return std::get<GenPtr>(p_)->has_object;
    default:
      return false;
  }
}

const void* Value::identity() const {
  if (kind_ == Kind::Namespace) return std::get<NsPtr>(p_).get();
  if (kind_ == Kind::Function) return std::get<FnPtr>(p_).get();
  if (kind_ == Kind::Generator) return std::get<GenPtr>(p_).get();
  return nullptr;
}

const char* type_name(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
      return "Undefined";
    case Kind::None:
      return "NoneType";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::String:
      return "str";
    case Kind::List:
      return "list";
    case Kind::Tuple:
      return "tuple";
    case Kind::Dict:
      return "dict";
    case Kind::Namespace:
      return "Namespace";
    case Kind::Function:
      return "function";
    case Kind::Generator:
      return "generator";
  }
  return "?";
}

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
    case Kind::None:
      return false;
    case Kind::Bool:
      return v.as_bool();
    case Kind::Int:
      return v.as_int() != 0;
    case Kind::Float:
      return v.as_double() != 0.0;
    case Kind::String:
      return !v.str().empty();
    case Kind::List:
    case Kind::Tuple:
      return !v.items().empty();
    case Kind::Dict:
      return !v.dict().items.empty();
    case Kind::Namespace:
    case Kind::Function:
    case Kind::Generator:
      return true;
  }
  return false;
}

bool equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_int() && b.is_int()) return a.as_int() == b.as_int();
    return a.as_double() == b.as_double();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::Undefined:
    case Kind::None:
      return true;
    case Kind::String:
      return a.str() == b.str();
    case Kind::List:
    case Kind::Tuple: {
      if (a.items().size() != b.items().size()) return false;
      for (size_t i = 0; i < a.items().size(); ++i)
        if (!equal(a.items()[i], b.items()[i])) return false;
      return true;
    }
    case Kind::Dict: {
      const auto& ai = a.dict().items;
      if (ai.size() != b.dict().items.size()) return false;
      for (const auto& kv : ai) {
        const Value* other = b.dict().find(kv.first);
        if (!other || !equal(kv.second, *other)) return false;
      }
      return true;
    }
    default:
      return a.identity() == b.identity();
  }
}

bool less(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_int() && b.is_int()) return a.as_int() < b.as_int();
    return a.as_double() < b.as_double();
  }
  if (a.is_string() && b.is_string()) return a.str() < b.str();  // UTF-8 keeps code point order
  if (a.kind() == b.kind() && a.is_sequence()) {
    const auto& x = a.items();
    const auto& y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i)
      if (!equal(x[i], y[i])) return less(x[i], y[i]);
    return x.size() < y.size();
  }
  throw ValueError(std::string("'<' not supported between instances of '") + type_name(a) +
                   "' and '" + type_name(b) + "'");
}

}  // namespace lc::jinja
