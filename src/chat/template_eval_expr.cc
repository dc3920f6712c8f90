// Expressions: Python's operator semantics (int/float arithmetic, floor division and modulo
// rounding toward -inf, sequence concatenation and repetition, chained comparisons) and
// jinja2's attribute and item lookup (obj.x tries the attribute then the item, obj[x] the other
// way round; a missing one is undefined, and only using an undefined errors).
#include <cmath>
#include <limits>

#include "chat/template_builtins.h"
#include "chat/template_eval.h"
#include "core/error.h"

namespace lc::jinja {
namespace {

// Python's float floor division and modulo (Objects/floatobject.c, float_divmod).
void float_divmod(double vx, double wx, double& floordiv, double& mod) {
  mod = std::fmod(vx, wx);
  double div = (vx - mod) / wx;
  if (mod != 0.0) {
    if ((wx < 0) != (mod < 0)) {
      mod += wx;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, wx);
  }
  if (div != 0.0) {
    floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
  } else {
    floordiv = std::copysign(0.0, vx / wx);
  }
}

std::string unsupported_operands(const std::string& op, const Value& a, const Value& b) {
  return "unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" + type_name(b) +
         "'";
}

}  // namespace

Value Evaluator::eval(const Expr& e, Scope& scope) {
  DepthGuard guard(*this, e.line);
  charge(1, e.line);
  try {
    return eval_node(e, scope);
  } catch (const ValueError& err) {
    error(e.line, err.what());
  }
}

void Evaluator::eval_args(const Expr& e, size_t first, Scope& scope, CallArgs& out) {
  for (size_t i = first; i < e.args.size(); ++i) out.args.push_back(eval(*e.args[i], scope));
  for (const auto& kw : e.kwargs) out.kwargs.emplace_back(kw.first, eval(*kw.second, scope));
}

Value Evaluator::eval_filter(const Expr& e, Scope& scope, const Value* block_subject) {
  const Value subject = e.args[0] ? (e.args[0]->kind == ExprKind::Filter
                                         ? eval_filter(*e.args[0], scope, block_subject)
                                         : eval(*e.args[0], scope))
                                  : *block_subject;
  CallArgs args;
  eval_args(e, 1, scope, args);
  try {
    return e.filter(*this, subject, args, e.line);
  } catch (const ValueError& err) {
    error(e.line, err.what());
  }
}

Value Evaluator::eval_node(const Expr& e, Scope& scope) {
  switch (e.kind) {
    case ExprKind::Literal:
      return e.value;
    case ExprKind::Name:
      return scope.lookup(e.name);
    case ExprKind::List:
    case ExprKind::Tuple: {
      std::vector<Value> items;
      for (const auto& a : e.args) items.push_back(eval(*a, scope));
      return make_list(std::move(items), e.line, e.kind == ExprKind::Tuple);
    }
    case ExprKind::Dict: {
      std::vector<std::pair<Value, Value>> items;
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        Value k = eval(*e.args[i], scope);
        Value v = eval(*e.args[i + 1], scope);
        const Kind kk = k.kind();
        if (kk == Kind::List || kk == Kind::Dict || kk == Kind::Namespace || kk == Kind::Undefined)
          error(e.line, std::string("unhashable type: '") + type_name(k) + "'");
        bool replaced = false;
        for (auto& kv : items)
          if (equal(kv.first, k)) {
            kv.second = v;
            replaced = true;
          }
        if (!replaced) items.emplace_back(std::move(k), std::move(v));
      }
      charge(static_cast<int64_t>(items.size()), e.line);
      return Value::dict(std::move(items));
    }
    case ExprKind::GetAttr:
      return getattr(eval(*e.args[0], scope), e.name, e.line);
    case ExprKind::GetItem: {
      const Value obj = eval(*e.args[0], scope);
      return getitem(obj, eval(*e.args[1], scope), e.line);
    }
    case ExprKind::Slice:
      return slice(eval(*e.args[0], scope), e, scope);
    case ExprKind::Call: {
      const Value fn = eval(*e.args[0], scope);
      CallArgs args;
      eval_args(e, 1, scope, args);
      return call(fn, args, e.line);
    }
    case ExprKind::Filter:
      return eval_filter(e, scope, nullptr);
    case ExprKind::Test: {
      const Value subject = eval(*e.args[0], scope);
      CallArgs args;
      eval_args(e, 1, scope, args);
      return Value::boolean(e.test(*this, subject, args, e.line) != e.negated);
    }
    case ExprKind::Not:
      return Value::boolean(!truthy(eval(*e.args[0], scope)));
    case ExprKind::Neg:
    case ExprKind::Pos: {
      const Value v = eval(*e.args[0], scope);
      if (v.is_undefined()) error(e.line, v.undefined_hint());
      if (!v.is_number())
        error(e.line, std::string("bad operand type for unary ") +
                          (e.kind == ExprKind::Neg ? "-" : "+") + ": '" + type_name(v) + "'");
      if (e.kind == ExprKind::Pos) return v.is_int() ? Value::integer(v.as_int()) : v;
      if (!v.is_int()) return Value::number(-v.as_double());
      if (v.as_int() == std::numeric_limits<int64_t>::min()) error(e.line, "integer overflow");
      return Value::integer(-v.as_int());
    }
    case ExprKind::Binary: {
      const Value a = eval(*e.args[0], scope);
      return binary(e.name, a, eval(*e.args[1], scope), e.line);
    }
    case ExprKind::And: {
      Value a = eval(*e.args[0], scope);
      return truthy(a) ? eval(*e.args[1], scope) : a;
    }
    case ExprKind::Or: {
      Value a = eval(*e.args[0], scope);
      return truthy(a) ? a : eval(*e.args[1], scope);
    }
    case ExprKind::Compare: {
      Value left = eval(*e.args[0], scope);
      for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = eval(*e.args[i + 1], scope);
        if (!compare(e.ops[i], left, right, e.line)) return Value::boolean(false);
        left = std::move(right);
      }
      return Value::boolean(true);
    }
    case ExprKind::CondExpr:
      if (truthy(eval(*e.args[0], scope))) return eval(*e.args[1], scope);
      return e.args[2] ? eval(*e.args[2], scope)
                       : Value::undefined("the condition of an inline if without else was false");
  }
  return Value();
}

Value Evaluator::binary(const std::string& op, const Value& a, const Value& b, int line) {
  if (op == "~") return make_string(to_str(a) + to_str(b), line);
  if (a.is_undefined()) error(line, a.undefined_hint());
  if (b.is_undefined()) error(line, b.undefined_hint());
  const char o = op[0];
  if (a.is_number() && b.is_number()) {
    const bool ints = a.is_int() && b.is_int();
    const int64_t x = ints ? a.as_int() : 0, y = ints ? b.as_int() : 0;
    const double fx = a.as_double(), fy = b.as_double();
    int64_t r = 0;
    if (op == "**") {
      if (ints && y >= 0) {  // exponentiation by squaring, overflow checked
        int64_t acc = 1, base = x;
        for (int64_t k = y; k > 0; k >>= 1) {
          if ((k & 1) && __builtin_mul_overflow(acc, base, &acc)) error(line, "integer overflow");
          if (k > 1 && __builtin_mul_overflow(base, base, &base)) error(line, "integer overflow");
        }
        return Value::integer(acc);
      }
      if (fx == 0.0 && fy < 0) error(line, "zero to a negative power");
      return Value::number(std::pow(fx, fy));
    }
    if (o == '/' || o == '%') {
      if (fy == 0.0) error(line, op == "%" ? "modulo by zero" : "division by zero");
      if (op == "/") return Value::number(fx / fy);
      if (ints) {
        if (x == std::numeric_limits<int64_t>::min() && y == -1) {
          if (op == "%") return Value::integer(0);
          error(line, "integer overflow");
        }
        int64_t q = x / y, m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) {
          q -= 1;
          m += y;
        }
        return Value::integer(op == "%" ? m : q);
      }
      double fd = 0, fm = 0;
      float_divmod(fx, fy, fd, fm);
      return Value::number(op == "%" ? fm : fd);
    }
    if (ints) {
      const bool overflow = o == '+'   ? __builtin_add_overflow(x, y, &r)
                            : o == '-' ? __builtin_sub_overflow(x, y, &r)
                                       : __builtin_mul_overflow(x, y, &r);
      if (overflow) error(line, "integer overflow");
      return Value::integer(r);
    }
    return Value::number(o == '+' ? fx + fy : o == '-' ? fx - fy : fx * fy);
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) return make_string(a.str() + b.str(), line);
    if (a.is_sequence() && a.kind() == b.kind()) {
      std::vector<Value> items = a.items();
      items.insert(items.end(), b.items().begin(), b.items().end());
      return make_list(std::move(items), line, a.kind() == Kind::Tuple);
    }
  }
  if (op == "*" && (a.is_int() || b.is_int()) && !(a.is_number() && b.is_number())) {
    const Value& seq = a.is_int() ? b : a;
    const int64_t n = std::max<int64_t>(0, (a.is_int() ? a : b).as_int());
    if (seq.is_string()) {
      if (n > 0 && seq.str().size() > opt_.max_output_bytes / static_cast<uint64_t>(n))
        error(line, "a string longer than " + std::to_string(opt_.max_output_bytes) + " bytes");
      std::string s;
      for (int64_t k = 0; k < n; ++k) s += seq.str();
      return make_string(std::move(s), line);
    }
    if (seq.is_sequence()) {
      if (n > 0 && seq.items().size() > opt_.max_output_bytes / static_cast<uint64_t>(n))
        error(line, "a list longer than " + std::to_string(opt_.max_output_bytes) + " items");
      std::vector<Value> items;
      for (int64_t k = 0; k < n; ++k)
        items.insert(items.end(), seq.items().begin(), seq.items().end());
      return make_list(std::move(items), line, seq.kind() == Kind::Tuple);
    }
  }
  if (op == "%" && a.is_string()) return make_string(py_percent_format(a.str(), b), line);
  error(line, unsupported_operands(op, a, b));
}

bool Evaluator::compare(const std::string& op, const Value& a, const Value& b, int line) {
  if (op == "==") return equal(a, b);
  if (op == "!=") return !equal(a, b);
  if (op == "in" || op == "notin") {
    bool found = false;
    if (b.is_string()) {
      if (!a.is_string())
        error(line,
              std::string("'in <string>' requires string as left operand, not ") + type_name(a));
      found = b.str().find(a.str()) != std::string::npos;
    } else if (b.is_sequence()) {
      for (const auto& item : b.items()) found = found || equal(item, a);
    } else if (b.kind() == Kind::Dict) {
      if (a.kind() == Kind::List || a.kind() == Kind::Dict)
        error(line, std::string("unhashable type: '") + type_name(a) + "'");
      found = b.dict().find(a) != nullptr;
    } else if (b.kind() == Kind::Generator) {
      for (const auto& item : iterate(b, line)) found = found || equal(item, a);
    } else if (!b.is_undefined()) {
      error(line, std::string("argument of type '") + type_name(b) + "' is not iterable");
    }
    return found == (op == "in");
  }
  if (a.is_undefined()) error(line, a.undefined_hint());
  if (b.is_undefined()) error(line, b.undefined_hint());
  try {
    if (op == "<") return less(a, b);
    if (op == ">") return less(b, a);
    if (op == "<=") return less(a, b) || equal(a, b);
    return less(b, a) || equal(a, b);  // >=
  } catch (const ValueError&) {
    error(line, "'" + op + "' not supported between instances of '" + type_name(a) + "' and '" +
                    type_name(b) + "'");
  }
}

Value Evaluator::getattr(const Value& obj, const std::string& name, int line) {
  switch (obj.kind()) {
    case Kind::Undefined:
      error(line, obj.undefined_hint());
    case Kind::Dict:
      if (auto m = find_method(obj, name)) return *m;
      if (const Value* v = obj.dict().find(name)) return *v;
      break;
    case Kind::Namespace:
      if (const Value* v = obj.ns().find(name)) return *v;
      break;
    case Kind::String:
    case Kind::List:
    case Kind::Tuple:
      if (auto m = find_method(obj, name)) return *m;
      break;
    default:
      break;
  }
  return Value::undefined("'" + std::string(type_name(obj)) + " object' has no attribute '" + name +
                          "'");
}

Value Evaluator::getitem(const Value& obj, const Value& key, int line) {
  if (obj.is_undefined()) error(line, obj.undefined_hint());
  if (obj.kind() == Kind::Dict) {
    if (key.kind() == Kind::List || key.kind() == Kind::Dict)
      error(line, std::string("unhashable type: '") + type_name(key) + "'");
    if (const Value* v = obj.dict().find(key)) return *v;
  } else if ((obj.is_sequence() || obj.is_string()) && key.is_int()) {
    int64_t i = key.as_int();
    if (obj.is_string()) {
      const auto offs = code_point_offsets(obj.str());
      const auto n = static_cast<int64_t>(offs.size()) - 1;
      if (i < 0) i += n;
      if (i >= 0 && i < n) {
        const auto k = static_cast<size_t>(i);
        return Value::string(obj.str().substr(offs[k], offs[k + 1] - offs[k]));
      }
    } else {
      const auto n = static_cast<int64_t>(obj.items().size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return obj.items()[static_cast<size_t>(i)];
    }
    return Value::undefined(std::string("'") + type_name(obj) + " object' has no element " +
                            std::to_string(key.as_int()));
  }
  if (key.is_string()) {
    Value v = getattr(obj, key.str(), line);  // jinja2: obj[name] falls back to obj.name
    if (!v.is_undefined()) return v;
  }
  return Value::undefined("'" + std::string(type_name(obj)) + " object' has no element " +
                          to_str(key));
}

Value Evaluator::slice(const Value& obj, const Expr& e, Scope& scope) {
  if (obj.is_undefined()) error(e.line, obj.undefined_hint());
  int64_t bound[3] = {0, 0, 1};
  bool given[3] = {false, false, false};
  for (int k = 0; k < 3; ++k) {
    if (!e.args[static_cast<size_t>(k) + 1]) continue;
    const Value v = eval(*e.args[static_cast<size_t>(k) + 1], scope);
    if (v.is_none()) continue;
    if (!v.is_int())
      error(e.line, "slice indices must be integers or None or have an __index__ method");
    bound[k] = v.as_int();
    given[k] = true;
  }
  // jinja2 compiles a slice to a plain Python subscript, so these raise (no undefined).
  if (obj.kind() == Kind::Dict) error(e.line, "unhashable type: 'slice'");
  if (!obj.is_string() && !obj.is_sequence())
    error(e.line, std::string("'") + type_name(obj) + "' object is not subscriptable");
  const int64_t step = bound[2];
  if (step == 0) error(e.line, "slice step cannot be zero");
  std::vector<size_t> offs;
  int64_t n = 0;
  if (obj.is_string()) {
    offs = code_point_offsets(obj.str());
    n = static_cast<int64_t>(offs.size()) - 1;
  } else {
    n = static_cast<int64_t>(obj.items().size());
  }
  // Python's PySlice_AdjustIndices.
  auto adjust = [&](int64_t v, bool is_given, int64_t def) {
    if (!is_given) return def;
    if (v < 0) {
      v += n;
      if (v < 0) v = step < 0 ? -1 : 0;
    } else if (v >= n) {
      v = step < 0 ? n - 1 : n;
    }
    return v;
  };
  const int64_t start = adjust(bound[0], given[0], step < 0 ? n - 1 : 0);
  const int64_t stop = adjust(bound[1], given[1], step < 0 ? -1 : n);
  std::string s;
  std::vector<Value> items;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    const auto k = static_cast<size_t>(i);
    if (obj.is_string())
      s.append(obj.str(), offs[k], offs[k + 1] - offs[k]);
    else
      items.push_back(obj.items()[k]);
  }
  if (obj.is_string()) return make_string(std::move(s), e.line);
  return make_list(std::move(items), e.line, obj.kind() == Kind::Tuple);
}

}  // namespace lc::jinja
