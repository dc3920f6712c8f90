#include "formats/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "ops/quant/validate.h"

namespace lc {

namespace {

// Bounds: sizes beyond these are corrupt, not large (llama.cpp's GGML_MAX_DIMS is 4).
constexpr uint32_t kMaxDims = 4;
constexpr int64_t kMaxElements = int64_t{1} << 48;
constexpr uint64_t kMaxAlignment = uint64_t{1} << 20;

class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const std::string& name)
      : p_(data), size_(size), name_(name) {}
  size_t pos() const { return pos_; }
  size_t left() const { return size_ - pos_; }
  void need(size_t n, const std::string& what) const {
    if (n > left())
      fail(name_, ": GGUF truncated: ", what, " at byte ", pos_, " needs ", n, " bytes, ", left(),
           " left");
  }
  template <typename T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string string(const std::string& what) {
    const uint64_t n = read<uint64_t>(what + " length");
    if (n > left())
      fail(name_, ": GGUF ", what, " at byte ", pos_ - 8, " has length ", n,
           ", running past the end of the file (", left(), " bytes left)");
    std::string s(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }

 private:
  const uint8_t* p_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& name_;
};

size_t scalar_size(uint32_t t) {
  switch (t) {
    case kGgufU8:
    case kGgufI8:
    case kGgufBool:
      return 1;
    case kGgufU16:
    case kGgufI16:
      return 2;
    case kGgufU32:
    case kGgufI32:
    case kGgufF32:
      return 4;
    case kGgufU64:
    case kGgufI64:
    case kGgufF64:
      return 8;
    default:
      return 0;
  }
}

// Reads one scalar of type t as an integer or float into v (i / f).
void read_scalar(Reader& r, uint32_t t, const std::string& what, int64_t* i, double* f,
                 bool* is_float) {
  *is_float = false;
  switch (t) {
    case kGgufU8:
      *i = r.read<uint8_t>(what);
      break;
    case kGgufI8:
      *i = r.read<int8_t>(what);
      break;
    case kGgufU16:
      *i = r.read<uint16_t>(what);
      break;
    case kGgufI16:
      *i = r.read<int16_t>(what);
      break;
    case kGgufU32:
      *i = r.read<uint32_t>(what);
      break;
    case kGgufI32:
      *i = r.read<int32_t>(what);
      break;
    case kGgufBool:
      *i = r.read<uint8_t>(what) != 0;
      break;
    case kGgufI64:
      *i = r.read<int64_t>(what);
      break;
    case kGgufU64: {
      const uint64_t u = r.read<uint64_t>(what);
      // Values above INT64_MAX saturate; every key read as an integer has a range check.
      *i = u > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(u);
      break;
    }
    case kGgufF32:
      *f = r.read<float>(what);
      *is_float = true;
      break;
    case kGgufF64:
      *f = r.read<double>(what);
      *is_float = true;
      break;
    default:
      break;
  }
}

GgufValue read_value(Reader& r, uint32_t type, const std::string& key, const std::string& name) {
  GgufValue v;
  v.type = type;
  if (type == kGgufString) {
    v.str = r.string("value of '" + key + "'");
  } else if (type == kGgufArray) {
    v.elem_type = r.read<uint32_t>("array type of '" + key + "'");
    const uint64_t n = r.read<uint64_t>("array length of '" + key + "'");
    if (v.elem_type == kGgufArray)
      fail(name, ": GGUF key '", key, "' is an array of arrays, which is not supported");
    const size_t each = v.elem_type == kGgufString ? 8 : scalar_size(v.elem_type);
    if (each == 0)
      fail(name, ": GGUF key '", key, "' is an array of unknown value type ", v.elem_type);
    // Every element takes at least `each` bytes: a count the file cannot hold is rejected here,
    // before any allocation.
    if (n > r.left() / each)
      fail(name, ": GGUF key '", key, "' claims ", n, " array elements of ", each,
           "+ bytes, but only ", r.left(), " bytes remain");
    if (v.elem_type == kGgufString) {
      v.strs.reserve(static_cast<size_t>(n));
      for (uint64_t j = 0; j < n; ++j) v.strs.push_back(r.string("element of '" + key + "'"));
    } else {
      const bool fl = v.elem_type == kGgufF32 || v.elem_type == kGgufF64;
      if (fl)
        v.floats.reserve(static_cast<size_t>(n));
      else
        v.ints.reserve(static_cast<size_t>(n));
      for (uint64_t j = 0; j < n; ++j) {
        int64_t i = 0;
        double f = 0;
        bool is_float;
        read_scalar(r, v.elem_type, "element of '" + key + "'", &i, &f, &is_float);
        if (is_float)
          v.floats.push_back(f);
        else
          v.ints.push_back(i);
      }
    }
  } else {
    if (scalar_size(type) == 0) fail(name, ": GGUF key '", key, "' has unknown value type ", type);
    bool is_float;
    read_scalar(r, type, "value of '" + key + "'", &v.i, &v.f, &is_float);
  }
  return v;
}

// ggml type id <-> DType, in DType order.
constexpr uint32_t kGgmlOfDType[kDTypeCount] = {
    kGgmlF32,  kGgmlBF16, kGgmlF16,  kGgmlQ8_0, kGgmlQ4_0, kGgmlQ4_1,   kGgmlQ5_0,  kGgmlQ5_1,
    kGgmlQ2_K, kGgmlQ3_K, kGgmlQ4_K, kGgmlQ5_K, kGgmlQ6_K, kGgmlIQ4_NL, kGgmlIQ4_XS};

bool dtype_of(uint32_t ggml_type, DType* t) {
  for (int i = 0; i < kDTypeCount; ++i)
    if (kGgmlOfDType[i] == ggml_type) {
      *t = static_cast<DType>(i);
      return true;
    }
  return false;
}

std::string supported_types() {
  std::string out;
  for (int i = 0; i < kDTypeCount; ++i)
    out += std::string(i ? ", " : "") + ggml_type_name(kGgmlOfDType[i]);
  return out;
}

}  // namespace

const char* gguf_value_type_name(uint32_t t) {
  static const char* names[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                "bool", "string", "array", "u64", "i64", "f64"};
  return t < 13 ? names[t] : "unknown";
}

const char* ggml_type_name(uint32_t t) {
  static const char* names[] = {"F32",   "F16",   "Q4_0",    "Q4_1",   "Q4_2",    "Q4_3",  "Q5_0",
                                "Q5_1",  "Q8_0",  "Q8_1",    "Q2_K",   "Q3_K",    "Q4_K",  "Q5_K",
                                "Q6_K",  "Q8_K",  "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL",
                                "IQ3_S", "IQ2_S", "IQ4_XS",  "I8",     "I16",     "I32",   "I64",
                                "F64",   "IQ1_M", "BF16"};
  return t < sizeof(names) / sizeof(names[0]) ? names[t] : "unknown";
}

uint32_t ggml_type_of(DType t) { return kGgmlOfDType[static_cast<size_t>(t)]; }

bool GgufValue::is_int() const { return type != kGgufString && type != kGgufArray && !is_float(); }
bool GgufValue::is_float() const { return type == kGgufF32 || type == kGgufF64; }

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = kv.find(key);
  return it == kv.end() ? nullptr : &it->second;
}

int64_t GgufFile::get_int(const std::string& key, int64_t lo, int64_t hi) const {
  if (!find(key)) fail(path, ": GGUF metadata key '", key, "' is missing");
  return get_int(key, lo, hi, 0);
}

int64_t GgufFile::get_int(const std::string& key, int64_t lo, int64_t hi, int64_t def) const {
  const GgufValue* v = find(key);
  if (!v) return def;
  if (!v->is_int())
    fail(path, ": GGUF key '", key, "' has type ", gguf_value_type_name(v->type),
         ", expected an integer");
  if (v->i < lo || v->i > hi)
    fail(path, ": GGUF key '", key, "' = ", v->i, " is out of range [", lo, ", ", hi, "]");
  return v->i;
}

double GgufFile::get_float(const std::string& key, double def) const {
  const GgufValue* v = find(key);
  if (!v) return def;
  if (v->is_float()) return v->f;
  if (v->is_int()) return static_cast<double>(v->i);
  fail(path, ": GGUF key '", key, "' has type ", gguf_value_type_name(v->type),
       ", expected a number");
}

std::string GgufFile::get_string(const std::string& key) const {
  if (!find(key)) fail(path, ": GGUF metadata key '", key, "' is missing");
  return get_string(key, "");
}

std::string GgufFile::get_string(const std::string& key, const std::string& def) const {
  const GgufValue* v = find(key);
  if (!v) return def;
  if (v->type != kGgufString)
    fail(path, ": GGUF key '", key, "' has type ", gguf_value_type_name(v->type),
         ", expected a string");
  return v->str;
}

bool GgufFile::get_bool(const std::string& key, bool def) const {
  const GgufValue* v = find(key);
  if (!v) return def;
  if (v->type != kGgufBool)
    fail(path, ": GGUF key '", key, "' has type ", gguf_value_type_name(v->type),
         ", expected bool");
  return v->i != 0;
}

bool is_gguf(const uint8_t* data, size_t size) {
  return size >= 4 && std::memcmp(data, "GGUF", 4) == 0;
}

GgufFile parse_gguf(const uint8_t* data, size_t size, const std::string& name) {
  GgufFile g;
  g.path = name;
  Reader r(data, size, name);
  if (!is_gguf(data, size)) fail(name, ": not a GGUF file (expected magic 'GGUF')");
  r.read<uint32_t>("magic");
  g.version = r.read<uint32_t>("version");
  if (g.version != 2 && g.version != 3)
    fail(name, ": GGUF version ", g.version, " is not supported (expected 2 or 3)");
  const uint64_t n_tensors = r.read<uint64_t>("tensor count");
  const uint64_t n_kv = r.read<uint64_t>("metadata count");
  // Minimum sizes: a key/value is >= 8 (key length) + 4 (type) + 1 bytes; a tensor info is
  // >= 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset) bytes.
  if (n_kv > r.left() / 13)
    fail(name, ": GGUF header claims ", n_kv, " metadata entries, more than the ", r.left(),
         " remaining bytes can hold");
  if (n_tensors > r.left() / 24)
    fail(name, ": GGUF header claims ", n_tensors, " tensors, more than the ", r.left(),
         " remaining bytes can hold");
  g.keys.reserve(static_cast<size_t>(n_kv));
  for (uint64_t j = 0; j < n_kv; ++j) {
    std::string key = r.string("metadata key " + std::to_string(j));
    const uint32_t type = r.read<uint32_t>("value type of '" + key + "'");
    GgufValue v = read_value(r, type, key, name);
    if (g.kv.count(key)) fail(name, ": GGUF metadata key '", key, "' appears twice");
    g.keys.push_back(key);
    g.kv.emplace(std::move(key), std::move(v));
  }
  if (const GgufValue* a = g.find("general.alignment")) {
    if (a->type != kGgufU32)
      fail(name, ": GGUF key 'general.alignment' has type ", gguf_value_type_name(a->type),
           ", expected u32");
    const uint64_t al = static_cast<uint64_t>(a->i);
    if (al == 0 || (al & (al - 1)) != 0 || al > kMaxAlignment)
      fail(name, ": GGUF general.alignment = ", al, ", expected a power of two <= ", kMaxAlignment);
    g.alignment = al;
  }

  g.tensors.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t j = 0; j < n_tensors; ++j) {
    GgufTensorInfo t;
    t.name = r.string("tensor name " + std::to_string(j));
    const std::string what = "tensor '" + t.name + "'";
    const uint32_t n_dims = r.read<uint32_t>(what + " n_dims");
    if (n_dims == 0 || n_dims > kMaxDims)
      fail(name, ": GGUF ", what, " has ", n_dims, " dimensions, expected 1..", kMaxDims);
    int64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim = r.read<uint64_t>(what + " dims");
      if (dim == 0 || dim > static_cast<uint64_t>(kMaxElements) ||
          numel > kMaxElements / static_cast<int64_t>(dim))
        fail(name, ": GGUF ", what, " dimension ", d, " = ", dim,
             " is zero or makes the tensor absurdly large");
      t.dims.push_back(static_cast<int64_t>(dim));
      numel *= static_cast<int64_t>(dim);
    }
    t.ggml_type = r.read<uint32_t>(what + " type");
    if (!dtype_of(t.ggml_type, &t.dtype))
      fail(name, ": GGUF ", what, " has ggml type ", t.ggml_type, " (", ggml_type_name(t.ggml_type),
           "), which is not supported (", supported_types(), ")");
    if (t.dims[0] % dtype_block(t.dtype) != 0)
      fail(name, ": GGUF ", what, " is ", ggml_type_name(t.ggml_type), " but its row length ",
           t.dims[0], " is not a multiple of its block size ", dtype_block(t.dtype));
    t.bytes = dtype_bytes(t.dtype, numel);
    t.offset = r.read<uint64_t>(what + " offset");
    g.tensors.push_back(std::move(t));
  }
  const uint64_t data_start = (r.pos() + g.alignment - 1) / g.alignment * g.alignment;
  if (n_tensors > 0 && data_start > size)
    fail(name, ": GGUF data section would start at byte ", data_start, ", past the end (", size,
         " bytes)");
  g.data_offset = data_start;
  const uint64_t data_bytes = size > data_start ? size - data_start : 0;

  // Each tensor lies inside the data section, at an aligned offset, and none overlap.
  std::vector<size_t> order(g.tensors.size());
  for (size_t j = 0; j < order.size(); ++j) order[j] = j;
  for (auto& t : g.tensors) {
    if (t.offset % g.alignment != 0)
      fail(name, ": GGUF tensor '", t.name, "' offset ", t.offset, " is not a multiple of the ",
           "alignment ", g.alignment);
    if (t.offset > data_bytes || static_cast<uint64_t>(t.bytes) > data_bytes - t.offset)
      fail(name, ": GGUF tensor '", t.name, "' (", t.bytes, " bytes at data offset ", t.offset,
           ") runs past the end of the file (data section is ", data_bytes, " bytes)");
    t.data = data + data_start + t.offset;
    if ((t.dtype == DType::F32 && reinterpret_cast<uintptr_t>(t.data) % 4 != 0) ||
        ((t.dtype == DType::F16 || t.dtype == DType::BF16) &&
         reinterpret_cast<uintptr_t>(t.data) % 2 != 0))
      fail(name, ": GGUF tensor '", t.name, "' data is misaligned for its type");
    if (dtype_quantized(t.dtype)) {
      const int64_t bad =
          ops::quant::first_bad_scale(t.dtype, t.data, t.bytes / dtype_block_bytes(t.dtype));
      if (bad >= 0)
        fail(name, ": GGUF tensor '", t.name, "' block ", bad, " has a NaN or infinite scale (",
             ggml_type_name(t.ggml_type), " scales must be finite)");
    }
  }
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return g.tensors[a].offset < g.tensors[b].offset; });
  for (size_t j = 1; j < order.size(); ++j) {
    const GgufTensorInfo& a = g.tensors[order[j - 1]];
    const GgufTensorInfo& b = g.tensors[order[j]];
    if (a.offset + static_cast<uint64_t>(a.bytes) > b.offset)
      fail(name, ": GGUF tensors '", a.name, "' and '", b.name, "' overlap");
  }
  // Duplicate names would make lookups ambiguous.
  std::map<std::string, int> seen;
  for (const auto& t : g.tensors)
    if (seen[t.name]++) fail(name, ": GGUF tensor '", t.name, "' appears twice");
  return g;
}

}  // namespace lc
