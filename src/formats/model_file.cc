#include "formats/model_file.h"

#include <cstring>
#include <sstream>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats/hf.h"
#include "formats/llama2c.h"
#include "ops/quant/dequant.h"
#include "ops/reference.h"

namespace lc {

const char* arch_name(Arch a) {
  switch (a) {
    case Arch::Llama:
      return "llama";
    case Arch::Mpt:
      return "mpt";
    case Arch::Based:
      return "based";
  }
  return "?";
}

namespace {
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

void ModelFile::convert_matrices(DType to) {
  // Q8_0 needs whole blocks per row; matrices whose rows are not a multiple of 32 stay f32 (as
  // llama.cpp's quantizer falls back for such tensors).
  auto target = [&](const TensorRef& t) {
    if (t.shape.size() != 2) return DType::F32;
    if (to == DType::Q8_0 && t.shape[1] % kQ8Block != 0) return DType::F32;
    return to;
  };
  bool any = false;
  for (const auto& t : tensors) any = any || (t.shape.size() == 2 && t.dtype != target(t));
  if (!any) return;
  // Every tensor moves to owned memory (matrices converted, vectors copied as f32) so that the
  // file mapping can be released: otherwise the source pages read during conversion would stay
  // resident beside the converted copy.
  std::vector<float> row;
  for (auto& t : tensors) {
    const DType dst = target(t);
    const int64_t n = t.numel();
    const int64_t cols = t.shape.empty() ? 1 : t.shape.back();
    const int64_t rows = cols > 0 ? n / cols : 0;
    AlignedBuffer<uint8_t> buf(static_cast<size_t>(dtype_bytes(dst, n)));
    row.resize(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      const void* src = static_cast<const uint8_t*>(t.data) + dtype_bytes(t.dtype, r * cols);
      ops::quant::dequantize_row(t.dtype, src, row.data(), cols);
      uint8_t* out = buf.data() + dtype_bytes(dst, r * cols);
      for (int64_t c = 0; c < cols && dst != DType::Q8_0; ++c) {
        if (dst == DType::F32)
          std::memcpy(out + 4 * c, &row[c], 4);
        else {
          const uint16_t h = dst == DType::BF16 ? f32_to_bf16(row[c]) : f32_to_f16(row[c]);
          std::memcpy(out + 2 * c, &h, 2);
        }
      }
      if (dst == DType::Q8_0) quantize_q8_0(row.data(), cols, out);
    }
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
