#include "model/registry.h"

#include "core/error.h"
#include "model/based.h"
#include "model/llama.h"

namespace lc {

namespace {

template <class M>
std::unique_ptr<Model> build(const ModelFile& f) {
  return std::make_unique<M>(f);
}

struct Entry {
  Arch arch;
  std::unique_ptr<Model> (*make)(const ModelFile&);
};

// One line per architecture.
constexpr Entry kArchitectures[] = {
    {Arch::Llama, build<LlamaModel>},   // Llama, Mistral, Qwen2 (ModelConfig switches)
    {Arch::Mpt, build<LlamaModel>},     // LayerNorm + GELU + ALiBi, the same forward
    {Arch::Gemma3, build<LlamaModel>},  // the Gemma switches, local/global layer groups
    {Arch::Based, build<BasedModel>},
};

}  // namespace

std::unique_ptr<Model> make_model(const ModelFile& file) {
  for (const Entry& e : kArchitectures)
    if (file.config.arch == e.arch) return e.make(file);
  std::string known;
  for (const Entry& e : kArchitectures)
    known += std::string(known.empty() ? "" : ", ") + arch_name(e.arch);
  fail(file.path, ": no model for architecture '", arch_name(file.config.arch), "' (known: ", known,
       ")");
}

std::vector<std::string> model_architectures() {
  std::vector<std::string> out;
  for (const Entry& e : kArchitectures) out.emplace_back(arch_name(e.arch));
  return out;
}

}  // namespace lc
