#include "formats/model_file.h"

#include <cmath>
#include <cstring>
#include <sstream>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats/hf.h"
#include "formats/llama2c.h"
#include "formats/quant_recipe.h"
#include "ops/quant/dequant.h"
#include "ops/quant/quantize.h"
#include "ops/quant/validate.h"
#include "ops/reference.h"

namespace lc {

const char* arch_name(Arch a) {
  switch (a) {
    case Arch::Llama:
      return "llama";
    case Arch::Mpt:
      return "mpt";
    case Arch::Gemma3:
      return "gemma3";
    case Arch::Based:
      return "based";
  }
  return "?";
}

int64_t ModelConfig::local_pattern() const {
  if (static_cast<int64_t>(local_layers.size()) != n_layers || n_layers == 0) return 0;
  for (int64_t period = 1; period <= n_layers + 1; ++period) {
    bool match = true;
    for (int64_t l = 0; l < n_layers && match; ++l)
      match = local_layers[static_cast<size_t>(l)] == ((l + 1) % period != 0);
    if (match) return period;
  }
  return 0;
}

namespace {
float max_abs(const std::vector<float>& v) {
  float m = 0.0f;
  for (float x : v) m = std::fmax(m, std::fabs(x));
  return m;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}
}  // namespace

const TensorRef* ModelFile::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

const TensorRef& ModelFile::get(const std::string& name, const std::vector<int64_t>& shape) const {
  const TensorRef* t = find(name);
  if (!t) fail(path, ": missing tensor '", name, "' (expected shape ", shape_str(shape), ")");
  if (t->shape != shape)
    fail(path, ": tensor '", name, "' has shape ", shape_str(t->shape), ", expected ",
         shape_str(shape));
  return *t;
}

void convert_tensor(const TensorRef& t, DType to, uint8_t* out, const std::string& file) {
  const int64_t n = t.numel();
  const int64_t cols = t.shape.empty() ? 1 : t.shape.back();
  const int64_t rows = cols > 0 ? n / cols : 0;
  if (dtype_quantized(to) && cols % dtype_block(to) != 0)
    fail(file, ": tensor '", t.name, "' rows of ", cols, " elements cannot be stored as ",
         dtype_name(to), " (blocks of ", dtype_block(to), ")");
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    const void* src = static_cast<const uint8_t*>(t.data) + dtype_bytes(t.dtype, r * cols);
    ops::quant::dequantize_row(t.dtype, src, row.data(), cols);
    uint8_t* dst = out + dtype_bytes(to, r * cols);
    if (dtype_quantized(to)) {
      for (int64_t c = 0; c < cols; ++c)
        if (!std::isfinite(row[c]))
          fail(file, ": tensor '", t.name, "' element [", r, ", ", c, "] is ", row[c],
               "; cannot quantize a non-finite weight to ", dtype_name(to));
    }
    ops::quant::quantize_row(to, row.data(), dst, cols);
    if (dtype_quantized(to)) {
      const int64_t bad = ops::quant::first_bad_scale(to, dst, cols / dtype_block(to));
      if (bad >= 0)
        fail(file, ": tensor '", t.name, "' row ", r, " block ", bad, ": the ", dtype_name(to),
             " scale overflows fp16 (weights up to ", max_abs(row), "); use f32, f16 or bf16");
    }
  }
}

void ModelFile::convert_matrices(DType to) {
  auto target = [&](const TensorRef& t) {
    return t.shape.size() != 2 ? DType::F32 : fallback_dtype(to, t.shape[1]);
  };
  bool any = false;
  for (const auto& t : tensors) any = any || (t.shape.size() == 2 && t.dtype != target(t));
  if (!any) return;
  // Every tensor moves to owned memory (matrices converted, vectors copied as f32) so that the
  // file mapping can be released: otherwise the source pages read during conversion would stay
  // resident beside the converted copy.
  for (auto& t : tensors) {
    const DType dst = target(t);
    const int64_t n = t.numel();
    AlignedBuffer<uint8_t> buf(static_cast<size_t>(dtype_bytes(dst, n)));
    convert_tensor(t, dst, buf.data(), path);
    // Drop the source pages as we go, so peak memory stays near the converted size.
    for (const auto& m : mappings)
      m.drop_pages(t.data, static_cast<size_t>(dtype_bytes(t.dtype, n)));
    t.dtype = dst;
    t.data = buf.data();
    owned.push_back(std::move(buf));
  }
  mappings.clear();
}

size_t ModelFile::weight_bytes() const {
  size_t b = 0;
  for (const auto& t : tensors) b += static_cast<size_t>(dtype_bytes(t.dtype, t.numel()));
  return b;
}

std::unique_ptr<ModelFile> load_model_file(const std::string& path) {
  if (is_directory(path)) return load_hf_dir(path);
  MappedFile file(path);
  if (is_gguf(file.data(), file.size())) return load_gguf(std::move(file));
  return load_llama2c(std::move(file));
}

}  // namespace lc
