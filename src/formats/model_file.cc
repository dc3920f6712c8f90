#include "formats/model_file.h"

#include <cstring>
#include <sstream>

#include "core/error.h"
#include "formats/llama2c.h"
#include "ops/reference.h"

namespace lc {

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
  bool any = false;
  for (const auto& t : tensors) any = any || (t.shape.size() == 2 && t.dtype != to);
  if (!any) return;
  // Every tensor moves to owned memory (matrices converted, vectors copied as f32) so that the
  // file mapping can be released: otherwise the source pages read during conversion would stay
  // resident beside the converted copy.
  for (auto& t : tensors) {
    const DType dst = t.shape.size() == 2 ? to : DType::F32;
    const int64_t n = t.numel();
    AlignedBuffer<uint8_t> buf(static_cast<size_t>(n) * dtype_size(dst));
    for (int64_t i = 0; i < n; ++i) {
      float v = ops::ref::load(t.data, t.dtype, i);
      if (dst == DType::F32) reinterpret_cast<float*>(buf.data())[i] = v;
      else if (dst == DType::BF16) reinterpret_cast<uint16_t*>(buf.data())[i] = f32_to_bf16(v);
      else reinterpret_cast<uint16_t*>(buf.data())[i] = f32_to_f16(v);
    }
    // Drop the source pages as we go, so peak memory stays near the converted size.
    for (const auto& m : mappings) m.drop_pages(t.data, static_cast<size_t>(n) * dtype_size(t.dtype));
    t.dtype = dst;
    t.data = buf.data();
    owned.push_back(std::move(buf));
  }
  mappings.clear();
}

size_t ModelFile::weight_bytes() const {
  size_t b = 0;
  for (const auto& t : tensors) b += static_cast<size_t>(t.numel()) * dtype_size(t.dtype);
  return b;
}

std::unique_ptr<ModelFile> load_model_file(const std::string& path) {
  MappedFile file(path);
  if (file.size() >= 4 && std::memcmp(file.data(), "GGUF", 4) == 0)
    fail(path, ": GGUF files are not supported yet");
  return load_llama2c(std::move(file));
}

}  // namespace lc
