// GGUF (ggml's single-file format, versions 2 and 3; see ../shared/specs/formats.md and
// ggml/docs/gguf.md): little-endian magic "GGUF", uint32 version, uint64 tensor count, uint64
// metadata count, the metadata key/values, the tensor infos (name, n_dims, dims innermost first,
// ggml type, offset), padding to general.alignment (default 32), then the tensor data.
//
// parse_gguf validates every count and size against the bytes that remain before allocating
// anything, so a hostile file costs at most O(file size) memory; every error names the file and
// the key or tensor.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/mmap.h"
#include "formats/model_file.h"

namespace lc {

// Metadata value types (gguf.md).
enum GgufValueType : uint32_t {
  kGgufU8 = 0,
  kGgufI8 = 1,
  kGgufU16 = 2,
  kGgufI16 = 3,
  kGgufU32 = 4,
  kGgufI32 = 5,
  kGgufF32 = 6,
  kGgufBool = 7,
  kGgufString = 8,
  kGgufArray = 9,
  kGgufU64 = 10,
  kGgufI64 = 11,
  kGgufF64 = 12,
};
// ggml tensor type ids (ggml.h's enum ggml_type) of the types this engine reads; others are
// rejected by name.
enum GgmlType : uint32_t {
  kGgmlF32 = 0,
  kGgmlF16 = 1,
  kGgmlQ4_0 = 2,
  kGgmlQ4_1 = 3,
  kGgmlQ5_0 = 6,
  kGgmlQ5_1 = 7,
  kGgmlQ8_0 = 8,
  kGgmlQ2_K = 10,
  kGgmlQ3_K = 11,
  kGgmlQ4_K = 12,
  kGgmlQ5_K = 13,
  kGgmlQ6_K = 14,
  kGgmlIQ4_NL = 20,
  kGgmlIQ4_XS = 23,
  kGgmlBF16 = 30,
};

// general.quantization_version of the block layouts this engine reads and writes (ggml's
// GGML_QNT_VERSION).
constexpr uint32_t kGgmlQuantizationVersion = 2;

const char* gguf_value_type_name(uint32_t t);
const char* ggml_type_name(uint32_t t);
uint32_t ggml_type_of(DType t);

struct GgufValue {
  uint32_t type = kGgufU8;
  uint32_t elem_type = kGgufU8;  // arrays only
  // Scalars: integers (incl. bool) in `i` (u64 values above INT64_MAX are rejected where read),
  // floats in `f`, strings in `str`. Arrays: strings in `strs`, integers in `ints`, floats in
  // `floats`; exactly one of them is filled, by elem_type.
  int64_t i = 0;
  double f = 0.0;
  std::string str;
  std::vector<std::string> strs;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  bool is_int() const;    // any integer type or bool
  bool is_float() const;  // f32 / f64
  size_t array_size() const { return strs.size() + ints.size() + floats.size(); }
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> dims;  // innermost first, as stored
  uint32_t ggml_type = 0;
  DType dtype = DType::F32;
  uint64_t offset = 0;  // relative to the data section
  int64_t bytes = 0;
  const uint8_t* data = nullptr;
};

struct GgufFile {
  std::string path;
  uint32_t version = 0;
  uint64_t alignment = 32;
  uint64_t data_offset = 0;       // start of the tensor data section in the file
  std::vector<std::string> keys;  // metadata keys in file order
  std::map<std::string, GgufValue> kv;
  std::vector<GgufTensorInfo> tensors;

  const GgufValue* find(const std::string& key) const;
  // Typed lookups: a missing key gives `def` (or throws when required); a key of the wrong
  // type always throws, naming the file, key, expected and actual type.
  int64_t get_int(const std::string& key, int64_t lo, int64_t hi) const;  // required
  int64_t get_int(const std::string& key, int64_t lo, int64_t hi, int64_t def) const;
  double get_float(const std::string& key, double def) const;
  std::string get_string(const std::string& key) const;  // required
  std::string get_string(const std::string& key, const std::string& def) const;
  bool get_bool(const std::string& key, bool def) const;
};

bool is_gguf(const uint8_t* data, size_t size);
// Parses and validates a whole GGUF image in memory (which must outlive the result: tensor data
// pointers point into it). `name` is used in errors.
GgufFile parse_gguf(const uint8_t* data, size_t size, const std::string& name);

// The query scale llama.cpp gives a gemma3 GGUF, which stores none: logits / sqrt(s) with s =
// head_dim, or d_model / n_heads (integer division) for the 62-layer 27B model (gemma_pytorch's
// config, llama.cpp's src/models/gemma3.cpp). The reader sets query_pre_attn_scalar to it; the
// writer folds a model's other value into attn_q_norm.
double gemma3_gguf_query_scalar(const ModelConfig& c);

// A GGUF model as a ModelFile: general.architecture llama (also mistral, which GGUF stores the
// same way), tensors used in place in any DType (1-D tensors converted to owned f32).
std::unique_ptr<ModelFile> load_gguf(MappedFile file);
std::unique_ptr<ModelFile> load_gguf_from_memory(const uint8_t* data, size_t size,
                                                 const std::string& name);

}  // namespace lc
