// jinja2's filters that work item by item: map, select/reject, selectattr/rejectattr, unique,
// sort, min, max, sum, attr (jinja2/filters.py).
#include <algorithm>

#include "chat/template_builtins.h"
#include "chat/template_eval.h"

namespace lc::jinja {

namespace {

bool holds_object(const Value& v) {
  return v.kind() == Kind::Namespace || v.kind() == Kind::Function || v.has_object();
}

}  // namespace

Value make_generator(const Value& x, const CallArgs& a, int line, FilterFn eager) {
  bool obj = holds_object(x);
  for (const auto& v : a.args) obj = obj || holds_object(v);
  for (const auto& kv : a.kwargs) obj = obj || holds_object(kv.second);
  return Value::generator(
      [x, a, line, eager](Evaluator& ev) {
        CallArgs args = a;
        const Value list = eager(ev, x, args, line);
        return list.items();
      },
      obj);
}

namespace {

template <FilterFn F>
Value lazy_filter(Evaluator&, const Value& x, CallArgs& a, int line) {
  return make_generator(x, a, line, F);
}

// The key a case-insensitive comparison uses (jinja2's ignore_case).
Value fold(const Value& v, bool case_sensitive) {
  return !case_sensitive && v.is_string() ? Value::string(py_lower(v.str())) : v;
}

// seq|select(test, args...) / reject / selectattr(attr, test, args...) / rejectattr.
Value select_items(Evaluator& ev, const Value& x, CallArgs& a, int line, bool by_attr,
                   bool keep_if) {
  size_t next = 0;
  const Value* attr = nullptr;
  if (by_attr) {
    if (a.args.empty()) ev.error(line, "selectattr/rejectattr need an attribute name");
    attr = &a.args[next++];
  }
  TestFn test = nullptr;
  std::string test_name;
  if (next < a.args.size()) {
    test_name = to_str(a.args[next++]);
    test = find_test(test_name);
    if (!test) ev.error(line, "unsupported test '" + test_name + "'");
  }
  CallArgs rest;
  rest.args.assign(a.args.begin() + static_cast<std::ptrdiff_t>(next), a.args.end());
  rest.kwargs = a.kwargs;
  std::vector<Value> out;
  if (!truthy(x)) return ev.make_list({}, line);  // jinja2: `if value:` before iterating
  for (const Value& item : ev.iterate(x, line)) {
    const Value subject = attr ? get_attribute_path(ev, item, *attr, nullptr, line) : item;
    CallArgs call = rest;
    const bool pass = test ? test(ev, subject, call, line) : truthy(subject);
    if (pass == keep_if) out.push_back(item);
  }
  return ev.make_list(std::move(out), line);
}

Value f_select(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  return select_items(ev, x, a, line, false, true);
}
Value f_reject(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  return select_items(ev, x, a, line, false, false);
}
Value f_selectattr(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  return select_items(ev, x, a, line, true, true);
}
Value f_rejectattr(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  return select_items(ev, x, a, line, true, false);
}

Value f_map(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  std::vector<Value> out;
  if (!truthy(x)) return ev.make_list({}, line);  // jinja2: `if value:` before anything else
  if (a.args.empty()) {
    const auto p = bind_args(ev, a, "map", {"attribute", "default"}, line);
    if (!p[0]) ev.error(line, "map needs a filter name or attribute=");
    const Value* def = p[1] && !p[1]->is_none() ? &*p[1] : nullptr;
    for (const Value& item : ev.iterate(x, line))
      out.push_back(get_attribute_path(ev, item, *p[0], def, line));
    return ev.make_list(std::move(out), line);
  }
  const std::string name = to_str(a.args[0]);
  const FilterFn filter = find_filter(name);
  if (!filter) ev.error(line, "unsupported filter '" + name + "'");
  CallArgs rest;
  rest.args.assign(a.args.begin() + 1, a.args.end());
  rest.kwargs = a.kwargs;
  for (const Value& item : ev.iterate(x, line)) {
    CallArgs call = rest;
    out.push_back(filter(ev, item, call, line));
  }
  return ev.make_list(std::move(out), line);
}

// The items with their comparison keys (attribute, case folding).
std::vector<std::pair<Value, Value>> keyed(Evaluator& ev, const Value& x,
                                           const std::optional<Value>& case_sensitive,
                                           const std::optional<Value>& attribute, int line) {
  const bool cs = case_sensitive && truthy(*case_sensitive);
  std::vector<std::pair<Value, Value>> out;
  for (const Value& item : ev.iterate(x, line)) {
    const Value key = attribute && !attribute->is_none()
                          ? get_attribute_path(ev, item, *attribute, nullptr, line)
                          : item;
    out.emplace_back(fold(key, cs), item);
  }
  return out;
}

Value f_sort(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  const auto p = bind_args(ev, a, "sort", {"reverse", "case_sensitive", "attribute"}, line);
  auto items = keyed(ev, x, p[1], p[2], line);
  const bool rev = p[0] && truthy(*p[0]);
  std::stable_sort(items.begin(), items.end(), [rev](const auto& l, const auto& r) {
    return rev ? less(r.first, l.first) : less(l.first, r.first);
  });
  std::vector<Value> out;
  for (auto& kv : items) out.push_back(std::move(kv.second));
  return ev.make_list(std::move(out), line);
}

Value f_unique(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  const auto p = bind_args(ev, a, "unique", {"case_sensitive", "attribute"}, line);
  std::vector<Value> seen, out;
  for (auto& kv : keyed(ev, x, p[0], p[1], line)) {
    if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equal(s, kv.first); }))
      continue;
    ev.charge(static_cast<int64_t>(seen.size()), line);
    seen.push_back(kv.first);
    out.push_back(kv.second);
  }
  return ev.make_list(std::move(out), line);
}

Value extreme(Evaluator& ev, const Value& x, CallArgs& a, int line, bool want_max) {
  const auto p = bind_args(ev, a, want_max ? "max" : "min", {"case_sensitive", "attribute"}, line);
  const auto items = keyed(ev, x, p[0], p[1], line);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  for (size_t i = 1; i < items.size(); ++i)
    if (want_max ? less(items[best].first, items[i].first)
                 : less(items[i].first, items[best].first))
      best = i;
  return items[best].second;
}

Value f_min(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  return extreme(ev, x, a, line, false);
}
Value f_max(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  return extreme(ev, x, a, line, true);
}

Value f_sum(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  const auto p = bind_args(ev, a, "sum", {"attribute", "start"}, line);
  Value total = p[1] ? *p[1] : Value::integer(0);
  for (Value item : ev.iterate(x, line)) {
    if (p[0] && !p[0]->is_none()) item = get_attribute_path(ev, item, *p[0], nullptr, line);
    if (!total.is_number() || !item.is_number())
      ev.error(line, std::string("unsupported operand type(s) for +: '") + type_name(total) +
                         "' and '" + type_name(item) + "'");
    int64_t r = 0;
    if (total.is_int() && item.is_int()) {
      if (__builtin_add_overflow(total.as_int(), item.as_int(), &r))
        ev.error(line, "integer overflow");
      total = Value::integer(r);
    } else {
      total = Value::number(total.as_double() + item.as_double());
    }
  }
  return total;
}

// dictsort(case_sensitive=False, by='key', reverse=False): the (key, value) pairs, sorted.
Value f_dictsort(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  const auto p = bind_args(ev, a, "dictsort", {"case_sensitive", "by", "reverse"}, line);
  if (x.kind() != Kind::Dict) ev.error(line, "dictsort needs a dict");
  const bool cs = p[0] && truthy(*p[0]);
  const std::string by = p[1] ? to_str(*p[1]) : "key";
  if (by != "key" && by != "value")
    ev.error(line, "dictsort: You can only sort by either 'key' or 'value'");
  const bool rev = p[2] && truthy(*p[2]);
  std::vector<std::pair<Value, Value>> items;  // (sort key, (k, v) tuple)
  for (const auto& kv : x.dict().items)
    items.emplace_back(fold(by == "key" ? kv.first : kv.second, cs),
                       ev.make_list({kv.first, kv.second}, line, true));
  std::stable_sort(items.begin(), items.end(), [rev](const auto& l, const auto& r) {
    return rev ? less(r.first, l.first) : less(l.first, r.first);
  });
  std::vector<Value> out;
  for (auto& kv : items) out.push_back(std::move(kv.second));
  return ev.make_list(std::move(out), line);
}

// attr(name): the attribute only, never the item (a dict's keys are not attributes).
Value f_attr(Evaluator& ev, const Value& x, CallArgs& a, int line) {
  const auto p = bind_args(ev, a, "attr", {"name"}, line);
  if (!p[0] || !p[0]->is_string()) ev.error(line, "attr needs an attribute name");
  if (x.is_undefined()) ev.error(line, x.undefined_hint());
  if (x.kind() == Kind::Namespace) {
    if (const Value* v = x.ns().find(p[0]->str())) return *v;
  } else if (auto m = find_method(x, p[0]->str())) {
    return *m;
  }
  return Value::undefined(std::string("'") + type_name(x) + " object' has no attribute '" +
                          p[0]->str() + "'");
}

}  // namespace

FilterFn find_sequence_filter(std::string_view name) {
  static const std::pair<std::string_view, FilterFn> kFilters[] = {
      {"map", lazy_filter<f_map>},
      {"select", lazy_filter<f_select>},
      {"reject", lazy_filter<f_reject>},
      {"selectattr", lazy_filter<f_selectattr>},
      {"rejectattr", lazy_filter<f_rejectattr>},
      {"unique", lazy_filter<f_unique>},
      {"sort", f_sort},
      {"min", f_min},
      {"max", f_max},
      {"sum", f_sum},
      {"attr", f_attr},
      {"dictsort", f_dictsort},
  };
  for (const auto& f : kFilters)
    if (f.first == name) return f.second;
  return nullptr;
}

}  // namespace lc::jinja
